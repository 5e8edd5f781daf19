"""The embedding analysis of Breaking mBad: selection, pooling, silhouette, confusion, the step on the zoo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, copy_recipe
from factory.core.errors import FactoryError
from factory.crossft import embeddings as emb
from factory.recipe import load_recipe


def _rows(lang: str, n: int) -> list[tuple[str, str]]:
    return [(f"{lang}-t{i}", f"{lang}-n{i}") for i in range(n)]


def test_selection_shrinks_as_the_reference_and_keeps_the_shrink():
    # a: 10 rows >= 2 * (3 + 2): toxic 0-2, neutral 3-5 train; toxic 6-7, neutral 8-9 test
    # b: 6 rows < 10: train = test = 6 // 4 = 1 (toxic 0, neutral 1 / toxic 2, neutral 3)
    # c: 40 rows, but the shrink persists: 1 and 1 again
    selection = emb.select_samples({"a": _rows("a", 10), "b": _rows("b", 6), "c": _rows("c", 40)}, 3, 2)
    by_part = {}
    for text, lang, split, toxic in zip(selection.texts, selection.langs, selection.splits, selection.toxic):
        by_part.setdefault(emb.category(lang, split, toxic), []).append(text)
    assert by_part["a_train_toxic"] == ["a-t0", "a-t1", "a-t2"] and by_part["a_train_neutral"] == ["a-n3", "a-n4",
                                                                                                    "a-n5"]
    assert by_part["a_test_toxic"] == ["a-t6", "a-t7"] and by_part["a_test_neutral"] == ["a-n8", "a-n9"]
    assert [by_part[f"b_{c}"] for c in ("train_toxic", "train_neutral", "test_toxic", "test_neutral")] == [
        ["b-t0"], ["b-n1"], ["b-t2"], ["b-n3"]]
    assert [by_part[f"c_{c}"] for c in ("train_toxic", "train_neutral", "test_toxic", "test_neutral")] == [
        ["c-t0"], ["c-n1"], ["c-t2"], ["c-n3"]]
    assert selection.per_language["b"] == {"rows": 6, "train_samples": 1, "test_samples": 1, "shrunk": True}
    assert selection.per_language["c"]["shrunk"] is False and selection.per_language["a"]["train_samples"] == 3


def test_selection_of_the_paper_400_rows_is_100_and_100():
    selection = emb.select_samples({"en": _rows("en", 400)}, 300, 100)
    cats = selection.categories()
    assert [cats.count(c) for c in ("en_train_toxic", "en_train_neutral", "en_test_toxic", "en_test_neutral")] == [
        100] * 4
    assert selection.texts[0] == "en-t0" and selection.texts[100] == "en-n100"
    assert selection.texts[200] == "en-t200" and selection.texts[-1] == "en-n399"


def test_selection_counts_empty_texts():
    rows = _rows("de", 8)
    rows[0] = ("  ", "x")
    selection = emb.select_samples({"de": rows}, 2, 2)
    assert selection.dropped == {"empty text": 1} and len(selection.texts) == 7


def _clusters(separated: bool):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 5))
    langs = ["en"] * 20 + ["de"] * 20 + ["es"] * 20
    if separated:
        points[20:40] += 50
        points[40:] -= 50
    return points, langs


def test_silhouette_matches_sklearn_and_separates_languages():
    from sklearn.metrics import silhouette_samples, silhouette_score

    for separated in (True, False):
        points, langs = _clusters(separated)
        result = emb.silhouette(points, langs)
        assert result["overall"] == pytest.approx(silhouette_score(points, langs))
        samples = silhouette_samples(points, langs)
        assert result["per_language"]["de"] == pytest.approx(samples[20:40].mean())
        assert list(result["per_language"]) == ["en", "de", "es"] and result["undefined"] == {}
    assert emb.silhouette(*_clusters(True))["overall"] > 0.9
    assert abs(emb.silhouette(*_clusters(False))["overall"]) < 0.1


def test_silhouette_degenerate_input_is_none_with_reasons():
    one = emb.silhouette(np.ones((4, 3)) * np.arange(4)[:, None], ["en"] * 4)
    assert one["overall"] is None and one["undefined"] == {"fewer than 2 languages": 2}
    same = emb.silhouette(np.ones((6, 3)), ["en", "en", "en", "de", "de", "de"])
    assert same["overall"] is None and same["undefined"] == {"all vectors identical": 3}
    single = emb.silhouette(np.array([[0.0], [0.1], [5.0]]), ["en", "en", "de"])
    assert single["overall"] is not None and single["per_language"]["de"] is None
    assert single["undefined"] == {"language with fewer than 2 samples": 1}
    assert emb.silhouette(np.zeros((2, 3)), ["en", "de"])["undefined"] == {"fewer samples than languages + 1": 3}
    assert emb.silhouette(np.zeros((0, 3)), [])["undefined"] == {"no samples": 1}


def test_analyse_splits_train_test_combined():
    selection = emb.select_samples({"en": _rows("en", 8), "de": _rows("de", 8)}, 2, 2)
    points = np.array([[0.0, i] if lang == "en" else [9.0, i] for i, lang in enumerate(selection.langs)])
    result = emb.analyse(points, selection)
    assert list(result) == ["train", "test", "combined"]
    assert result["train"]["samples"] == 8 and result["combined"]["samples"] == 16


def test_confusion_diagonal_and_off_diagonal():
    vectors = np.array([[1.0, 0], [2.0, 0], [0, 1.0], [0, 3.0], [1.0, 1.0], [0, 0]])
    cats = ["en_train_toxic", "en_train_toxic", "de_train_toxic", "de_train_toxic", "es_test_neutral",
            "es_test_neutral"]
    result = emb.confusion(vectors, cats)
    assert result["categories"] == ["de_train_toxic", "en_train_toxic", "es_test_neutral"]
    m = result["matrix"]
    assert m[0][0] == pytest.approx(1.0) and m[1][1] == pytest.approx(1.0) and m[0][1] == pytest.approx(0.0)
    assert m[2][1] == pytest.approx(2 ** -0.5) and m[1][2] == m[2][1]
    assert result["undefined"] == {"zero or non-finite vector": 1} and result["sizes"]["es_test_neutral"] == 2
    lonely = emb.confusion(np.zeros((2, 2)), ["a", "b"])
    assert lonely["matrix"] == [[None, None], [None, None]]
    assert lonely["undefined"] == {"zero or non-finite vector": 2, "category without a usable vector": 2}


def test_projection_is_two_dimensional_and_a_png():
    points, langs = _clusters(True)
    flat = emb.project_2d(points)
    assert flat.shape == (60, 2) and abs(flat[:20, 0].mean() - flat[20:40, 0].mean()) > 1
    assert emb.project_2d(np.ones((3, 4))).tolist() == [[0.0, 0.0]] * 3
    selection = emb.select_samples({"en": _rows("en", 4)}, 1, 1)
    png = emb.projection_png(emb.project_2d(np.eye(4)), selection, "toy")
    assert png.startswith(b"\x89PNG")


class _WordTokenizer:
    """Whitespace words to ids (1 + hash mod 40), right-padded with 0."""

    def __call__(self, texts, padding=True, truncation=True, max_length=512, return_tensors="pt"):
        ids = [[1 + sum(map(ord, word)) % 40 for word in text.split()][:max_length] for text in texts]
        width = max(len(row) for row in ids)
        return {"input_ids": torch.tensor([row + [0] * (width - len(row)) for row in ids]),
                "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids])}


def _tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=48, n_positions=32, n_embd=16, n_layer=2, n_head=2)).eval()


TEXTS = ["you are a fool", "you are kind and good", "what a day"]


def test_first_pooling_of_a_causal_lm_sees_only_the_first_token():
    model = _tiny_gpt2()
    first = emb.embed(model, _WordTokenizer(), TEXTS, "first", batch_size=3)
    mean = emb.embed(model, _WordTokenizer(), TEXTS, "mean", batch_size=3)
    assert np.allclose(first[0], first[1], atol=1e-6) and not np.allclose(first[0], first[2])
    assert not np.allclose(mean[0], mean[1], atol=1e-3)
    alone = emb.embed(model, _WordTokenizer(), TEXTS[:1], "mean", batch_size=1)
    assert np.allclose(alone[0], mean[0], atol=1e-5)  # mask-aware: the batch's padding does not move it
    assert first.dtype == np.float32 and first.shape == (3, 16)


def test_peft_wrapped_causal_lm_and_pooling_names():
    from peft import LoraConfig, get_peft_model

    wrapped = get_peft_model(_tiny_gpt2(), LoraConfig(r=2, target_modules=["c_attn"], task_type="CAUSAL_LM"))
    assert emb.embed(wrapped, _WordTokenizer(), TEXTS, "mean", batch_size=2).shape == (3, 16)
    with pytest.raises(ValueError, match="pooling 'last'"):
        emb.embed(wrapped, _WordTokenizer(), TEXTS, "last")


def test_seq2seq_uses_the_encoder_and_unmasked_mean_counts_pads():
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(0)
    config = BartConfig(vocab_size=48, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16, max_position_embeddings=32)
    model = BartForConditionalGeneration(config).eval()
    masked = emb.embed(model, _WordTokenizer(), TEXTS, "mean", batch_size=3)
    unmasked = emb.embed(model, _WordTokenizer(), TEXTS, "mean_unmasked", batch_size=3)
    assert not np.allclose(masked[0], unmasked[0], atol=1e-4)  # text 0 is padded to the longest
    assert np.allclose(masked[1], unmasked[1], atol=1e-5)  # the longest text has no pads


def _embedding_recipe(tmp_path, **embeddings):
    path = copy_recipe("crosslingual", tmp_path)
    data = yaml.safe_load(path.read_text())
    section = data["crosslingual"]
    section["data"].update(languages=["en", "de"], train_rows=6, test_rows=2, corpus=None)
    section.update(methods=["sft"], train_settings=["all"], dpo_settings=None)
    section["embeddings"] = {**section.get("embeddings", {}), **embeddings}
    path.write_text(yaml.safe_dump(data))
    return path


def test_recipe_settings_are_validated(tmp_path):
    path = _embedding_recipe(tmp_path, settings=["zero-shot", "sft-de-100", "dpo-all-100"])
    with pytest.raises(FactoryError, match=r"embeddings.settings: 'sft-de-100', 'dpo-all-100' are neither zero-shot "
                       r"nor a setting this recipe trains \(sft-all-100\)$"):
        load_recipe(path)
    recipe = load_recipe(_embedding_recipe(tmp_path, settings=None))
    assert recipe.crosslingual.embeddings.chosen(recipe.crosslingual) == ["zero-shot", "sft-all-100"]


@pytest.mark.parametrize("name", ["tiny/crosslingual", "full/crosslingual-aya-expanse-8b",
                                  "full/crosslingual-mt5-large"])
def test_trained_labels_agree_with_the_planned_runs(name):
    from factory.kinds.crosslingual.naming import planned_runs, setting_label
    from factory.recipe.crosslingual_embeddings import trained_labels

    recipe = load_recipe(REPO / "recipes" / f"{name}.yaml")
    assert trained_labels(recipe.crosslingual) == [setting_label(*run) for run in planned_runs(recipe)]


def test_default_settings_are_the_reference_models():
    recipe = load_recipe(REPO / "recipes" / "full" / "crosslingual-aya-expanse-8b.yaml")
    chosen = recipe.crosslingual.embeddings.chosen(recipe.crosslingual)
    assert chosen == ["zero-shot", "sft-all-10", "sft-all-20", "sft-all-30", "sft-all-100"]


def test_missing_upstream_names_the_stage(tmp_path):
    from factory.kinds.crosslingual.embedding_step import embed_all

    recipe = load_recipe(_embedding_recipe(tmp_path, settings=["sft-all-100"]))
    with pytest.raises(FactoryError, match=r"split.json: missing; run `factory generate .*` first"):
        embed_all(recipe, tmp_path / "data")
    split = tmp_path / "data" / "crosslingual" / recipe.name / "split" / "split.json"
    split.parent.mkdir(parents=True)
    split.write_text(json.dumps({"languages": {}}))
    with pytest.raises(FactoryError, match=r"trained/sft-all-100: missing .*; run "
                       r"`factory crosslingual train .* --setting sft-all-100` first"):
        embed_all(recipe, tmp_path / "data")


@pytest.mark.slow
def test_embed_all_on_the_zoo(tmp_path, data_root):
    from factory.kinds.crosslingual.embedding_step import embed_all, embed_setting
    from factory.stages import generate, train

    recipe = load_recipe(_embedding_recipe(tmp_path, settings=None, enabled=True, batch_size=4))
    generate.run(recipe, root=data_root)
    train.run(recipe, root=data_root)
    out = embed_all(recipe, data_root)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"] == ["zero-shot", "sft-all-100"]
    for setting in summary["settings"]:
        folder = out / setting
        assert (folder / "projection.png").read_bytes().startswith(b"\x89PNG")
        silhouette = json.loads((folder / "silhouette.json").read_text())
        # 8 shuffled rows per language, asked 300 + 100: 8 // 4 = 2 toxic and 2 neutral per split
        assert silhouette["languages"]["en"] == {"rows": 8, "train_samples": 2, "test_samples": 2, "shrunk": True}
        assert silhouette["texts"] == 16 and silhouette["pooling"] == "mean"
        assert isinstance(silhouette["splits"]["combined"]["overall"], float)
        confusion = json.loads((folder / "confusion.json").read_text())
        assert len(confusion["categories"]) == 8 and len(confusion["matrix"]) == 8
    assert summary["results"]["zero-shot"]["overall"] != summary["results"]["sft-all-100"]["overall"]
    again = embed_setting(recipe, data_root, "zero-shot")
    assert json.loads((again / "silhouette.json").read_text())["splits"] == json.loads(
        (out / "zero-shot" / "silhouette.json").read_text())["splits"]


def test_umap_without_the_extra_is_one_line(monkeypatch):
    import sys

    from factory.crossft.embeddings import project_umap

    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    with pytest.raises(FactoryError, match=r"^embeddings.projection: umap needs umap-learn .*projection: pca needs "
                       r"nothing$"):
        project_umap(np.zeros((20, 4)))


UMAP_CHECK = """
import json, sys
import numpy as np
from factory.crossft.embeddings import project_umap
rng = np.random.RandomState(0)
vectors = np.vstack([rng.randn(20, 8) + 6.0, rng.randn(20, 8) - 6.0])
points = project_umap(vectors, 42)
gap = float(np.linalg.norm(points[:20].mean(axis=0) - points[20:].mean(axis=0)))
spread = float(max(points[:20].std(axis=0).max(), points[20:].std(axis=0).max()))
json.dump({"shape": list(points.shape), "same": bool(np.array_equal(points, project_umap(vectors, 42))),
           "gap": gap, "spread": spread, "small": list(project_umap(vectors[:10], 42).shape)}, sys.stdout)
"""


@pytest.mark.slow
def test_umap_projection_is_the_references_call_and_seeded():
    """The reference's StandardScaler + UMAP(n_components=2, random_state=42): same points on a second call,
    separable groups stay apart, and fewer than 16 points still project (n_neighbors cut to len - 1). Run in a
    child process: umap's numba/llvmlite objects in this one break vLLM's in-process kernel rebinding, which a
    later test uses (the embed stage and vLLM never share a process outside the tests)."""
    import importlib.util
    import json
    import subprocess
    import sys

    if importlib.util.find_spec("umap") is None:  # not imported here (see the docstring)
        pytest.skip("umap-learn is not installed (the optional extra umap)")
    done = subprocess.run([sys.executable, "-c", UMAP_CHECK], capture_output=True, text=True, cwd=REPO, check=True)
    found = json.loads(done.stdout)
    assert found["shape"] == [40, 2] and found["same"] and found["small"] == [10, 2]
    assert found["gap"] > 3 * found["spread"]
