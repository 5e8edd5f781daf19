"""`Rule`: the one shape of every output and row check, `subject, settings -> reason | None`.

A check list is a tuple of rules applied in order; the first that fails names the row's drop
reason (`first_reason`). `side` says which side of a pair a rule concerns ("toxic" or
"neutral"; None: any side, or the row as a whole): the translate checks run each rule on the
sides it concerns and record which one failed. Used by `factory.checks` (generated outputs)
and `factory.checks_translate` (translated pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Optional, TypeVar

S = TypeVar("S")
C = TypeVar("C")


@dataclass(frozen=True)
class Rule(Generic[S, C]):
    """One check: it fails (drop reason `reason`) when `fails(subject, settings)` is true."""

    reason: str
    fails: Callable[[S, C], bool]
    side: Optional[str] = None
    """The side of a pair the rule concerns ("toxic", "neutral"), None for any side or the whole row."""

    def __call__(self, subject: S, settings: C) -> Optional[str]:
        """`reason` when the subject fails the check, else None."""
        return self.reason if self.fails(subject, settings) else None

    def concerns(self, side: str) -> bool:
        """Whether the rule applies to `side` of a pair."""
        return self.side is None or self.side == side


def first_reason(rules: Iterable[Rule[S, C]], subject: S, settings: C) -> Optional[str]:
    """The reason of the first rule `subject` fails, or None when it passes them all."""
    for rule in rules:
        reason = rule(subject, settings)
        if reason is not None:
            return reason
    return None
