"""`factory crosslingual train|evaluate|matrices|embed`: what the DVC stages of the kind run. Bad input is one
line and exit 2: a recipe of another kind, a setting or language the recipe does not have, a missing upstream
output (named with the command that writes it), the embedding analysis switched off."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from conftest import copy_recipe
from factory.cli import app

RUNNER = CliRunner()


def _run(*args: str):
    result = RUNNER.invoke(app, list(args))
    return result.exit_code, result.output.strip()


@pytest.mark.parametrize("args, message", [
    (("crosslingual", "evaluate", "recipes/tiny/toxify.yaml"),
     "error: recipes/tiny/toxify.yaml: kind toxify: these commands belong to crosslingual recipes"),
    (("grid", "train", "recipes/tiny/toxify.yaml"),
     "error: recipes/tiny/toxify.yaml: kind toxify: the grid commands belong to translate recipes"),
    (("crosslingual", "train", "recipes/tiny/crosslingual.yaml", "--setting", "sft-fr-100"),
     "error: recipes/tiny/crosslingual.yaml: train setting 'sft-fr-100' is not one the recipe trains (sft-en-100,"),
    (("crosslingual", "evaluate", "recipes/tiny/crosslingual.yaml", "--setting", "nope", "--lang", "de"),
     "error: recipes/tiny/crosslingual.yaml: setting 'nope' is not evaluated by this recipe (zero-shot, "
     "zero-shot-dpo,"),
    (("crosslingual", "evaluate", "recipes/tiny/crosslingual.yaml", "--setting", "zero-shot", "--lang", "fr"),
     "error: recipes/tiny/crosslingual.yaml: language 'fr' is not in crosslingual.data.languages"),
])
def test_wrong_piece_is_one_line_and_exit_2(args, message, tmp_path):
    code, output = _run(*args, "--root", str(tmp_path))
    assert code == 2 and output.startswith(message) and len(output.splitlines()) == 1, output


def test_missing_upstream_names_the_command_that_writes_it(tmp_path):
    root = str(tmp_path)
    code, output = _run("crosslingual", "evaluate", "recipes/tiny/crosslingual.yaml", "--setting", "sft-en-100",
                        "--lang", "de", "--root", root)
    assert code == 2 and output.endswith("split.json: missing; run `factory generate "
                                         "recipes/tiny/crosslingual.yaml` first"), output
    split = tmp_path / "crosslingual" / "crosslingual" / "split" / "split.json"
    split.parent.mkdir(parents=True)
    split.write_text('{"languages": {}}')
    code, output = _run("crosslingual", "evaluate", "recipes/tiny/crosslingual.yaml", "--setting", "sft-en-100",
                        "--lang", "de", "--root", root)
    assert code == 2 and output.endswith("cells/zero-shot/de.parquet: missing; run `factory crosslingual evaluate "
                                         "recipes/tiny/crosslingual.yaml --setting zero-shot --lang de` first"), output
    code, output = _run("crosslingual", "matrices", "recipes/tiny/crosslingual.yaml", "--root", root)
    assert code == 2 and "cells/zero-shot/en.parquet: missing" in output, output


def test_embed_refuses_when_the_analysis_is_off(tmp_path):
    path = copy_recipe("crosslingual", tmp_path)
    data = yaml.safe_load(path.read_text())
    data["crosslingual"]["embeddings"]["enabled"] = False
    path.write_text(yaml.safe_dump(data))
    code, output = _run("crosslingual", "embed", str(path), "--root", str(tmp_path / "data"))
    assert code == 2 and output.endswith("the embedding analysis is off (embeddings.enabled: false); nothing to do")
