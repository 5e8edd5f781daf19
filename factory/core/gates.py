"""Certification gates and the verdict they add up to.

A gate compares a `value` with a `threshold` by `op` (`>=` or `<=`). Gates on estimated
quantities (a J ratio on a finite test set, a mean over prompts) also carry the 95%
bootstrap `interval` of the value (`factory.core.bootstrap`); under the recipe's
`certify.decision: interval` such a gate passes only when the whole interval lies on the
passing side of the threshold (and the point estimate too), under `point` when the point
estimate does. Gates on counts and on properties of the released corpus itself (kept rows,
contamination, rates) have no interval and are decided on their value.

A `reference` gate checks that the measurement can tell good data from bad (the human-data
detoxifier beats copying the input; the base LM is measurably toxic). Gates whose meaning
rests on it name it in `depends_on`; when it fails they are `inconclusive` rather than
passed or failed. The release verdict (`verdict_of`):

- `not_certified` when any gate that does not rest on a failed reference fails;
- `inconclusive` when only a reference gate failed (with what rests on it): the release is
  neither certified nor shown to be bad, and the certificate's `reason` says why;
- `certified` when every gate passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

from factory.core.bootstrap import Estimate

Decision = Literal["interval", "point"]


@dataclass
class Gate:
    """One certification gate: `value` (and its `interval`) compared with `threshold` by `op`.

    `verdict` is "pass", "fail" or "inconclusive"; `passed` is true only for "pass".
    `decision` says what decided it ("point" or "interval"); `role` is "reference" for a
    gate that checks the measurement itself, and `depends_on` names the reference gate a
    gate's meaning rests on. `reason`: for a failed reference gate, why the certificate
    cannot tell.
    """

    name: str
    value: float | None
    threshold: float
    op: str
    passed: bool
    note: str = ""
    interval: list[float] | None = None
    decision: str = "point"
    verdict: str = ""
    role: str = ""
    depends_on: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = "pass" if self.passed else "fail"


def _satisfies(value: float | None, threshold: float, op: str) -> bool:
    if value is None or math.isnan(value):
        return False
    return value <= threshold if op == "<=" else value >= threshold


def gate(name: str, value: float | None, threshold: float, op: str, note: str = "") -> Gate:
    """Evaluate a gate on its value; a missing or NaN value fails it."""
    return Gate(name, value, threshold, op, _satisfies(value, threshold, op), note)


def estimate_gate(name: str, estimate: Estimate, threshold: float, op: str, decision: Decision, note: str = "",
                  **fields: str) -> Gate:
    """Evaluate a gate on an estimate: the point, and under `interval` the whole interval.

    The interval must lie on the passing side (its low end for `>=`, its high end for `<=`);
    without an interval (no per-unit scores, or fewer than two units) it fails under
    `interval`, and the note says why.
    """
    passed = _satisfies(estimate.value, threshold, op)
    interval = estimate.interval
    if decision == "interval":
        if interval is None:
            passed, note = False, f"{note}; no 95% interval (no per-unit scores to resample)".lstrip("; ")
        else:
            passed = passed and _satisfies(interval[0] if op == ">=" else interval[1], threshold, op)
    return Gate(name, estimate.value, threshold, op, passed, note, interval, decision, **fields)


def settle(gates: Sequence[Gate]) -> list[Gate]:
    """Mark the gates resting on a failed reference gate `inconclusive` (not passed)."""
    failed_references = {g.name for g in gates if g.role == "reference" and not g.passed}
    for g in gates:
        if g.depends_on in failed_references:
            g.passed, g.verdict = False, "inconclusive"
    return list(gates)


def verdict_of(gates: Sequence[Gate]) -> tuple[str, str]:
    """("certified" | "not_certified" | "inconclusive", the reason in one sentence) of settled gates."""
    references = [g for g in gates if g.role == "reference" and not g.passed]
    failed = [g for g in gates if g.verdict == "fail" and g.role != "reference"]
    if failed:
        reason = "failed gates: " + ", ".join(g.name for g in failed)
        if references:
            reason += "; also " + "; ".join(g.reason or g.name for g in references)
        return "not_certified", reason
    if references:
        return "inconclusive", "; ".join(g.reason or f"reference gate {g.name} failed" for g in references)
    return "certified", f"all {len(gates)} gates passed"


def format_interval(interval: Sequence[float] | None, spec: str = ".3g") -> str:
    """`[lo, hi]` formatted with `spec`, or "" without an interval."""
    if not interval:
        return ""
    return f"[{interval[0]:{spec}}, {interval[1]:{spec}}]"


def recorded_verdict(gate: dict) -> str:
    """The verdict of a gate as written in a certificate (older certificates have only `passed`)."""
    return gate.get("verdict") or ("pass" if gate.get("passed") else "fail")


def names_with(certificate: dict, verdict: str) -> list[str]:
    """Names of the certificate's gates whose verdict is `verdict` ("pass", "fail" or "inconclusive")."""
    return [g["name"] for g in certificate.get("gates", []) if recorded_verdict(g) == verdict]

