"""A release of every recipe kind loads with `datasets` and its card with huggingface_hub.

Each release is built from hand-made minimal stage outputs (tests/release_fixtures.py), so
the test runs in seconds; no model runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from release_fixtures import KINDS, make_outputs

REPO = Path(__file__).resolve().parent.parent


def build(kind: str, tmp_path: Path, **certificate_options) -> tuple[Path, list]:
    """(release folder, rows) of a dry-run release of the tiny `kind` recipe."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    recipe = tmp_path / f"{kind}.yaml"
    shutil.copyfile(REPO / "recipes" / "tiny" / f"{kind}.yaml", recipe)
    rows = make_outputs(kind, tmp_path / "data", recipe, **certificate_options)
    out = tmp_path / "release"
    force = [] if certificate_options.get("certified", True) else ["--force"]
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(tmp_path / "data"), "--dry-run", str(out),
                                      *force])
    assert result.exit_code == 0, result.output
    return out, rows


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_release_loads_with_datasets_and_its_card_loads(kind, tmp_path):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    out, rows = build(kind, tmp_path)
    loaded = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    kept, dropped = sum(r.kept for r in rows), sum(not r.kept for r in rows)
    expected = {"train": kept, **({"dropped": dropped} if dropped else {})}
    assert {name: split.num_rows for name, split in loaded.items()} == expected
    assert sorted(loaded["train"]["id"]) == sorted(r.id for r in rows if r.kept)
    card = DatasetCard.load(out / "README.md")
    assert [f["split"] for f in card.data.configs[0]["data_files"]] == list(expected)
    for split in expected:
        assert list((out / "data").glob(f"{split}-*.parquet"))
    assert not list((out / "data").glob("dropped-*.parquet")) or dropped


def test_attributes_are_a_typed_struct_with_the_union_of_the_keys(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import load_dataset

    out, rows = build("selfgen", tmp_path)  # dropped rows lack `toxicity_rank`
    shards = sorted((out / "data").glob("*.parquet"))
    struct = pa.struct([("index", pa.int64()), ("synthetic_side", pa.string()), ("toxicity", pa.float64()),
                        ("toxicity_rank", pa.int64())])
    assert {pq.read_schema(s).field("attributes").type for s in shards} == {struct}  # one schema in every shard
    assert "toxic" not in pq.read_schema(shards[0]).names  # a text release has no pair columns
    loaded = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    empty = next(r for r in loaded["dropped"] if r["drop_reason"] == "selfgen_empty")
    assert empty["attributes"] == {"index": 5, "synthetic_side": "neutral", "toxicity": 0.5, "toxicity_rank": None}
    assert loaded["train"][0]["attributes"]["toxicity_rank"] == 0


def test_an_attribute_key_with_mixed_value_types_is_a_string_column(tmp_path):
    import pyarrow as pa

    from factory.publish_table import release_schema, release_table
    from factory.core.records import Record

    rows = [Record.make("text", text=f"t{i}") for i in range(4)]
    for row, label in zip(rows, ["toxic", 1, None, True]):
        row.attributes = {"label": label, "flag": label is None}
    schema = release_schema(rows)
    assert schema.field("attributes").type == pa.struct([("flag", pa.bool_()), ("label", pa.string())])
    labels = [a["label"] for a in release_table(rows, schema).column("attributes").to_pylist()]
    assert labels == ["toxic", "1", None, "true"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_card_describes_every_field_and_shows_a_kept_row(kind, tmp_path):
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard

    out, rows = build(kind, tmp_path)
    text = DatasetCard.load(out / "README.md").text
    schema = pq.read_schema(next((out / "data").glob("train-*.parquet")))
    for name in schema.names:
        assert f"| `{name}` | " in text
    for key in schema.field("attributes").type:
        line = next(line for line in text.splitlines() if line.startswith(f"| `attributes.{key.name}` |"))
        assert "no description" not in line, line  # every key the stages write has a meaning
    first_kept = next(r for r in rows if r.kept)
    assert "### Example" in text and f'"id": "{first_kept.id}"' in text
    for reason in {r.drop_reason for r in rows if not r.kept}:
        assert f"| `{reason}` | " in text


@pytest.mark.parametrize(("kind", "cites"), [("toxify", "Pletenev, Sergey"), ("detoxify", "14361--14373"),
                                             ("distill", "Lu, Huimin"), ("selfgen", "Wang, Boxin"),
                                             ("translate", "Beniwal, Himanshu")])
def test_the_card_cites_the_method_and_names_its_licences(kind, cites, tmp_path):
    from huggingface_hub import DatasetCard

    out, _ = build(kind, tmp_path)
    card = DatasetCard.load(out / "README.md")
    citation = card.text.split("## Citation", 1)[1]
    assert "```bibtex" in citation and cites in citation
    assert "ParaDetox" not in citation  # the tiny recipes carry the project's seed corpus, not ParaDetox
    assert card.data.license == "apache-2.0"  # release, seed corpus and zoo models: the project's licence
    assert "source_datasets" not in card.data.to_dict()  # `seed` and `fixture` are not Hub datasets


def test_an_empty_split_is_named_on_the_card_and_left_out(tmp_path):
    from huggingface_hub import DatasetCard

    out, _ = build("distill", tmp_path)
    text = DatasetCard.load(out / "README.md").text
    assert "| `dropped` | 0 | empty: no file and no config entry" in text
    assert "no row was dropped, so there is no `dropped` split" in text
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00001.parquet"]


def test_hub_sources_licences_and_the_human_data_citation_reach_the_card(tmp_path):
    from huggingface_hub import DatasetCard

    recipe = tmp_path / "toxify.yaml"
    text = (REPO / "recipes" / "tiny" / "toxify.yaml").read_text()
    text = text.replace("  source: seed\n", "  source: s-nlp/paradetox\n")
    text = text.replace("  human_license: apache-2.0\n", "  human_license: openrail++\n")
    text = text.replace("  generator_license: apache-2.0\n", "")
    recipe.write_text(text)
    make_outputs("toxify", tmp_path / "data", recipe)
    out = tmp_path / "release"
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(tmp_path / "data"), "--dry-run", str(out)])
    assert result.exit_code == 0, result.output
    card = DatasetCard.load(out / "README.md")
    assert card.data.source_datasets == ["s-nlp/paradetox"]
    assert card.data.license == ["apache-2.0", "openrail++", "other"]
    assert "- `other`: outputs of `zoo:causal-lm` (licence not recorded in the recipe" in card.text
    assert "logacheva-etal-2022-paradetox" in card.text and "2022.acl-long.469" in card.text


def test_a_limited_run_says_so_first(tmp_path):
    from huggingface_hub import DatasetCard

    limits = {"filter": 8, "generate": 8, "ingest": None}  # as certificate.json stores them: sorted
    out, _ = build("toxify", tmp_path, limits=limits, certified=False)
    text = DatasetCard.load(out / "README.md").text
    assert "**LIMITED RUN.**" in text and "(generate --limit 8, filter --limit 8)" in text  # pipeline order
    assert text.index("LIMITED RUN") < text.index("NOT CERTIFIED") < text.index("Content warning")
    assert "\n\n> **NOT CERTIFIED." in text and "\n\n> **Content warning." in text  # separate block quotes
    whole, _ = build("detoxify", tmp_path / "whole", limits={"ingest": None, "generate": None})
    assert "LIMITED RUN" not in DatasetCard.load(whole / "README.md").text


def test_a_release_without_any_row_is_refused(tmp_path):
    from factory.core.records import write_records

    recipe = tmp_path / "distill.yaml"
    shutil.copyfile(REPO / "recipes" / "tiny" / "distill.yaml", recipe)
    make_outputs("distill", tmp_path / "data", recipe)
    rows = tmp_path / "data" / "filtered" / "distill" / "rows.parquet"
    write_records(rows, [])
    out = tmp_path / "release"
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(tmp_path / "data"), "--dry-run", str(out)])
    assert result.exit_code == 2
    assert result.output == f"error: {rows}: no rows, kept or dropped; there is nothing to release\n"
    assert not out.exists()


def test_the_card_embeds_the_reports_plots_and_the_release_still_loads(tmp_path):
    """With a current report page, the release carries the recipe's plot PNGs under images/ and the card shows
    them; `datasets` still loads only the Parquet splits."""
    from datasets import load_dataset
    from PIL import Image

    from factory.report_facts import certificate_digest

    data = tmp_path / "data"
    recipe = tmp_path / "toxify.yaml"
    shutil.copyfile(REPO / "recipes" / "tiny" / "toxify.yaml", recipe)
    rows = make_outputs("toxify", data, recipe)
    (data / "plots").mkdir(parents=True, exist_ok=True)
    for name in ("mixing", "diversity"):
        Image.new("RGB", (8, 8), "white").save(data / "plots" / f"toxify-{name}.png")
    digest = certificate_digest(data / "certify" / "toxify" / "certificate.json")
    (data / "report").mkdir(exist_ok=True)
    (data / "report" / "toxify.html").write_text(f'<meta name="factory-certificate" content="{digest}">')
    out = tmp_path / "release"
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(data), "--dry-run", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "images").iterdir()) == ["toxify-diversity.png", "toxify-mixing.png"]
    card = (out / "README.md").read_text()
    assert "![mixing](images/toxify-mixing.png)" in card and "![diversity](images/toxify-diversity.png)" in card
    assert "![loss]" not in card  # no loss curve was drawn, none is linked
    loaded = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].num_rows == sum(r.kept for r in rows)


def test_without_a_current_report_the_card_says_no_plots_were_made(tmp_path):
    out, _ = build("toxify", tmp_path)
    assert not (out / "images").exists()
    assert "No plots were made for this release" in (out / "README.md").read_text()
