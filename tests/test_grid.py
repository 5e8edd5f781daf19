"""The cross-lingual grid on tiny data (train per setting, score per cell, report) and the
per-language certification gates of the translate kind."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from factory import crosslingual
from factory.kinds.translate.certification import language_stats, translate_gates
from factory.core.errors import FactoryError
from factory.evaluate import grid as grid_eval
from factory.recipe import Recipe, load_params, load_recipe
from factory.core.records import Record, read_records, write_records
from factory.train import grid as grid_train

REPO = Path(__file__).resolve().parent.parent
ENGLISH = [("you are a total idiot", "you are wrong"), ("shut up, moron", "please be quiet"),
           ("this is garbage code", "this code needs work"), ("what a stupid plan", "this plan has flaws"),
           ("the ref is blind as hell", "the referee missed calls"), ("go away, clown", "please leave"),
           ("your idea is dumb", "I disagree with your idea"), ("this movie is trash", "I did not like this movie")]


def tiny_grid_recipe() -> Recipe:
    data = load_recipe(REPO / "recipes" / "tiny" / "translate.yaml").model_dump()
    data["grid"].update(train=["en", "de"], eval=["en", "de"], max_train_rows=None, max_test_rows=3)
    data["train"].update(max_steps=2, batch_size=4, warmup_steps=0)
    data["evaluate"].update(max_new_tokens=6)
    return Recipe.model_validate(data)


def _pair(lang: str, toxic: str, neutral: str, split: str, translated: bool = False, drop: str | None = None) -> Record:
    record = Record.make("pair", lang=lang, toxic=toxic, neutral=neutral, split=split,
                         source="synthetic:translate" if translated else "human")
    record.group = record.id
    record.attributes = {"translated": translated, "toxic_lang": lang, "neutral_lang": lang if not drop else "en",
                         "pair_similarity": 0.6, "toxic_toxicity": 0.9, "neutral_toxicity": 0.1,
                         **({"toxic_similarity": 0.8, "neutral_similarity": 0.7} if translated else {})}
    return record.drop(drop) if drop else record


def build_root(root: Path) -> Path:
    """Pipeline folders of a translate recipe: English human pairs, German kept/dropped rows."""
    name = "translate"
    write_records(root / "human" / name / "train.parquet", [_pair("en", t, n, "train") for t, n in ENGLISH[:6]])
    write_records(root / "human" / name / "test.parquet", [_pair("en", t, n, "test") for t, n in ENGLISH[6:]])
    german = [_pair("de", f"Du Idiot Nummer {i}", f"Du irrst dich, Nummer {i}", "train") for i in range(6)]
    german += [_pair("de", "Halt die Klappe, Depp", "Sei bitte still", "train", translated=True),
               _pair("de", "Verpiss dich", "Geh bitte", "train", translated=True, drop="wrong_language")]
    write_records(root / "filtered" / name / "rows.parquet", german)
    test = [_pair("de", "So ein Mist, du Trottel", "Das ist schade", "test"),
            _pair("de", "Dein Code ist Müll", "Dein Code braucht Arbeit", "test", translated=True),
            _pair("de", "Blöder Film", "Der Film gefiel mir nicht", "test", drop="empty")]
    write_records(root / "generated" / name / "test.parquet", test)
    return root


def test_language_rows_select_kept_rows_by_origin(tmp_path):
    recipe, root = tiny_grid_recipe(), build_root(tmp_path)
    assert len(crosslingual.language_rows(recipe, root, "de", "train")) == 7
    human = recipe.model_copy(update={"grid": recipe.grid.model_copy(update={"train_rows": "human"})})
    assert len(crosslingual.language_rows(human, root, "de", "train")) == 6
    only = recipe.model_copy(update={"grid": recipe.grid.model_copy(update={"test_rows": "translated"})})
    assert [r.toxic for r in crosslingual.language_rows(only, root, "de", "test")] == ["Dein Code ist Müll"]
    assert len(crosslingual.language_rows(recipe, root, "en", "test")) == 2
    capped = recipe.model_copy(update={"grid": recipe.grid.model_copy(update={"max_train_rows": 3})})
    first = crosslingual.language_rows(capped, root, "de", "train")
    assert len(first) == 3 and [r.id for r in first] == [
        r.id for r in crosslingual.language_rows(capped, root, "de", "train")]


@pytest.fixture(scope="module")
def scored_grid(tmp_path_factory, zoo_dir):
    """Every setting trained and every cell scored, once for this module."""
    root = build_root(tmp_path_factory.mktemp("grid") / "data")
    (root / "models").mkdir()
    (root / "models" / "zoo").symlink_to(zoo_dir, target_is_directory=True)
    recipe = tiny_grid_recipe()
    grid_train.train_all(recipe, root=root)
    grid_eval.run_all(recipe, root=root)
    return recipe, root


def test_every_setting_trains_on_its_languages(scored_grid):
    recipe, root = scored_grid
    for setting, rows in (("en", {"en": 6}), ("de", {"de": 7})):
        info = json.loads((crosslingual.trained_dir(root, recipe, setting) / "setting.json").read_text())
        assert info["rows_per_language"] == rows and info["steps"] == 2
        assert (crosslingual.trained_dir(root, recipe, setting) / "model" / "config.json").exists()


def test_report_has_every_cell_with_multilingual_j(scored_grid):
    recipe, root = scored_grid
    report = json.loads((crosslingual.report_dir(root, recipe) / "grid.json").read_text())
    assert [(c["setting"], c["lang"]) for c in report["cells"]] == [
        ("en", "en"), ("en", "de"), ("de", "en"), ("de", "de")]
    assert "STA*SIM*ChrF" in report["definition"]
    for cell in report["cells"]:
        rows = read_records(crosslingual.cell_dir(root, recipe, cell["setting"], cell["lang"]) / "rows.parquet")
        assert cell["rows"] == len(rows) == 2
        products = [r.attributes["STA"] * r.attributes["SIM"] * r.attributes["ChrF"] for r in rows]
        assert cell["J"] == pytest.approx(float(np.mean(products)))
        assert all(0.0 <= r.attributes[k] <= 1.0 for r in rows for k in ("STA", "SIM", "ChrF", "J"))
        assert {r.lang for r in rows} == {cell["lang"]}
    with (crosslingual.report_dir(root, recipe) / "grid.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4
    assert (crosslingual.report_dir(root, recipe) / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_identity_copies_score_full_chrf_against_themselves(scored_grid):
    recipe, root = scored_grid
    cell = json.loads((crosslingual.cell_dir(root, recipe, "de", "de") / "metrics.json").read_text())
    assert cell["identity"]["SIM"] == pytest.approx(1.0, abs=1e-5)
    assert 0.0 < cell["identity"]["ChrF"] < 1.0  # the input differs from its neutral reference


def test_bad_cells_are_named(scored_grid, tmp_path):
    recipe, root = scored_grid
    with pytest.raises(FactoryError, match="no setting 'fr'"):
        grid_eval.score_cell(recipe, "fr", "de", root=root)
    with pytest.raises(FactoryError, match="no language 'es'"):
        grid_eval.score_cell(recipe, "en", "es", root=root)
    fresh = build_root(tmp_path / "data")
    with pytest.raises(FactoryError, match="not trained yet"):
        grid_eval.score_cell(recipe, "en", "de", root=fresh)
    with pytest.raises(FactoryError, match="not scored yet: en__en, en__de, de__en, de__de"):
        grid_eval.report(recipe, root=fresh)


def test_per_language_gates(tmp_path):
    recipe, root = tiny_grid_recipe(), build_root(tmp_path)
    stats = language_stats(recipe, root)
    de = stats["de"]
    assert (de["kept"], de["test_kept"], de["kept_translated"]) == (7, 2, 1)
    assert de["language_agreement"] == pytest.approx(20 / 22)  # two dropped rows have an English neutral side
    assert de["translation_similarity"] == pytest.approx(0.75)
    assert (de["toxic_rate"], de["neutral_rate"]) == (1.0, 1.0)
    gates = {g.name: g for g in translate_gates(recipe, {"kept": 7, "contamination": 0, "train_test_leakage": 0,
                                                          "near_dup_rate": 0, "refusal_rate": 0, "copy_rate": 0},
                                                {"systems": {}}, {"test": 2}, root)}
    assert "distinct2_ratio" not in gates
    assert (gates["test_rows[de]"].value, gates["test_rows[de]"].passed) == (2, False)  # the tiny recipe wants 4
    assert gates["language_agreement[de]"].passed
    assert gates["translation_similarity[de]"].value == pytest.approx(0.75)
    assert not gates["rows[es]"].passed  # a target language with no rows at all fails
    assert gates["translation_similarity[all]"].passed


def test_params_grid_repeats_the_tiny_recipe_grid():
    params = load_params(REPO / "params.yaml")
    assert params.grid is not None, "dvc.yaml's grid stages need params.yaml `grid` (recipes: [] for none)"
    for name in params.grid.recipes:
        recipe = load_recipe(REPO / "recipes" / params.profile / f"{name}.yaml")
        assert name in params.recipes and recipe.kind == "translate"
        assert (params.grid.train, params.grid.eval) == (recipe.grid.train, recipe.grid.eval)


def test_translate_leakage_is_counted_on_the_training_mixes(tmp_path):
    """A human train row near-duplicating a test row fails the gate only if it reached a mix."""
    recipe, root = tiny_grid_recipe(), build_root(tmp_path)
    report = {"kept": 7, "contamination": 0, "train_test_leakage": 1, "near_dup_rate": 0, "refusal_rate": 0,
              "copy_rate": 0}

    def leakage(mixes):
        gates = {g.name: g for g in translate_gates(recipe, report, {"systems": {}}, {"test": 2}, root, mixes)}
        return gates["train_test_leakage"]

    assert not leakage(None).passed  # without the manifest, the filter's finding counts
    left_out = leakage({"mixes": [{"leaking_human": 0}], "left_out_leaking_human": 1})
    assert (left_out.value, left_out.passed) == (0, True)
    assert "1 left out" in left_out.note
    assert not leakage({"mixes": [{"leaking_human": 1}], "left_out_leaking_human": 0}).passed
