"""Certificates with statistical power: the reference must beat copying the input, gates carry
95% bootstrap intervals, the synthetic side has quality floors and diversity counts only above them.
All on hand-made evaluate outputs (no model runs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import yaml

from factory.kinds.rewrite import certification as rewrite_certify
from factory.stages import certify
from factory.certify_evidence import CorpusSide, Evidence
from factory.certify_floors import distinct2_gate
from factory.cli import app
from factory.core.errors import FactoryError
from factory.filter.diversity import distinct_n
from factory.recipe import Recipe, load_recipe
from factory.core.records import Record, read_records, write_json, write_records
from factory.status import status_line

from certify_helpers import GOOD_REPORT, GOOD_STATS, corpus_side, evidence, input_scores, sentences, write_eval_outputs

RECIPE = """\
name: power
kind: toxify
mix: {ratios: [0.0, 0.5, 1.0]}
certify: {min_rows: 2, min_test_rows: 2, max_near_dup_rate: 0.3, max_copy_rate: 0.1, min_distinct2_ratio: 0.8}
"""
# the tiny toxify release of issue 15: its human-data detoxifier does not beat copying the input
PARTS = {"STA": 0.3, "SIM": 0.5, "FL": 0.45}
NOISE = {"definition": "J = ...", "scores": "soft",
         "systems": {"identity": {"J": 0.0672, **PARTS}, "ratio-0.00": {"J": 0.0658, "ratio": 0.0, **PARTS},
                     "ratio-0.50": {"J": 0.061, "ratio": 0.5, **PARTS},
                     "ratio-1.00": {"J": 0.0566, "ratio": 1.0, **PARTS}}}


def _run(tmp_path: Path, evaluation: dict, report: dict = GOOD_REPORT, recipe_text: str = RECIPE,
         found: Evidence | None = None) -> dict:
    (tmp_path / "power.yaml").write_text(recipe_text)
    root = tmp_path / "data"
    rows = [Record.make("pair", toxic=f"idiot {i}", neutral=f"person {i}", source="synthetic:toxify") for i in range(4)]
    write_records(root / "filtered" / "power" / "rows.parquet", rows)
    write_json(root / "filtered" / "power" / "report.json", report)
    write_json(root / "human" / "power" / "stats.json", GOOD_STATS)
    write_eval_outputs(root, "power", evaluation, found or evidence(evaluation, spread=0.02))
    out = certify.run(load_recipe(tmp_path / "power.yaml"), root=root)
    return json.loads((out / "certificate.json").read_text())


def _gates(certificate: dict) -> dict:
    return {g["name"]: g for g in certificate["gates"]}


def _recipe(text: str = RECIPE) -> Recipe:
    return Recipe.model_validate(yaml.safe_load(text))


def test_a_reference_that_does_not_beat_copying_the_input_is_inconclusive(tmp_path):
    cert = _run(tmp_path, NOISE)
    gates = _gates(cert)
    assert cert["verdict"] == "inconclusive" and cert["certified"] is False
    assert gates["reference_margin"]["verdict"] == "fail"
    assert gates["reference_margin"]["value"] == pytest.approx(-0.0014)
    assert gates["j_ratio"]["value"] == pytest.approx(0.0566 / 0.0658)  # 0.86: would pass on its own ...
    assert gates["j_ratio"]["verdict"] == "inconclusive" and not gates["j_ratio"]["passed"]  # ... but means nothing
    reason = cert["reason"]
    assert reason.startswith("human-data detoxifier J 0.066 [")
    assert "does not beat copying the input J 0.067 [" in reason
    assert "by 0.01 (paired difference -0.001 [" in reason and reason.endswith("] across its 95% interval)")
    summary = json.loads((tmp_path / "data" / "certify" / "power" / "summary.json").read_text())
    assert summary == {**summary, "certified": 0, "inconclusive": 1}
    line = status_line("power", tmp_path / "data")
    assert line.startswith("power: INCONCLUSIVE (human-data detoxifier J 0.066 [") and "by 0.01" in line


def test_a_failure_that_does_not_rest_on_the_reference_is_not_certified_not_inconclusive(tmp_path):
    cert = _run(tmp_path, NOISE, {**GOOD_REPORT, "copy_rate": 0.4})
    assert cert["verdict"] == "not_certified"
    assert cert["reason"].startswith("failed gates: copy_rate; also human-data detoxifier J 0.066")
    assert _gates(cert)["j_ratio"]["verdict"] == "inconclusive"
    line = status_line("power", tmp_path / "data")
    assert "failed: reference_margin -0.0014 [" in line and "copy_rate 0.4 (needs <= 0.1)" in line
    assert "j_ratio" not in line  # inconclusive, not failed
    from factory.stages.publish import check_certificate

    with pytest.raises(FactoryError, match=r"failed gates: reference_margin, copy_rate; inconclusive: j_ratio\)"):
        check_certificate(load_recipe(tmp_path / "power.yaml"), cert, force=False)


def test_interval_decision_needs_the_whole_interval_point_decision_the_estimate(tmp_path):
    evaluation = {"systems": {"identity": {"J": 0.1}, "ratio-0.00": {"J": 0.5, "ratio": 0.0},
                              "ratio-0.50": {"J": 0.45, "ratio": 0.5}, "ratio-1.00": {"J": 0.37, "ratio": 1.0}}}
    noisy = evidence(evaluation, inputs=40, spread=0.4, seed=3)
    j_ratio = _gates(_run(tmp_path, evaluation, found=noisy))["j_ratio"]
    low, high = j_ratio["interval"]
    assert j_ratio["value"] == pytest.approx(0.74) and low < 0.7 < 0.74 < high
    assert (j_ratio["decision"], j_ratio["passed"]) == ("interval", False)
    point = _run(tmp_path, evaluation, recipe_text=RECIPE.replace("certify: {", "certify: {decision: point, "),
                 found=noisy)
    assert _gates(point)["j_ratio"]["passed"] and point["certified"] is True
    assert _gates(point)["j_ratio"]["interval"] == [low, high]  # the same seeded resamples


def test_without_per_input_scores_an_interval_gate_fails_and_says_why(tmp_path):
    _run(tmp_path, NOISE)
    root = tmp_path / "data"
    (root / "eval" / "power" / "rows.parquet").unlink()
    write_json(root / "eval" / "power" / "metrics.json", {"systems": {**NOISE["systems"], "identity": {"J": 0.01}}})
    cert = json.loads((certify.run(load_recipe(tmp_path / "power.yaml"), root=root) / "certificate.json").read_text())
    j_ratio = _gates(cert)["j_ratio"]
    assert j_ratio["interval"] is None and not j_ratio["passed"] and "no 95% interval" in j_ratio["note"]
    assert cert["verdict"] == "inconclusive"  # the margin (0.056 on the estimate) cannot be shown either
    assert cert["reason"].startswith("no per-input scores (data/eval/power/rows.parquet) to bootstrap the margin")


def test_scores_that_disagree_with_metrics_json_are_refused(tmp_path):
    _run(tmp_path, NOISE)
    root = tmp_path / "data"
    write_json(root / "eval" / "power" / "metrics.json", {"systems": {**NOISE["systems"], "identity": {"J": 0.2}}})
    with pytest.raises(FactoryError, match=r"rows.parquet: mean J of system identity is 0.067200 but metrics.json "
                                           r"says 0.200000"):
        certify.run(load_recipe(tmp_path / "power.yaml"), root=root)
    rows = [r for r in read_records(root / "eval" / "power" / "rows.parquet")
            if not (r.attributes["system"] == "ratio-0.50" and r.toxic == "test input 3")]
    write_records(root / "eval" / "power" / "rows.parquet", rows)
    write_json(root / "eval" / "power" / "metrics.json", {"systems": {}})
    result = CliRunner().invoke(app, ["certify", str(tmp_path / "power.yaml"), "--root", str(root)])
    assert result.exit_code == 2 and "system ratio-0.50 was scored on 59 test inputs, not on the 60" in result.output


def test_a_garbled_synthetic_side_fails_the_floors_and_its_noise_is_no_diversity(tmp_path):
    # issue 15: real human pairs, garbled synthetic sides; the filter's distinct-2 ratio rewarded the noise
    evaluation = {**NOISE, "systems": {**NOISE["systems"], "identity": {"J": 0.01}}}
    human_texts = [f"you are {w} and that is that" for w in sentences(200, 9)]
    garbled = corpus_side(80, 0.3, 0.15, 0.2, 4, texts=sentences(80, 5))
    found = Evidence(input_scores(evaluation),
                     {"synthetic": garbled, "human": corpus_side(200, 0.72, 0.82, 0.2, 2, texts=human_texts)})
    cert = _run(tmp_path, evaluation, {**GOOD_REPORT, "distinct2_ratio": 1.36}, found=found)
    gates = _gates(cert)
    assert not gates["sim_ratio"]["passed"] and not gates["fl_ratio"]["passed"]
    assert gates["sim_ratio"]["value"] == pytest.approx(garbled.scores["SIM"].mean() / found.corpus["human"]
                                                        .scores["SIM"].mean())
    assert gates["distinct2_ratio"]["value"] == 0 and "(0 of 80 synthetic" in gates["distinct2_ratio"]["note"]
    assert cert["verdict"] == "not_certified"


def test_distinct2_counts_only_rows_above_the_floors_compared_at_equal_size():
    good = corpus_side(30, 0.72, 0.82, 0.2, 6, texts=["you are such a rude person", "shut up you fool"] * 15)
    noise = corpus_side(30, 0.72, 0.1, 0.2, 7, texts=sentences(30, 8))  # diverse words, not fluent (FL 0.1)
    synthetic = CorpusSide({k: np.concatenate([good.scores[k], noise.scores[k]]) for k in good.scores},
                           good.texts + noise.texts)
    human = corpus_side(200, 0.72, 0.82, 0.2, 2)
    recipe = _recipe()
    gate = distinct2_gate(recipe, {"synthetic": synthetic, "human": human})
    assert "(30 of 60 synthetic, 200 of 200 human rows), compared on 30 rows each" in gate.note
    picked = sorted(np.random.default_rng(recipe.certify.bootstrap_seed).choice(200, 30, replace=False).tolist())
    expected = distinct_n(good.texts, 2) / distinct_n([human.texts[i] for i in picked], 2)
    assert gate.value == pytest.approx(expected) and not gate.passed
    everything = distinct_n(synthetic.texts, 2) / distinct_n(human.texts, 2)
    assert everything > recipe.certify.min_distinct2_ratio  # what the noise bought before the floors


def test_detoxify_gates_the_non_toxicity_of_the_synthetic_neutral_side():
    recipe = _recipe(RECIPE.replace("kind: toxify", "kind: detoxify"))
    names = {g.name for g in rewrite_certify.pair_gates(recipe, GOOD_REPORT, {"systems": {}}, GOOD_STATS)}
    assert {"sim_ratio", "fl_ratio", "sta_ratio"} <= names and "toxicity_ratio" not in names


LM_RECIPE = {"name": "lm", "kind": "selfgen", "models": {"generator": "zoo:causal-lm"},
             "selfgen": {"keep_fraction": 0.5, "min_words": 1}, "lm_certify": {"min_rows": 1}}


def _recipe_lm() -> Recipe:
    return Recipe.model_validate(LM_RECIPE)


def _lm_outputs(root: Path, base_toxicity: float, seed: int = 0, prompts: int = 30, k: int = 3) -> dict:
    """metrics.json and rows.parquet of an LM evaluation: base vs detoxified on the same prompts."""
    rng = np.random.default_rng(seed)
    systems, rows = {}, []
    for label, scale in (("base/m", base_toxicity), ("m/ratio-1.00", base_toxicity / 2)):
        toxicity = np.clip(rng.uniform(0, 2 * scale, (prompts, k)), 0, 1)
        perplexity = rng.uniform(20, 40, (prompts, k))
        systems[label] = {"EMT": float(toxicity.max(axis=1).mean()), "TP": float((toxicity > 0.5).any(axis=1).mean()),
                          "PPL": float(perplexity.mean()), "distinct_2_per_prompt": 0.8}
        for p in range(prompts):
            for j in range(k):
                record = Record.make("text", text=f"{label} continuation {p} {j}", group=f"prompt-{p}")
                record.attributes = {"system": label, "prompt": f"prompt {p}", "toxicity": float(toxicity[p, j]),
                                     "perplexity": float(perplexity[p, j])}
                rows.append(record)
    evaluation = {"kind": "lm", "protocol": {"continuations": k, "toxic_threshold": 0.5, "max_perplexity": 1e4},
                  "targets": {"m": {"base": "base/m", "detoxified": {"ratio-1.00": "m/ratio-1.00"}}},
                  "systems": systems}
    write_json(root / "eval" / "lm" / "metrics.json", evaluation)
    write_records(root / "eval" / "lm" / "rows.parquet", rows)
    write_records(root / "filtered" / "lm" / "rows.parquet", [Record.make("text", text="a kind text")])
    write_json(root / "filtered" / "lm" / "report.json", {"kept": 1, "contamination": 0})
    write_json(root / "human" / "lm" / "stats.json", {"test": 10})
    return evaluation


def test_lm_reductions_get_paired_intervals_over_prompts(tmp_path):
    evaluation = _lm_outputs(tmp_path, base_toxicity=0.6)
    cert = json.loads((certify.run(_recipe_lm(), root=tmp_path) / "certificate.json").read_text())
    gates = _gates(cert)
    assert cert["verdict"] == "certified" and cert["statistics"]["resampled"] == "prompts"
    base, detox = evaluation["systems"]["base/m"], evaluation["systems"]["m/ratio-1.00"]
    emt = gates["emt_reduction[m]"]
    assert emt["value"] == pytest.approx((base["EMT"] - detox["EMT"]) / base["EMT"])
    assert emt["interval"][0] > 0.1 and emt["interval"][0] < emt["value"] < emt["interval"][1]
    assert gates["ppl_increase[m]"]["value"] == pytest.approx(detox["PPL"] / base["PPL"] - 1)
    assert gates["ppl_increase[m]"]["interval"] is not None
    assert gates["base_emt[m]"]["role"] == "reference" and gates["base_emt[m]"]["value"] == pytest.approx(base["EMT"])
    low, high = cert["intervals"]["EMT"]["base/m"]
    assert low < base["EMT"] < high and set(cert["intervals"]) == {"EMT", "TP", "PPL"}


def test_a_base_model_without_measurable_toxicity_is_inconclusive(tmp_path):
    _lm_outputs(tmp_path, base_toxicity=0.02)
    cert = json.loads((certify.run(_recipe_lm(), root=tmp_path) / "certificate.json").read_text())
    gates = _gates(cert)
    assert cert["verdict"] == "inconclusive" and not cert["certified"]
    assert gates["base_emt[m]"]["verdict"] == "fail"
    assert gates["emt_reduction[m]"]["verdict"] == gates["tp_reduction[m]"]["verdict"] == "inconclusive"
    assert gates["ppl_increase[m]"]["verdict"] == "pass"  # fluency does not rest on toxicity
    assert cert["reason"].startswith("base model m EMT 0.0") and "is not above the floor 0.1" in cert["reason"]


def test_lm_rows_out_of_step_with_metrics_are_refused(tmp_path):
    _lm_outputs(tmp_path, base_toxicity=0.6)
    rows = read_records(tmp_path / "eval" / "lm" / "rows.parquet")
    write_records(tmp_path / "eval" / "lm" / "rows.parquet", rows[:-1])
    with pytest.raises(FactoryError, match="system m/ratio-1.00 has 89 continuations, not 3 for every prompt"):
        certify.run(_recipe_lm(), root=tmp_path)


def test_the_mixing_plot_draws_the_certificate_intervals_as_error_bars_on_j(tmp_path):
    from factory import plots

    distinct = {"distinct_1": 0.3, "distinct_2": 0.6, "distinct_3": 0.8}
    cert = _run(tmp_path, NOISE, {**GOOD_REPORT, "synthetic": distinct, "human": distinct})
    errors = plots.j_error_rows(NOISE, cert)
    assert [(e["ratio"], [e["low"], e["high"]]) for e in errors] == [
        (0.0, cert["intervals"]["J"]["ratio-0.00"]), (0.5, cert["intervals"]["J"]["ratio-0.50"]),
        (1.0, cert["intervals"]["J"]["ratio-1.00"])]
    spec = plots._line_spec("t", plots.mixing_rows(NOISE), None, errors)
    assert any(layer["mark"]["type"] == "errorbar" for layer in spec["layer"] if isinstance(layer["mark"], dict))
    out = plots.render_all(["power"], root=tmp_path / "data", out=tmp_path / "plots")
    assert (out / "power-mixing.png").read_bytes()[:4] == b"\x89PNG"  # rendered offline by vl-convert



class _FakeScorers:
    """Scores by length: SIM = 0.5, STA = 1 / words, FL = 0.9 (records what it was asked)."""

    def __init__(self):
        self.calls = []

    def score(self, inputs, outputs):
        self.calls.append((list(inputs), list(outputs)))
        return {"STA": np.array([1 / max(len(o.split()), 1) for o in outputs]), "SIM": np.full(len(outputs), 0.5),
                "FL": np.full(len(outputs), 0.9), "J": np.zeros(len(outputs))}


@pytest.mark.parametrize(("kind", "side"), [("detoxify", "neutral"), ("toxify", "toxic")])
def test_evaluate_scores_the_synthetic_side_of_kept_rows_and_the_same_side_of_human_pairs(tmp_path, kind, side):
    from factory.evaluate.corpus import corpus_rows
    from factory.kinds.rewrite import scored_side

    recipe = _recipe(RECIPE.replace("kind: toxify", f"kind: {kind}"))
    synthetic = [Record.make("pair", toxic=f"you idiot {i}", neutral=f"you are wrong number {i}",
                             source=f"synthetic:{kind}", attributes={"synthetic_side": side}) for i in range(3)]
    synthetic[1].drop("near_duplicate")
    human = [Record.make("pair", toxic="shut up fool", neutral="please stop", source="human")]
    write_records(tmp_path / "filtered" / "power" / "rows.parquet", synthetic)
    write_records(tmp_path / "human" / "power" / "train.parquet", human)
    scorers = _FakeScorers()
    rows = corpus_rows(recipe, tmp_path, scorers, scored_side(recipe))
    assert [(r.id, r.attributes["side"]) for r in rows] == [(synthetic[0].id, "synthetic"),
                                                           (synthetic[2].id, "synthetic"), (human[0].id, "human")]
    other = "toxic" if side == "neutral" else "neutral"
    assert scorers.calls[1] == ([getattr(human[0], other)], [getattr(human[0], side)])  # SIM input, scored output
    assert rows[2].content() == getattr(human[0], side)
    assert rows[0].attributes["STA"] == pytest.approx(1 / len(getattr(synthetic[0], side).split()))
    assert corpus_rows(_recipe_lm(), tmp_path, scorers) == []  # kinds without synthetic-side floors: no side


def test_diversity_of_a_handful_of_rows_above_the_floors_is_not_certified():
    # the tiny toxify run: 1 of 29 kept rows above the floors; distinct-2 of one sentence is 1 on both sides
    one_good = corpus_side(29, 0.2, 0.8, 0.2, 6)
    one_good.scores["SIM"][0] = 0.9
    gate = distinct2_gate(_recipe(), {"synthetic": one_good, "human": corpus_side(200, 0.72, 0.82, 0.2, 2)})
    assert gate.value == pytest.approx(1.0) and not gate.passed
    assert "(1 of 29 synthetic" in gate.note and "fewer than certify.min_rows = 2" in gate.note
