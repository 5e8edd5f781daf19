"""Headless Chromium for tests: Debian's `chromium` driven by Playwright, with no network and a fresh profile.

`chromium_context(tmp)` starts Chromium with the flags of the report tests and a new
`--user-data-dir`; `PageLog` records console errors, uncaught exceptions, failed requests and
any request that is not a local file or a `data:` URI. Where Chromium or Playwright is missing
the tests are skipped, unless FACTORY_REQUIRE_BROWSER=1 (scripts/test.sh, CI): then they fail.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    """The Chromium executable (Debian's package), or skip / fail the test when it is absent."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        message = "needs Debian's chromium and the playwright package (pip install -e '.[dev]')"
        if os.environ.get("FACTORY_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


@contextlib.contextmanager
def chromium_context(user_data_dir: Path) -> Iterator[Any]:
    """A Playwright browser context of headless Chromium with a fresh profile in `user_data_dir`."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=executable, headless=True, args=FLAGS,
            viewport={"width": 1200, "height": 900})
        try:
            yield context
        finally:
            context.close()


@dataclass
class PageLog:
    """What went wrong while a page loaded: console errors, exceptions, failed or non-local requests, dialogs."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        """Attach to `page`; return it."""
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed request: {r.url} {r.failure}"))
        page.on("request", lambda r: r.url.startswith(("file:", "data:")) or self.errors.append(f"network: {r.url}"))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        return page


def open_page(context: Any, path: Path) -> tuple[Any, PageLog]:
    """Load `path` in a new page and wait until it and its images have loaded."""
    log = PageLog()
    page = log.watch(context.new_page())
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_load_state("load")
    return page, log


def is_blank(png: bytes) -> bool:
    """True when a screenshot has a single colour."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return all(low == high for low, high in image.getextrema())


def image_problems(page: Any) -> list[str]:
    """Every <img> that did not decode (naturalWidth 0) or whose screenshot is blank."""
    problems = []
    for index, image in enumerate(page.query_selector_all("img")):
        image.scroll_into_view_if_needed()
        width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
        if width == 0:
            problems.append(f"image {index} ({image.get_attribute('alt')}) did not load")
        elif is_blank(image.screenshot()):
            problems.append(f"image {index} ({image.get_attribute('alt')}) is blank")
    return problems
