"""`factory report`: the release report pages, the numbers-only DVC metrics, the pipeline and publish hooks.

Built from hand-made stage outputs of all five kinds (tests/report_fixtures.py); no model runs.
The pages in a real browser: tests/test_report_browser.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from report_fixtures import HOSTILE, build_reports, with_intervals
from typer.testing import CliRunner

from factory.cli import app
from factory.stages.publish import build_release
from factory.stages.report import run

REPO = Path(__file__).resolve().parent.parent
MAX_COLUMNS = 30


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> tuple[Path, dict]:
    """Every kind's stage outputs and reports (no PNG plots: their pages say so)."""
    return build_reports(tmp_path_factory.mktemp("reports"), plots=False)


def _leaves(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        out.update(_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def test_metrics_are_numbers_only_and_compact(reports):
    root, recipes = reports
    columns = set()
    for name in recipes:
        leaves = _leaves(json.loads((root / "metrics" / f"{name}.json").read_text()))
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in leaves.values()), (name, leaves)
        assert len(leaves) <= MAX_COLUMNS, name
        columns |= set(leaves)
    assert len(columns) <= MAX_COLUMNS  # `dvc metrics show`: one table, every recipe a row
    toxify = json.loads((root / "metrics" / "toxify.json").read_text())
    assert toxify["J"] == {"copy_input": 0.18, "human_only": 0.57, "certified_mix": 0.5}
    assert toxify["rows"] == {"kept": 7, "dropped": 5} and toxify["certified"] == 1
    detoxify = json.loads((root / "metrics" / "detoxify.json").read_text())
    assert detoxify["inconclusive"] == 1 and detoxify["j_ratio_ci"] == {"low": 0.61, "high": 1.12}
    assert detoxify["gates"] == {"passed": 1, "failed": 1, "inconclusive": 1}
    distill = json.loads((root / "metrics" / "distill.json").read_text())
    assert distill["EMT"] == {"causal-lm": {"base": 0.4, "detoxified": 0.3}}
    assert json.loads((root / "metrics" / "translate.json").read_text())["grid"]["J_mean"] == pytest.approx(0.35)


def test_row_text_is_escaped(reports):
    root, _ = reports
    html = (root / "report" / "toxify.html").read_text()
    for payload in HOSTILE:
        assert payload not in html
    assert "&lt;script&gt;alert(&quot;toxic&quot;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and 'href="http://evil.example"' not in html
    assert html.count("<script>") == 1  # the page's own filter script, nothing from the data


def test_gates_show_intervals_and_the_verdict_when_the_certificate_has_them(reports):
    root, _ = reports
    new = (root / "report" / "detoxify.html").read_text()
    assert "95% interval" in new and "[0.61, 1.12]" in new and "INCONCLUSIVE" in new
    assert "rests on reference_margin" in new and "the human-data detoxifier does not beat copying" in new
    assert "[0.5, 0.64]" in new  # J interval of the human-data detoxifier, in the scores table
    old = (root / "report" / "toxify.html").read_text()
    assert "95% interval" not in old and "has no intervals" in old and "CERTIFIED" in old


def test_every_section_is_there_and_absent_inputs_are_named(reports):
    root, _ = reports
    toxify = (root / "report" / "toxify.html").read_text()
    for title in ("Verdict and gates", "Mixing study", "Training", "Corpus and diversity", "Languages",
                  "Kept and dropped rows", "Provenance"):
        assert f"<h2>{title}</h2>" in toxify
    assert toxify.count("<polyline") == 2  # a loss curve per trained mix: its log has per-step losses
    assert "No plot: run `factory plots`" in toxify  # built without plots
    distill = (root / "report" / "distill.html").read_text()
    assert "Base vs detoxified models" in distill and "first and final loss only" in distill
    translate = (root / "report" / "translate.html").read_text()
    assert "Cross-lingual grid" in translate and "Checks per language" not in translate
    index = (root / "report" / "index.html").read_text()
    assert all(f'href="{name}.html"' in index for name in ("toxify", "detoxify", "translate", "distill", "selfgen"))


def test_without_a_certificate_the_report_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["report", "toxify", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {tmp_path}/certify/toxify: missing; run `factory certify toxify "
                                     f"--root {tmp_path}` first")


def test_publish_takes_the_report_of_this_certificate_only(reports, tmp_path):
    root, recipes = reports
    release = build_release(recipes["toxify"], tmp_path / "release", root=root, force=True)
    assert (release / "report.html").read_bytes() == (root / "report" / "toxify.html").read_bytes()
    with_intervals(root / "certify" / "toxify" / "certificate.json")  # certify ran again, the report did not
    stale = build_release(recipes["toxify"], tmp_path / "stale", root=root, force=True)
    assert not (stale / "report.html").exists()
    run(recipes["toxify"], root=root)
    assert (build_release(recipes["toxify"], tmp_path / "again", root=root, force=True) / "report.html").exists()


def test_the_pipeline_declares_one_metrics_file_per_recipe_and_publishes_the_report():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    recipes = yaml.safe_load((REPO / "params.yaml").read_text())["recipes"]
    declared = sorted(m for body in stages.values() for m in body.get("metrics", []))
    cells = [m for m in declared if m.startswith("data/crosslingual/")]  # one per crosslingual cell
    assert sorted(set(declared) - set(cells)) == sorted(f"data/metrics/{name}.json" for name in recipes)
    assert len(cells) == 33 and "data/crosslingual/crosslingual/cells/dpo-all-100/de.json" in cells
    assert stages["evaluate-crosslingual-dpo-all-100"]["metrics"] == [  # evaluate_stages: per_setting
        f"data/crosslingual/crosslingual/cells/dpo-all-100/{lang}.json" for lang in ("en", "de", "es")]
    for name in recipes:
        assert stages[f"report-{name}"]["outs"] == [f"data/report/{name}.html"]
        if name != "crosslingual":  # the kind publishes no corpus
            assert f"data/report/{name}.html" in stages[f"publish-{name}"]["deps"]
    assert "data/crosslingual/crosslingual/eval/heatmap-reduction.png" in stages["report-crosslingual"]["deps"]
    assert "data/report/crosslingual.html" in stages["report"]["deps"]
    assert "data/plots/toxify-mixing.png" in stages["report-toxify"]["deps"]
    assert "data/plots/distill-lm.png" in stages["report-distill"]["deps"]
    assert "data/grid/translate/report/heatmap.png" in stages["report-translate"]["deps"]
    assert stages["report"]["outs"] == ["data/report/index.html"]


def test_the_command_writes_named_pages_or_every_page_and_the_index(tmp_path, monkeypatch):
    root, _ = build_reports(tmp_path / "outputs", plots=False)
    for page in (root / "report").iterdir():
        page.unlink()
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    result = runner.invoke(app, ["report", "distill", "--root", str(root)])
    assert result.exit_code == 0 and sorted(p.name for p in (root / "report").iterdir()) == ["distill.html"]
    result = runner.invoke(app, ["report", "--index", "--root", str(root)])
    assert result.exit_code == 0 and result.output == f"report: wrote {root}/report/index.html\n"
    assert "no report yet" in (root / "report" / "index.html").read_text()  # toxify has no page yet
    result = runner.invoke(app, ["report", "--root", str(root)])
    assert result.exit_code == 0 and result.output.count("report: wrote") == 7  # six pages and the index
    assert "no report yet" not in (root / "report" / "index.html").read_text()
