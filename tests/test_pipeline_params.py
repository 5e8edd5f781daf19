"""Each stage's `params:` (factory/pipeline_params.py) covers every recipe section its code reads.

The check is static: in the `factory` files a stage depends on (its import closure, as in
dvc.yaml), every `recipe.<section>` of a section the recipe's kind has (no other can be in its
file) must be a section the stage's table lists, and a stage
whose code hashes or dumps the whole recipe must track the whole file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from factory.pipeline import pipeline_stages
from factory.pipeline_params import STAGE_READS, WHOLE, recipe_params
from factory.recipe import load_recipe
from factory.recipe.families import FAMILIES

REPO = Path(__file__).resolve().parent.parent
SECTIONS = set().union(*(family.model_fields for family in FAMILIES.values()))
READ = re.compile(r"(?<!factory\.)\brecipe\.([a-z_]+)")
WHOLE_READS = re.compile(r"(?<!factory\.)\brecipe\.(fingerprint|model_dump|model_dump_json)\b|getattr\(recipe, ")
NOT_A_STAGE_READ = {"factory/cli.py": {"generate"}}
"""Reads in a module every stage imports that no stage runs: `factory check` prints where an API key goes."""


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> dict[str, dict]:
    import os

    old = os.getcwd()
    os.chdir(REPO)
    try:
        return {stage.name: stage.body for stage in pipeline_stages()}
    finally:
        os.chdir(old)


def _verb(stage: str) -> str | None:
    return next((verb for verb in sorted(STAGE_READS, key=len, reverse=True) if stage.startswith(f"{verb}-")), None)


def _reads(code: list[str]) -> tuple[set[str], list[str]]:
    sections, whole = set(), []
    for path in code:
        text = (REPO / path).read_text()
        sections |= {m for m in READ.findall(text) if m in SECTIONS} - NOT_A_STAGE_READ.get(path, set())
        whole += [path] if WHOLE_READS.search(text) else []
    return sections, whole


def test_every_stage_lists_the_recipe_sections_its_code_reads(stages):
    checked = 0
    for name, body in stages.items():
        verb = _verb(name)
        if verb is None:
            continue
        code = [d for d in body["deps"] if d.endswith(".py") and not d.startswith("factory/recipe/")]
        sections, whole = _reads(code)
        (recipe_file,) = [part for part in body["cmd"].split() if part.endswith(".yaml")]
        sections &= set(FAMILIES[load_recipe(REPO / recipe_file).kind].model_fields)  # others cannot be written
        reads = STAGE_READS[verb]
        if whole:
            assert reads == WHOLE, f"{name}: {', '.join(whole)} read the whole recipe; list {verb} as WHOLE"
        elif reads != WHOLE:
            missing = sections - set(reads)
            assert not missing, f"{name}: its code reads {', '.join(sorted(missing))}; add to STAGE_READS[{verb!r}]"
        checked += 1
    assert checked >= 40


def test_a_stage_lists_only_the_sections_its_recipe_file_has(tmp_path):
    recipe = tmp_path / "toxify.yaml"
    recipe.write_text("name: toxify\nkind: toxify\nevaluate: {num_beams: 2}\n")
    assert recipe_params("evaluate", str(recipe)) == [{str(recipe): ["name", "kind", "evaluate"]}]
    assert recipe_params("generate", str(recipe)) == [{str(recipe): ["name", "kind"]}]
    assert recipe_params("certify", str(recipe)) == [{str(recipe): None}]
    assert recipe_params("a-new-verb", str(recipe)) == [{str(recipe): None}]  # not in the table: every field


def test_generate_does_not_track_evaluation_settings(stages):
    (generate,) = stages["generate-toxify"]["params"]
    (evaluate,) = stages["evaluate-toxify"]["params"]
    assert "evaluate" not in generate["recipes/tiny/toxify.yaml"] and "generate" in generate["recipes/tiny/toxify.yaml"]
    assert "evaluate" in evaluate["recipes/tiny/toxify.yaml"] and "generate" not in evaluate["recipes/tiny/toxify.yaml"]


METHOD_READS = {"settings": {"train_settings", "data"}, "continuation_of": {"continuation", "dpo_continuation",
                                                                            "zero_shot_continuation"},
                "baselines": {"methods", "continuation", "dpo_continuation"}, "baseline_of": {"methods", "continuation",
                                                                                           "dpo_continuation"},
                "zero_shot_rows": {"methods", "continuation", "dpo_continuation", "zero_shot_continuation"}}
"""The `CrossLingual` methods the kind calls, and the fields each reads (factory/recipe/crosslingual.py)."""
CROSS_READ = re.compile(r"\b(?:cl|crosslingual)\.([a-z_]+)")


def test_crosslingual_stages_track_the_parts_of_the_section_their_code_reads(stages):
    """The kind's stages list parts of `crosslingual` (a gate threshold must not re-train every model): every field
    their code reads (`cl.sft`, `recipe.crosslingual.data`, or through a method such as `continuation_of`) is one."""
    from factory.recipe.crosslingual import CrossLingual

    fields = set(CrossLingual.model_fields)
    checked = 0
    for name, body in stages.items():
        if not name.startswith(("train-crosslingual", "evaluate-crosslingual", "embed-crosslingual")):
            continue
        listed = {p.split(".")[1] for entry in body["params"] for p in next(iter(entry.values()))
                  if p.startswith("crosslingual.")}
        assert "certify" not in listed or name.startswith("evaluate"), name
        code = [d for d in body["deps"] if d.endswith(".py") and not d.startswith("factory/recipe/")]
        reads: set[str] = set()
        for path in code:
            for found in CROSS_READ.findall((REPO / path).read_text()):
                reads |= {found} & fields or METHOD_READS.get(found, set())
        # a field at its default is not in the file, so only the ones the tiny recipe spells out can be listed
        spelled = set(yaml_keys(REPO / "recipes/tiny/crosslingual.yaml"))
        assert not (reads & spelled) - listed, f"{name}: reads {sorted((reads & spelled) - listed)}, not tracked"
        checked += 1
    assert checked >= 20  # 9 train, 11 evaluate (one per model), embed


def yaml_keys(path: Path) -> list[str]:
    """The keys of the `crosslingual` section of a recipe file."""
    import yaml

    return list(yaml.safe_load(path.read_text())["crosslingual"])
