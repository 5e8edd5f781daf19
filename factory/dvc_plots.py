"""An offline page template for `dvc plots show` and `dvc plots diff`.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from cdn.jsdelivr.net (its `{scripts}`
placeholder), so without network it shows nothing. This template has no `{scripts}`
placeholder; it carries the three libraries inline instead, as vl-convert (already the
project's plot renderer) bundles them: `vl_convert.javascript_bundle()`, the libraries'
own builds (Vega, Vega-Lite, Vega-Embed: BSD-3-Clause) with their dependencies, which
defines `vegaEmbed` for DVC's plot snippets. Nothing is vendored into the repository: the
`plots` stage writes the template (`data/plots/dvc-plots-template.html`) from the installed
vl-convert, and `.dvc/config` (`plots.html_template`) points DVC at it.
"""

from __future__ import annotations

import functools
from pathlib import Path

TEMPLATE_NAME = "dvc-plots-template.html"
"""File name of the template in the plots folder (see `.dvc/config`)."""


def _vegalite_version() -> str:
    """The newest Vega-Lite 5 that vl-convert bundles (DVC's plot specs are Vega-Lite 5)."""
    import vl_convert as vlc

    versions = [v for v in vlc.get_vegalite_versions() if v.startswith("5.")]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


@functools.lru_cache(maxsize=1)
def template() -> str:
    """The page: DVC's `{plot_divs}` after the bundled libraries, wrapped in a function so its
    top-level names cannot clash with the `var spec` of DVC's snippets. Made once per process (bundling
    takes a few seconds)."""
    import vl_convert as vlc

    bundle = vlc.javascript_bundle(vl_version=_vegalite_version())
    if "</script" in bundle.lower() or "{plot_divs}" in bundle:
        raise RuntimeError("vl-convert's bundle cannot be inlined in a <script> element")
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n{refresh_tag}\n"
            "<title>DVC plots (offline)</title>\n<link rel=\"icon\" href=\"data:,\">\n"
            "<style>table { border-spacing: 15px; } body { font-family: sans-serif; }</style>\n"
            f"<script>(function () {{\n{bundle}\n}})();</script>\n</head>\n<body>\n{{plot_divs}}\n</body>\n</html>\n")


def write_template(path: Path) -> Path:
    """Write the offline template to `path`."""
    Path(path).write_text(template(), encoding="utf-8")
    return Path(path)
