"""`factory status`: one line per recipe saying whether its release is certified, and why not.

It only reads what the certify and publish stages wrote (`<root>/certify/<name>/certificate.json`
and `<root>/release/<name>/`), so it is safe to run at any time; a recipe whose certificate
is missing is reported as `not certified yet`. A release whose reference check failed (the
human-data detoxifier does not beat copying the input; the base LM is not measurably toxic)
is INCONCLUSIVE, with the certificate's reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from factory.gates import format_interval, recorded_verdict
from factory.records import read_json


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
    path = Path(root) / "certify" / name / "certificate.json"
    if not path.is_file():
        return f"{name}: not certified yet (no {path})"
    certificate = read_json(path)
    gates = certificate.get("gates", [])
    passed = sum(bool(g.get("passed")) for g in gates)
    release = Path(root) / "release" / name
    where = f"; release {release}" if release.is_dir() else ""
    if certificate.get("certified"):
        return f"{name}: CERTIFIED ({passed}/{len(gates)} gates){where}"
    if certificate.get("verdict") == "inconclusive":
        return f"{name}: INCONCLUSIVE ({certificate.get('reason', 'a reference gate failed')}){where}"
    return f"{name}: NOT certified ({passed}/{len(gates)} gates pass; failed: {'; '.join(failed_gates(certificate))}){where}"


def status_lines(recipes: Sequence[str], root: Path = Path("data")) -> list[str]:
    """`status_line` of every recipe, in order."""
    return [status_line(name, root) for name in recipes]
