"""Bad input ends in exit code 2 and one line naming the file, field or row - never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from factory.cli import app
from factory.core.records import Record, write_records

REPO = Path(__file__).resolve().parent.parent


def fails_cleanly(args: list[str]) -> str:
    """Run the CLI; assert exit code 2, no traceback and exactly one line of output; return that line."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def edited_recipe(tmp_path: Path, name: str, changes: dict[str, object]) -> Path:
    """recipes/tiny/<name>.yaml with `changes` applied (dotted field paths), written to tmp_path."""
    data = yaml.safe_load((REPO / "recipes" / "tiny" / f"{name}.yaml").read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        section = data
        for key in parents:
            section = section.setdefault(key, {})
        section[last] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("stage, upstream, folder", [
    ("generate", "ingest", "human"),
    ("filter", "generate", "generated"),
    ("mix", "filter", "filtered"),
    ("train", "mix", "mixed"),
    ("certify", "filter", "filtered"),
    ("export", "filter", "filtered"),
])
def test_a_stage_before_its_upstream_names_the_folder_and_the_stage_to_run(tmp_path, monkeypatch, stage, upstream,
                                                                           folder):
    monkeypatch.chdir(REPO)
    root = tmp_path / "data"
    line = fails_cleanly([stage, "toxify", "--root", root])
    assert line == f"error: {root / folder / 'toxify'}: missing; run `factory {upstream} toxify --root {root}` first"


def test_evaluate_without_trained_models_asks_for_train_before_loading_any_model(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    root = tmp_path / "data"
    CliRunner().invoke(app, ["ingest", "toxify", "--root", str(root)], catch_exceptions=False)
    line = fails_cleanly(["evaluate", "toxify", "--root", root])
    assert line == f"error: {root / 'trained' / 'toxify'}: missing; run `factory train toxify --root {root}` first"


def test_plots_of_an_unknown_recipe_is_an_error_not_an_empty_folder(tmp_path):
    line = fails_cleanly(["plots", "nope", "--root", tmp_path / "data", "--out", tmp_path / "plots"])
    assert "nothing to plot for 'nope'" in line and f"{tmp_path / 'data' / 'eval' / 'nope'}" in line
    assert not (tmp_path / "plots").exists()


def _truncated_parquet(path: Path) -> Path:
    write_records(path, [Record.make("pair", toxic=f"toxic {i}", neutral=f"neutral {i}") for i in range(50)])
    path.write_bytes(path.read_bytes()[:300])
    return path


def test_a_truncated_stage_output_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    rows = _truncated_parquet(tmp_path / "data" / "generated" / "toxify" / "rows.parquet")
    line = fails_cleanly(["filter", "toxify", "--root", tmp_path / "data"])
    assert line.startswith(f"error: {rows}: not a readable Parquet file")


def test_a_garbage_parquet_human_source_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    source = tmp_path / "pairs.parquet"
    source.write_bytes(b"PAR1 this is not parquet at all")
    recipe = edited_recipe(tmp_path, "toxify", {"human.source": str(source)})
    line = fails_cleanly(["ingest", recipe, "--root", tmp_path / "data"])
    assert line.startswith(f"error: {source}: not a readable Parquet file")


def test_a_malformed_stage_json_is_named(tmp_path):
    certificate = tmp_path / "data" / "certify" / "toxify" / "certificate.json"
    certificate.parent.mkdir(parents=True)
    certificate.write_text('{"certified": tru')
    line = fails_cleanly(["status", "toxify", "--root", tmp_path / "data"])
    assert line.startswith(f"error: {certificate}: not valid JSON")


@pytest.mark.parametrize("recipe, changes, field, reason", [
    ("toxify", {"seed": 2**64}, "seed", "less than 9223372036854775808"),
    ("toxify", {"generate.sampling.seed": 2**63}, "generate.sampling.seed", "less than"),
    ("toxify", {"generate.prompt.few_shot_seed": -1}, "generate.prompt.few_shot_seed", "greater than or equal to 0"),
    ("distill", {"distill.seed": 2**70}, "distill.seed", "less than"),
    ("toxify", {"train.epochs": float("inf")}, "train.epochs", "finite number"),
    ("toxify", {"train.learning_rate": float("nan")}, "train.learning_rate", "finite number"),
    ("toxify", {"certify.min_j_ratio": float("-inf")}, "certify.min_j_ratio", "finite number"),
    ("toxify", {"models.fluency": {"ref": "zoo:fluency", "dtype": "float8"}}, "models.fluency.dtype", "unknown dtype"),
    ("toxify", {"generate.vllm.dtype": "int4"}, "generate.vllm.dtype", "unknown dtype"),
    ("toxify", {"train.batch_size": True}, "train.batch_size", "valid integer"),
    ("toxify", {"train.max_length": "64"}, "train.max_length", "valid integer"),
    ("toxify", {"train.epochs": True}, "train.epochs", "valid number"),
    ("toxify", {"filter.exact": 1}, "filter.exact", "valid boolean"),
])
def test_check_rejects_numbers_the_stages_cannot_use(tmp_path, monkeypatch, recipe, changes, field, reason):
    monkeypatch.chdir(REPO)
    path = edited_recipe(tmp_path, recipe, changes)
    line = fails_cleanly(["check", path])
    assert line.startswith(f"{path}: {field}: ") and reason in line


def test_dtype_aliases_and_exponent_floats_are_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    from factory.recipe import load_recipe

    path = edited_recipe(tmp_path, "toxify", {"models.fluency": {"ref": "zoo:fluency", "dtype": "bf16"},
                                              "generate.vllm.dtype": "half"})
    path.write_text(path.read_text().replace("learning_rate: 0.0005", "learning_rate: 5e-4"))
    recipe = load_recipe(path)
    assert (recipe.models.fluency.dtype, recipe.generate.vllm.dtype) == ("bfloat16", "float16")
    assert recipe.train.learning_rate == 5e-4
    assert fails_cleanly(["check", edited_recipe(tmp_path, "toxify", {"seed": True})]).endswith("(got True)")


def test_a_hub_model_that_cannot_be_loaded_offline_names_its_role(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = edited_recipe(tmp_path, "toxify", {"models.toxicity": "s-nlp/no-such-model"})
    root = tmp_path / "data"
    CliRunner().invoke(app, ["ingest", str(recipe), "--root", str(root)], catch_exceptions=False)
    (root / "trained" / "toxify").mkdir(parents=True)
    (root / "trained" / "toxify" / "summary.json").write_text(json.dumps({}))
    line = fails_cleanly(["evaluate", recipe, "--root", root])
    assert line == ("error: models.toxicity: cannot load 's-nlp/no-such-model' from the Hub (offline and not in the "
                    "local cache; set HF_HUB_OFFLINE=0 or use a local folder)")


def test_a_generator_that_cannot_be_loaded_names_models_generator(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = edited_recipe(tmp_path, "toxify", {"models.generator": "s-nlp/no-such-lm"})
    root = tmp_path / "data"
    CliRunner().invoke(app, ["ingest", str(recipe), "--root", str(root)], catch_exceptions=False)
    line = fails_cleanly(["generate", recipe, "--root", root, "--limit", "2"])
    assert line.startswith("error: models.generator: cannot load 's-nlp/no-such-lm' from the Hub (offline")


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: dup\nkind: toxify\nseed: 1\ntrain:\n  epochs: 2\n  epochs: 3\n")
    line = fails_cleanly(["check", path])
    assert line == f"{path}: line 6, column 3: duplicate key 'epochs' (first on line 5); each key may appear once"


def test_duplicate_keys_in_params_yaml_are_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text("profile: tiny\nrecipes: [toxify]\nrecipes: [detoxify]\n")
    line = fails_cleanly(["status"])
    assert line == ("error: params.yaml: line 3, column 1: duplicate key 'recipes' (first on line 2); "
                    "each key may appear once")


LAUGHS = "name: laughs\nkind: toxify\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")) + "seed: *i\n"


def test_nested_aliases_are_refused_where_first_used_and_never_expanded(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and len(result.output) < 300
    assert result.output.strip() == (f"{path}: line 4, column 8: alias *a: YAML aliases are not allowed (recipes "
                                     "are plain YAML, without inheritance); write the value out")


def test_values_shown_in_messages_are_capped(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump({"name": "long", "kind": "toxify", "seed": "9" * 1000,
                                    "description": [[f"{i} {'x' * 1000}" for i in range(100)] for _ in range(2)]}))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 2 and all(len(line) < len(str(path)) + 200 for line in lines), lines


def test_docs_without_a_reference_section_is_an_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no reference here\n")
    assert "no recipe reference section" in fails_cleanly(["docs", "--readme", readme])


def test_schema_into_a_missing_folder_is_an_error(tmp_path):
    target = tmp_path / "nope" / "recipe.schema.json"
    assert fails_cleanly(["schema", "--out", target]) == f"error: {target}: no folder {target.parent}"


def test_a_negative_limit_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["ingest", "toxify", "--root", str(tmp_path / "data"), "--limit", "-1"])
    assert result.exit_code == 2 and "--limit" in result.output
    assert not (tmp_path / "data").exists()


def test_a_missing_zoo_model_names_its_role(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACTORY_ZOO", raising=False)
    recipe = REPO / "recipes" / "tiny" / "selfgen.yaml"
    line = fails_cleanly(["--zoo", tmp_path / "zoo", "generate", recipe, "--root", tmp_path / "data"])
    assert line.startswith(f"error: models.generator: zoo:causal-lm: {tmp_path / 'zoo' / 'causal-lm'} does not exist")
    assert "build the zoo with `factory zoo`" in line


def test_the_zoo_does_not_move_with_root(tmp_path, monkeypatch):
    """--root names the data folder only: the zoo stays data/models/zoo (of the working directory)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACTORY_ZOO", raising=False)
    recipe = REPO / "recipes" / "tiny" / "selfgen.yaml"
    line = fails_cleanly(["generate", recipe, "--root", tmp_path / "elsewhere"])
    assert line.startswith(f"error: models.generator: zoo:causal-lm: {tmp_path / 'data' / 'models' / 'zoo'}/")
