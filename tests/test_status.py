"""`factory status`: the verdict per recipe, read from the certificates."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from factory.cli import app


def _certificate(root, name, gates):
    folder = root / "certify" / name
    folder.mkdir(parents=True)
    certified = all(g["passed"] for g in gates)
    (folder / "certificate.json").write_text(json.dumps({"certified": certified, "gates": gates}))


def test_status_names_failed_gates_and_missing_certificates(tmp_path):
    _certificate(tmp_path, "good", [{"name": "rows", "value": 30, "threshold": 20, "op": ">=", "passed": True}])
    _certificate(tmp_path, "bad", [
        {"name": "rows", "value": 8, "threshold": 20, "op": ">=", "passed": False},
        {"name": "j_ratio", "value": 0.61234, "threshold": 0.7, "op": ">=", "passed": False},
        {"name": "copy_rate", "value": 0.0, "threshold": 0.5, "op": "<=", "passed": True},
    ])
    (tmp_path / "release" / "good").mkdir(parents=True)
    result = CliRunner().invoke(app, ["status", "good", "bad", "absent", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    good, bad, absent = result.output.strip().splitlines()
    assert good == f"good: CERTIFIED (1/1 gates); release {tmp_path / 'release' / 'good'}"
    assert bad == "bad: NOT certified (1/3 gates pass; failed: rows 8 (needs >= 20); j_ratio 0.612 (needs >= 0.7))"
    assert absent.startswith("absent: not certified yet")
