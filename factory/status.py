"""`factory status`: one line per recipe saying whether its release is certified, and why not.

It only reads what the certify and publish stages wrote (`<root>/certify/<name>/certificate.json`
and `<root>/release/<name>/`), so it is safe to run at any time; a recipe whose certificate
is missing is reported as `not certified yet`. Recipes are given by name (`toxify`) or by
file (`recipes/tiny/toxify.yaml`, whose `name` field is used). `factory status --cache` lists
the cache folders under `<root>/cache/` instead, with sizes, current or stale (see `factory.clean`).
A release whose reference check failed (the
human-data detoxifier does not beat copying the input; the base LM is not measurably toxic)
is INCONCLUSIVE, with the certificate's reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from factory.core import limits
from factory.recipe import load_recipe
from factory.core.gates import format_interval, recorded_verdict
from factory.core.records import read_json
from factory.core.layout import Layout


def recipe_name(name_or_path: str) -> str:
    """The recipe name of `toxify` or of a recipe file such as `recipes/tiny/toxify.yaml` (its `name`)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return load_recipe(path).name
    return name_or_path


def without_results(names: Sequence[str], root: Path) -> list[str]:
    """The recipes with neither evaluation metrics nor a filter report under `root` (nothing to plot)."""
    root = Path(root)
    return [name for name in names if not (Layout(root).eval_metrics(name)).is_file()
            and not (Layout(root).filter_report(name)).is_file()]


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def failed_gates(certificate: dict[str, Any]) -> list[str]:
    """The failed gates of a certificate as `name value [interval] (needs op threshold)` strings.

    Gates left inconclusive by a failed reference gate are not failures and are not listed.
    """
    out = []
    for g in certificate.get("gates", []):
        if recorded_verdict(g) != "fail":
            continue
        interval = format_interval(g.get("interval"))
        across = " across the interval" if interval and g.get("decision") == "interval" else ""
        value = f"{_number(g.get('value'))} {interval}".strip()
        out.append(f"{g['name']} {value} (needs {g.get('op', '')} {_number(g.get('threshold'))}{across})")
    return out


def status_line(name: str, root: Path) -> str:
    """One recipe's verdict: certified (and the release folder) or the gates that failed."""
    path = Layout(root).certificate(name)
    if not path.is_file():
        return f"{name}: not certified yet (no {path})"
    certificate = read_json(path)
    gates = certificate.get("gates", [])
    passed = sum(bool(g.get("passed")) for g in gates)
    release = Layout(root).release(name)
    where = f"; release {release}" if release.is_dir() else ""
    limited = limits.limited_stages(certificate)
    where += f"; LIMITED RUN ({limits.describe(limited)})" if limited else ""
    if certificate.get("certified"):
        return f"{name}: CERTIFIED ({passed}/{len(gates)} gates){where}"
    if certificate.get("verdict") == "inconclusive":
        return f"{name}: INCONCLUSIVE ({certificate.get('reason', 'a reference gate failed')}){where}"
    return (f"{name}: NOT certified ({passed}/{len(gates)} gates pass; "
            f"failed: {'; '.join(failed_gates(certificate))}){where}")


def status_lines(recipes: Sequence[str], root: Path = Path("data")) -> list[str]:
    """`status_line` of every recipe, in order."""
    return [status_line(name, root) for name in recipes]


def cache_lines(root: Path, recipes: dict[str, Any]) -> list[str]:
    """A total line, then one line per cache entry: path, size, kind and current/stale (see `factory.clean`)."""
    from factory.clean import cache_entries, human_size

    entries = cache_entries(Path(root), recipes)
    stale = [e for e in entries if e.removable]
    lines = [f"cache {Path(root) / 'cache'}: {len(entries)} entries, {human_size(sum(e.size for e in entries))}; "
             f"{len(stale)} stale ({human_size(sum(e.size for e in stale))}), removed by `factory clean`"]
    for entry in entries:
        verdict = f"stale ({entry.stale})" if entry.stale else entry.note
        lines.append(f"  {entry.path}  {human_size(entry.size)}  {entry.kind}: {verdict}")
    return lines
