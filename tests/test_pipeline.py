"""`factory pipeline` (dvc.yaml from params.yaml, the recipes and each stage's imports) and `factory check`."""

from __future__ import annotations

import textwrap
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from factory.cli import app
from factory.import_closure import code_files, package_data
from factory.pipeline import pipeline_stages, render
from factory.pipeline_inputs import KEYWORD_DATA, PATH_READERS
from factory.recipe.base import _must_exist
from factory.recipe.families import FAMILIES

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def repo_stages() -> dict[str, dict]:
    """The stages generated from the project's own params.yaml and recipes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        return {stage.name: stage.body for stage in pipeline_stages()}


def test_committed_dvc_yaml_is_what_factory_pipeline_writes(monkeypatch):
    monkeypatch.chdir(REPO)
    first, second = render(pipeline_stages()), render(pipeline_stages())
    assert first == second  # deterministic
    assert (REPO / "dvc.yaml").read_text() == first, "run: factory pipeline"


def test_every_stage_depends_on_the_code_that_decides_its_output(repo_stages):
    for name, body in repo_stages.items():
        assert {"factory/cli.py", "factory/core/errors.py", "factory/__main__.py"} <= set(body["deps"]), name
        assert body["cmd"].startswith("scripts/factory "), name
    for recipe in ("toxify", "distill"):
        assert {"factory/core/records.py", "factory/recipe/release.py", "factory/recipe/loader.py"} <= set(
            repo_stages[f"certify-{recipe}"]["deps"])
        assert "factory/models/loading.py" in repo_stages[f"train-{recipe}"]["deps"]
        assert "factory/models/loading.py" in repo_stages[f"evaluate-{recipe}"]["deps"]
    assert "factory/core/langid.py" in repo_stages["certify-translate"]["deps"]
    assert "factory/evaluate/paradetox.py" in repo_stages["evaluate-toxify"]["deps"]  # a lazy import


def test_stages_skip_code_of_other_kinds_and_commands(repo_stages):
    ingest = set(repo_stages["ingest-toxify"]["deps"])
    assert "factory/prompts_translate.py" not in ingest and "data/models/zoo" not in ingest
    assert "factory/recipe/reference.py" not in ingest and not any(d.startswith("factory/generate/") for d in ingest)
    generate = set(repo_stages["generate-toxify"]["deps"])
    assert "factory/generate/rewrite.py" in generate
    assert not generate & {"factory/prompts_translate.py", "factory/generate/translate.py",
                           "factory/generate/distill.py", "factory/engines/ray_generate.py"}
    assert "factory/prompts_translate.py" in repo_stages["generate-translate"]["deps"]
    for name, body in repo_stages.items():  # files, not folders, of the package's code
        assert all(d.endswith(".py") or d.startswith(("data/", "factory/data/")) for d in body["deps"]), name


def test_recipe_is_a_params_file_and_keywords_bring_their_package_data(repo_stages):
    assert repo_stages["ingest-toxify"]["params"] == [{"recipes/tiny/toxify.yaml": ["name", "kind", "profile",
                                                                                    "seed", "human"]}]
    assert repo_stages["grid-report-translate"]["params"] == [{"recipes/tiny/translate.yaml": [
        "name", "kind", "profile", "seed", "human", "models", "train", "evaluate", "translate", "grid"]}]
    assert repo_stages["certify-toxify"]["params"] == [{"recipes/tiny/toxify.yaml": None}]  # hashes every field
    assert repo_stages["zoo"]["params"] == ["seed", "zoo_scale"] and repo_stages["plots"]["params"] == ["recipes"]
    assert "factory/data/seed/pairs.tsv" in repo_stages["ingest-toxify"]["deps"]  # human.source: seed
    assert "factory/data/seed/toxic.txt" in repo_stages["generate-distill"]["deps"]  # distill.toxic_corpus: seed
    assert "factory/data/seed/prompts.jsonl" in repo_stages["evaluate-selfgen"]["deps"]  # lm_evaluate.prompts
    assert "factory/data/multilingual" in repo_stages["generate-translate"]["deps"]  # translate.parallel: fixture
    assert "factory/data/seed" in repo_stages["zoo"]["deps"]  # the zoo trains on the seed corpus
    assert "data/models/zoo" in repo_stages["generate-toxify"]["deps"]  # zoo:causal-lm


def test_data_deps_and_outputs_are_kept(repo_stages):
    assert repo_stages["mix-toxify"]["deps"][:3] == ["data/filtered/toxify/rows.parquet",
                                                     "data/filtered/toxify/report.json", "data/human/toxify"]
    assert repo_stages["certify-toxify"]["outs"] == [{"data/certify/toxify/certificate.json": {"cache": False}},
                                                     "data/certify/toxify/summary.json"]
    assert repo_stages["evaluate-toxify"]["plots"][0]["data/eval/toxify/mixing.csv"]["y"] == "J"
    assert repo_stages["grid-score-translate-de-en"]["outs"] == ["data/grid/translate/cells/de__en"]
    assert repo_stages["publish-toxify"]["cmd"] == ("scripts/factory publish recipes/tiny/toxify.yaml "
                                                    "--dry-run data/release/toxify --force")
    assert repo_stages["plots"]["outs"] == [{"data/plots": {"cache": False}}]


def _must_exist_marks(annotation: typing.Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(getattr(m, "func", None) is _must_exist for m in annotation.__metadata__)
    return any(_must_exist_marks(arg) for arg in typing.get_args(annotation))


def _path_fields(model: type[BaseModel], seen: set) -> set[tuple[str, str]]:
    found = set()
    for name, field in model.model_fields.items():
        if any(getattr(m, "func", None) is _must_exist for m in field.metadata) or _must_exist_marks(field.annotation):
            found.add((model.__name__, name))
        todo = [field.annotation]
        while todo:
            candidate = todo.pop()
            todo += typing.get_args(candidate)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and candidate not in seen:
                seen.add(candidate)
                found |= _path_fields(candidate, seen)
    return found


def test_every_recipe_field_that_names_a_path_has_a_reader():
    seen: set = set()
    fields = set().union(*(_path_fields(family, seen) for family in FAMILIES.values()))
    assert {("HumanData", "source"), ("ModelSpec", "ref"), ("LMEvaluate", "prompts")} <= fields
    assert fields == set(PATH_READERS), "add the field and the module that reads it to PATH_READERS"
    for (section, name), reader in PATH_READERS.items():
        assert name in (REPO / reader).read_text(), (section, name, reader)
    assert all((REPO / path).exists() for path in KEYWORD_DATA.values())


def test_a_local_human_file_is_a_dep_of_ingest_only(tmp_path, monkeypatch):
    (tmp_path / "factory").symlink_to(REPO / "factory", target_is_directory=True)
    (tmp_path / "recipes" / "tiny").mkdir(parents=True)
    (tmp_path / "mine.tsv").write_text("toxic\tneutral\nyou idiot\tyou person\n")
    text = (REPO / "recipes" / "tiny" / "toxify.yaml").read_text()
    (tmp_path / "recipes" / "tiny" / "mine.yaml").write_text(
        text.replace("name: toxify", "name: mine").replace("source: seed", "source: ./mine.tsv"))
    (tmp_path / "params.yaml").write_text("recipes: [mine]\ngrid: {recipes: [], train: [], eval: []}\n")
    monkeypatch.chdir(tmp_path)
    stages = {stage.name: stage.body for stage in pipeline_stages()}
    assert "mine.tsv" in stages["ingest-mine"]["deps"]
    assert "factory/data/seed/pairs.tsv" not in stages["ingest-mine"]["deps"]
    assert [name for name, body in stages.items() if "mine.tsv" in body["deps"]] == ["ingest-mine"]


PACKAGE = {
    "factory/__init__.py": "",
    "factory/cli.py": """\
        from factory.core import errors
        def stage_a():
            from factory.sub import a
        def _helper():
            from factory import helped
        def stage_b():
            _helper()
    """,
    "factory/core/errors.py": "",
    "factory/helped.py": "",
    "factory/sub/__init__.py": "",
    "factory/sub/a.py": """\
        from typing import TYPE_CHECKING
        import numpy
        from . import b
        if TYPE_CHECKING:
            from factory import typing_only
        def run(recipe):
            if recipe.kind in ("toxify", "detoxify"):
                from factory.sub import pairs
                return pairs
            if recipe.kind != "translate":
                from factory import not_translate
            from factory import after
    """,
    "factory/sub/b.py": "from factory.data_user import X\n",
    "factory/data_user.py": """\
        from pathlib import Path
        SEED = Path(__file__).resolve().parent / "data" / "seed"
        FOLDER = Path(__file__).parent / "data" / "multi"
        def read():
            return (SEED / "pairs.tsv").read_text(), sorted(FOLDER.iterdir())
    """,
    **{f"factory/{n}.py": "" for n in ("typing_only", "not_translate", "after")},
    "factory/sub/pairs.py": "",
    "factory/data/seed/pairs.tsv": "x",
    "factory/data/seed/other.txt": "x",
    "factory/data/multi/de.csv": "x",
}


class _Kind:
    def __init__(self, kind: str):
        self.kind = kind


def test_closure_follows_lazy_relative_and_guarded_imports(tmp_path):
    for name, text in PACKAGE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    common = {"factory/__init__.py", "factory/cli.py", "factory/core/errors.py"}
    stage_a = {"factory/sub/__init__.py", "factory/sub/a.py", "factory/sub/b.py", "factory/data_user.py"}

    def closure(entry: str, kind: str | None = None) -> set[str]:
        return set(code_files(tmp_path, [entry], shallow=["factory.cli"], recipe=_Kind(kind) if kind else None))

    assert closure("factory.cli:stage_b") == common | {"factory/helped.py"}  # a called helper's import
    everything = common | stage_a | {"factory/sub/pairs.py", "factory/not_translate.py", "factory/after.py"}
    assert closure("factory.cli:stage_a") == everything  # no recipe: every guarded import counts
    assert closure("factory.cli:stage_a", "toxify") == common | stage_a | {"factory/sub/pairs.py"}
    assert closure("factory.cli:stage_a", "translate") == common | stage_a | {"factory/after.py"}
    assert closure("factory.cli:stage_a", "distill") == everything - {"factory/sub/pairs.py"}
    assert package_data(tmp_path, ["factory/data_user.py"]) == ["factory/data/multi", "factory/data/seed/pairs.tsv"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_check_resolves_a_name_by_the_profile_of_params_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "params.yaml", "profile: full\nrecipes: [demo]\n")
    _write(tmp_path / "recipes" / "full" / "demo.yaml", "name: demo\nkind: toxify\nseed: oops\n")
    _write(tmp_path / "recipes" / "tiny" / "demo.yaml", "name: demo\nkind: toxify\n")
    result = CliRunner().invoke(app, ["check", "demo"])
    assert result.exit_code == 2
    assert result.output.strip() == "recipes/full/demo.yaml: seed: Input should be a valid integer (got 'oops')"


def test_check_rejects_a_name_that_is_not_the_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "recipes" / "tiny" / "demo.yaml", "name: other\nkind: toxify\n")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"{path}: name: 'other' differs from the file name 'demo' "
                                     "(a recipe named X is the file X.yaml)")


def test_check_without_arguments_checks_params_yaml_and_its_recipes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "params.yaml", "recipes: [demo, gone]\ngrid: {recipes: [demo2], train: [], eval: []}\n")
    _write(tmp_path / "recipes" / "tiny" / "demo.yaml", "name: demo\nkind: toxify\n")
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "params.yaml: recipes: 'gone' resolves to no recipe file (recipes/tiny/gone.yaml does not exist; profile tiny)",
        "params.yaml: grid.recipes: 'demo2' is not listed in recipes",
        "recipes/tiny/demo.yaml: ok",
    ]
    result = CliRunner().invoke(app, ["pipeline"])  # the pipeline refuses the same problems
    assert result.exit_code == 2 and "'gone' resolves to no recipe file" in result.output
    assert not (tmp_path / "dvc.yaml").exists()


def test_pipeline_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "params.yaml", "recipes: [demo]\n")
    _write(tmp_path / "recipes" / "tiny" / "demo.yaml", "name: demo\nkind: toxify\n")
    monkeypatch.setattr("factory.pipeline.code_files", lambda *a, **k: ["factory/cli.py"])
    monkeypatch.setattr("factory.pipeline.package_data", lambda *a, **k: [])
    assert CliRunner().invoke(app, ["pipeline"]).exit_code == 0
    assert CliRunner().invoke(app, ["pipeline", "--check"]).exit_code == 0
    _write(tmp_path / "params.yaml", "recipes: [demo]\nseed: 3\nzoo_scale: 2\n")
    assert CliRunner().invoke(app, ["pipeline", "--check"]).exit_code == 0  # params values are not baked in
    (tmp_path / "dvc.yaml").write_text((tmp_path / "dvc.yaml").read_text().replace("demo", "demo2", 1))
    result = CliRunner().invoke(app, ["pipeline", "--check"])
    assert result.exit_code == 2 and "run `factory pipeline`" in result.output


def test_pipeline_refuses_a_params_grid_that_differs_from_the_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = "{recipes: [translate], train: [en], eval: [en, de]}"
    _write(tmp_path / "params.yaml", f"recipes: [translate]\ngrid: {grid}\n")
    _write(tmp_path / "recipes" / "tiny" / "translate.yaml", (REPO / "recipes" / "tiny" / "translate.yaml").read_text())
    result = CliRunner().invoke(app, ["pipeline"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("params.yaml: grid.train: ['en'] differs from "
                                              "recipes/tiny/translate.yaml grid.train ['en', 'de']")


def test_a_stage_entry_missing_from_the_cli_is_named(monkeypatch):
    from factory.core.errors import FactoryError
    from factory.pipeline import StageSpec, stage_deps

    monkeypatch.chdir(REPO)
    with pytest.raises(FactoryError, match="stage entries factory.cli:gone: no function 'gone'"):
        stage_deps(StageSpec("gone {file}", ("factory.cli:gone",)), None, {"file": "x.yaml"})
