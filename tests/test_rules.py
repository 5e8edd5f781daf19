"""One rule type for output and row checks (`factory.core.rules.Rule`)."""

from __future__ import annotations

from factory import checks, checks_translate
from factory.core.rules import Rule, first_reason


def test_the_first_failing_rule_names_the_reason_and_a_side_rule_concerns_its_side():
    rules = (Rule("short", lambda s, c: len(s) < c), Rule("shouted", lambda s, c: s.isupper(), side="toxic"))
    assert first_reason(rules, "HI", 3) == "short" and first_reason(rules, "HELLO", 3) == "shouted"
    assert first_reason(rules, "hello", 3) is None
    assert rules[1].concerns("toxic") and not rules[1].concerns("neutral") and rules[0].concerns("neutral")


def test_both_check_lists_are_rules_in_their_documented_order():
    assert all(isinstance(r, Rule) for r in (*checks.OUTPUT_RULES, *checks_translate.RULES))
    assert [r.reason for r in checks.OUTPUT_RULES] == ["empty", "truncated", "refusal", "copy", "meaning_lost",
                                                        "wrong_direction"]
    assert {r.reason: r.side for r in checks_translate.RULES if r.side} == {"toxicity_lost": "toxic",
                                                                            "neutral_toxic": "neutral"}
