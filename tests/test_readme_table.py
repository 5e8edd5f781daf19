"""scripts/readme_table.py prints the README's default-run table; the README's table has its columns and recipes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from report_fixtures import build_reports

REPO = Path(__file__).resolve().parent.parent
SECTION = "## The default run, measured"


def _script():
    spec = importlib.util.spec_from_file_location("readme_table", REPO / "scripts" / "readme_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_table() -> list[list[str]]:
    section = (REPO / "README.md").read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if not line.startswith("|---")]


def test_the_script_prints_verdict_rows_and_headline_with_interval(tmp_path, monkeypatch):
    root, recipes = build_reports(tmp_path, plots=False)
    gates = [{"name": "base_emt[causal-lm]", "value": 0.5, "interval": [0.4, 0.6], "verdict": "pass"},
             {"name": "emt_reduction[causal-lm]", "value": 0.25, "interval": [0.1, 0.4], "verdict": "fail"}]
    (root / "certify" / "distill" / "certificate.json").write_text(json.dumps({"verdict": "not_certified",
                                                                               "gates": gates}))
    script = _script()
    rows = script.table_rows(list(recipes), {name: r.kind for name, r in recipes.items()}, root)
    by_name = {row[0]: row for row in rows}
    assert by_name["toxify"][2:4] == ["7", "CERTIFIED"]
    assert by_name["detoxify"][3] == "INCONCLUSIVE" and by_name["detoxify"][4].endswith("[0.610, 1.120]")
    assert by_name["distill"][3:] == ["NOT CERTIFIED", "emt_reduction[causal-lm] 0.250 [0.100, 0.400]"]
    monkeypatch.chdir(REPO)
    printed = subprocess.run([sys.executable, "scripts/readme_table.py", "--root", str(root), *recipes],
                             capture_output=True, text=True, check=True).stdout
    assert printed == script.markdown(rows)


def test_the_readme_table_has_the_scripts_columns_and_params_recipes(monkeypatch):
    from factory.recipe import load_params

    monkeypatch.chdir(REPO)
    script = _script()
    header, *rows = _readme_table()
    assert tuple(header) == script.COLUMNS
    assert [row[0] for row in rows] == load_params().recipes
    assert all(len(row) == len(script.COLUMNS) for row in rows)


def test_the_crosslingual_headline_is_the_all_language_reduction_with_its_interval():
    gates = [{"name": "zero_shot_toxicity", "value": 0.4, "interval": [0.3, 0.5]},
             {"name": "sft/all reduction", "value": 0.125, "interval": [0.05, 0.2]},
             {"name": "sft/cross-lingual reduction", "value": 0.02, "interval": [-0.01, 0.05]}]
    assert _script().headline("crosslingual", {"gates": gates}) == "sft/all reduction 0.125 [0.050, 0.200]"
