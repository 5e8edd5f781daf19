"""Hub repo ids are checked by the Hub's own rules before anything is built: in the recipe
(`factory check`) and on the command line (`factory publish --repo-id`)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from factory.cli import app
from test_publish import RECIPE, make_release_inputs

BAD_IDS = ["../x", "a b/c", "just-a-name", "org/name/extra", "org/a--b", "org/name.git", "é/x", "org/" + "n" * 97]


@pytest.mark.parametrize("repo_id", BAD_IDS)
def test_check_rejects_a_bad_publish_repo_id_with_the_field_path(tmp_path, repo_id):
    recipe = tmp_path / "pub.yaml"
    recipe.write_text(RECIPE.replace("shard_rows: 4}", f"shard_rows: 4, repo_id: '{repo_id}'}}"))
    result = CliRunner().invoke(app, ["check", str(recipe)])
    assert result.exit_code == 2
    assert result.output.startswith(f"{recipe}: publish.repo_id: ") and repo_id in result.output


@pytest.mark.parametrize("repo_id", ["../x", "org/a--b"])
def test_publish_refuses_a_bad_repo_id_before_building_the_release(tmp_path, repo_id):
    recipe = tmp_path / "pub.yaml"
    recipe.write_text(RECIPE)
    root = tmp_path / "data"
    make_release_inputs(root, recipe)
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(root), "--repo-id", repo_id])
    assert result.exit_code == 2
    assert result.output.startswith("error: publish --repo-id: ") and repo_id in result.output
    assert not (root / "release").exists(), "nothing is built for a repo id the Hub would refuse"


def test_a_valid_repo_id_passes_check(tmp_path):
    recipe = tmp_path / "pub.yaml"
    recipe.write_text(RECIPE.replace("shard_rows: 4}", "shard_rows: 4, repo_id: detox-org/pub.release_v2}"))
    assert CliRunner().invoke(app, ["check", str(recipe)]).exit_code == 0
