"""The release report in headless Chromium (Debian's `chromium`): every page loads from disk with no
console error and no request but its own file, every image renders, the row search works, and
row texts that are HTML stay text. Also `dvc plots show`, whose page must render offline too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import chromium_context, chromium_path, image_problems, is_blank, open_page
from report_fixtures import HOSTILE, build_reports

from factory.dvc_plots import TEMPLATE_NAME, write_template

REPO = Path(__file__).resolve().parent.parent
PAGES = {"index": 1, "toxify": 3, "detoxify": 2, "translate": 3, "distill": 2, "selfgen": 2, "crosslingual": 11}
"""Each page and how many images it shows (the plots, the grid's heat map for translate, the loss curves
of toxify, the one fixture whose training logs have per-step losses, and crosslingual's nine heat maps, three
prompt sets x three metrics, and two embedding projections)."""


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    chromium_path()
    root, _ = build_reports(tmp_path_factory.mktemp("reports"))
    return root / "report"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium_context(tmp_path_factory.mktemp("profile")) as context:
        yield context


@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_offline_and_its_images_render(reports, browser, name, tmp_path):
    page, log = open_page(browser, reports / f"{name}.html")
    assert page.locator("h1").count() == 1
    assert len(page.query_selector_all("img")) == PAGES[name]
    assert image_problems(page) == []
    shot = page.screenshot(full_page=True, path=str(tmp_path / f"{name}.png"))
    assert not is_blank(shot)
    assert log.errors == []
    page.close()


def _visible_rows(page) -> int:
    return page.locator("#row-table tbody tr:not([hidden])").count()


def test_the_row_search_filters_by_text_and_by_drop_reason(reports, browser):
    page, log = open_page(browser, reports / "toxify.html")
    total = page.locator("#row-table tbody tr").count()
    assert total == 12 and _visible_rows(page) == total
    assert page.locator(".search .count").inner_text() == f"{total} of {total} rows shown"

    search = page.locator(".search input")
    search.fill("idiot number 3")
    assert _visible_rows(page) == 1 and "number 3" in page.locator("#row-table tbody tr:not([hidden])").inner_text()
    assert page.locator(".search .count").inner_text() == f"1 of {total} rows shown"
    search.fill("<SCRIPT>")  # case-insensitive, and the HTML of a row is searchable as text
    assert _visible_rows(page) == 1
    search.fill("")
    page.locator(".search select").select_option("meaning_lost")
    reasons = page.locator("#row-table tbody tr:not([hidden])").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-reason'))")
    assert reasons == ["meaning_lost", "meaning_lost"]
    search.fill("display:none")
    assert _visible_rows(page) == 1
    page.locator(".search select").select_option("kept")
    assert _visible_rows(page) == 0
    assert log.errors == []


def test_row_texts_that_are_html_stay_text(reports, browser):
    page, log = open_page(browser, reports / "toxify.html")
    table = page.locator("#row-table")
    shown = table.inner_text()
    for payload in HOSTILE:
        assert payload in shown
    assert table.evaluate("t => t.querySelectorAll('script, img, b, style, a').length") == 0
    assert page.locator("body").is_visible()  # the <style> of a row did not hide the page
    assert log.errors == []  # no alert() dialog, no request for `x` or evil.example


@pytest.mark.skipif(shutil.which("dvc", path=str(Path(sys.executable).parent)) is None, reason="dvc not installed")
def test_dvc_plots_show_renders_offline(tmp_path, browser):
    project = tmp_path / "project"
    (project / "data" / "eval" / "toxify").mkdir(parents=True)
    (project / "data" / "plots").mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=project, check=True, env=env)
    shutil.copyfile(REPO / ".dvc" / "config", project / ".dvc" / "config")  # the project's plots.html_template
    (project / "data" / "eval" / "toxify" / "mixing.csv").write_text(
        "ratio,STA,SIM,FL,J,ChrF\n0.0,0.8,0.8,0.9,0.5,40\n0.5,0.75,0.8,0.9,0.45,38\n1.0,0.7,0.8,0.9,0.3,35\n")
    (project / "dvc.yaml").write_text("plots:\n  - data/eval/toxify/mixing.csv:\n      x: ratio\n      y: J\n")
    write_template(project / "data" / "plots" / TEMPLATE_NAME)  # what the plots stage writes
    done = subprocess.run(["dvc", "plots", "show"], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    html = (project / "dvc_plots" / "index.html").read_text()
    assert "cdn.jsdelivr.net" not in html and "vegaEmbed(" in html

    page, log = open_page(browser, project / "dvc_plots" / "index.html")
    page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=20_000)
    assert not is_blank(page.locator(".vega-embed").first.screenshot())
    assert log.errors == []
