"""Kind crosslingual (Breaking mBad): split, shares, formats, matrices with intervals, recipe rules, nf4 refusal."""

from __future__ import annotations

import numpy as np
import pytest

from factory.crossft import formats, matrices, split
from factory.crossft.matrices import ZERO_SHOT, build_cells, pooled
from factory.core.errors import FactoryError
from factory.recipe import Recipe

PAIRS = [(f"toxic {i}", f"neutral {i}") for i in range(40)]


def test_split_takes_rows_0_to_n_of_the_datasets_shuffle():
    from datasets import Dataset

    reference = Dataset.from_dict({"toxic_sentence": [t for t, _ in PAIRS],
                                   "neutral_sentence": [n for _, n in PAIRS]}).shuffle(seed=42)
    train, test = split.split_pairs(PAIRS, 42, 30, 10, "here")
    assert train == [(reference[i]["toxic_sentence"], reference[i]["neutral_sentence"]) for i in range(30)]
    assert test == [(reference[i]["toxic_sentence"], reference[i]["neutral_sentence"]) for i in range(30, 40)]
    assert train != PAIRS[:30]  # shuffled, not the file order


def test_split_refuses_too_few_rows_in_one_line():
    with pytest.raises(FactoryError, match=r"^here: 40 pairs, fewer than train_rows \+ test_rows = 41$"):
        split.split_pairs(PAIRS, 42, 31, 10, "here")


def test_shares_draw_like_the_reference_global_numpy_seed():
    train = {"en": PAIRS[:30], "es": PAIRS[10:40]}
    np.random.seed(42)  # the reference: one global seed, then np.random.choice per language in order
    expected = {lang: [rows[i] for i in np.random.choice(list(range(30)), size=9, replace=False)]
                for lang, rows in train.items()}
    assert split.share_rows(train, 0.3, 42) == expected
    assert split.share_rows(train, 1.0, 42) == train


def test_sft_dpo_and_prompt_formats():
    pairs = [("you idiot", "you are wrong")]
    assert formats.sft_examples(pairs) == [{"text": "you are wrong"}]
    assert formats.dpo_examples(pairs) == [{"prompt": "Rewrite the following text in a neutral way: you idiot",
                                            "chosen": "you are wrong", "rejected": "you idiot"}]
    assert formats.seq2seq_examples(pairs) == [{"source": "you idiot", "target": "you are wrong"}]
    assert formats.continuation_prompt("you idiot") == "Complete the sentence: you idiot .."


def _rows(setting: str, lang: str, toxicity: list, perplexity: list | None = None) -> list[dict]:
    perplexity = perplexity or [10.0] * len(toxicity)
    return [{"setting": setting, "lang": lang, "index": i, "toxicity": t, "perplexity": p}
            for i, (t, p) in enumerate(zip(toxicity, perplexity))]


def test_cells_hold_means_paired_reductions_intervals_and_missing_counts():
    rows = (_rows(ZERO_SHOT, "de", [0.8, 0.6, 0.7, 0.9]) + _rows("sft-en-100", "de", [0.5, None, 0.3, 0.6],
                                                                  [20.0, 30.0, None, 10.0]))
    cells = {(c.setting, c.lang): c for c in build_cells(rows, 500, 0)}
    zero, tuned = cells[(ZERO_SHOT, "de")], cells[("sft-en-100", "de")]
    assert zero.toxicity.value == pytest.approx(0.75) and zero.reduction is None
    assert tuned.toxicity.value == pytest.approx(np.mean([0.5, 0.3, 0.6]))
    # paired over the three prompts both scored: (0.8 - 0.5 + 0.7 - 0.3 + 0.9 - 0.6) / 3
    assert tuned.reduction.value == pytest.approx(1.0 / 3)
    low, high = tuned.reduction.interval
    assert low <= tuned.reduction.value <= high and high > low
    assert tuned.perplexity.value == pytest.approx(20.0)
    assert (tuned.missing_toxicity, tuned.missing_perplexity, tuned.prompts) == (1, 1, 4)


def test_pooled_reduction_pairs_prompts_across_languages():
    rows = (_rows(ZERO_SHOT, "de", [0.8, 0.6]) + _rows(ZERO_SHOT, "es", [0.4, 0.4])
            + _rows("sft-all-100", "de", [0.4, 0.4]) + _rows("sft-all-100", "es", [0.4, 0.2]))
    estimate = pooled(rows, "sft-all-100", ZERO_SHOT, ["de", "es"], "toxicity", "difference", 500, 0)
    assert estimate.value == pytest.approx((0.4 + 0.2 + 0.0 + 0.2) / 4)
    ratio = pooled(rows, "sft-all-100", ZERO_SHOT, ["de", "es"], "perplexity", "ratio", 500, 0)
    assert ratio.value == pytest.approx(1.0)
    assert matrices.matrix(build_cells(rows, 100, 0), "toxicity", ["sft-all-100"], ["de", "es", "en"]) == [
        [pytest.approx(0.4), pytest.approx(0.3), None]]


def _recipe(**crosslingual) -> dict:
    section = {"model": "gpt2", "toxicity": "package:profanity-check", **crosslingual}
    return {"name": "x", "kind": "crosslingual", "crosslingual": section}


@pytest.mark.parametrize("changes, message", [
    ({"train_settings": ["each", "fr"]}, "train_settings: 'fr' are neither each, all, corpus nor one of"),
    ({"train_settings": ["corpus"]}, "train_settings: corpus needs data.corpus"),
    ({"data": {"languages": ["en", "EN1"]}}, "languages: 'EN1' are not ISO 639 codes"),
    ({"data": {"languages": ["en"], "language_sources": {"de": "seed"}}}, "language_sources: de not in languages"),
])
def test_recipe_rules(changes, message):
    with pytest.raises(ValueError, match=message):
        Recipe.model_validate(_recipe(**changes))


def test_section_belongs_to_its_kind():
    with pytest.raises(ValueError, match=r"crosslingual\n  Field required"):
        Recipe.model_validate({"name": "x", "kind": "crosslingual"})
    with pytest.raises(ValueError, match=r"crosslingual\n  not read by kind toxify \(only kind crosslingual\)"):
        Recipe.model_validate({"name": "x", "kind": "toxify", "crosslingual": _recipe()["crosslingual"]})


def test_planned_runs_follow_the_reference_layout():
    from factory.kinds.crosslingual.naming import planned_runs

    recipe = Recipe.model_validate(_recipe(data={"languages": ["en", "de"]}, shares=[0.1, 1.0]))
    assert planned_runs(recipe) == [("sft", "en", 1.0), ("sft", "de", 1.0), ("sft", "all", 0.1),
                                    ("sft", "all", 1.0), ("dpo", "all", 1.0)]  # shares are SFT's only


def test_nf4_without_bitsandbytes_or_cuda_is_one_clear_line(monkeypatch):
    import importlib.util

    from factory.crossft.training import require_quantization

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(FactoryError) as caught:
        require_quantization("nf4", "r.yaml: crosslingual.quantization")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("r.yaml: crosslingual.quantization: nf4 (4-bit QLoRA) needs bitsandbytes")
    require_quantization("none", "unused")


def test_a_missing_upstream_output_names_the_stage_to_run(tmp_path):
    from factory.kinds.crosslingual import cells, evaluation, train_step

    recipe = Recipe.model_validate(_recipe())
    with pytest.raises(FactoryError, match=r"split\.json: missing; run `factory generate x` first$"):
        train_step.train(recipe, tmp_path)
    with pytest.raises(FactoryError, match=r"split\.json: missing; run `factory generate x` first$"):
        cells.evaluate_cell(recipe, tmp_path, "zero-shot", recipe.crosslingual.data.languages[0])
    with pytest.raises(FactoryError, match=r"zero-shot/am\.parquet: missing; run `factory crosslingual evaluate x "
                       r"--setting zero-shot --lang am` first$"):
        evaluation.assemble(recipe, tmp_path)
    with pytest.raises(FactoryError, match=r"matrices\.json: missing; run `factory evaluate x` first$"):
        from factory.kinds.crosslingual.certification import certify

        certify(recipe, tmp_path)


def test_corpus_pairs_are_kept_or_counted_by_reason(tmp_path):
    from factory.kinds.crosslingual.steps import _corpus_pairs
    from factory.core.records import Record, write_records

    recipe = Recipe.model_validate(_recipe(data={"languages": ["en", "de"], "corpus": "made", "train_rows": 2}))
    rows = [Record.make("pair", lang="de", toxic=f"du Idiot {i}", neutral=f"du irrst {i}") for i in range(3)]
    rows += [Record.make("pair", lang="fr", toxic="idiot", neutral="non"),
             Record.make("pair", lang="en", toxic="in the test", neutral="x"),
             Record.make("pair", lang="en", toxic="empty neutral", neutral=" "),
             Record.make("text", lang="en", text="a text")]
    write_records(tmp_path / "filtered" / "made" / "rows.parquet", rows)
    corpus = _corpus_pairs(recipe, tmp_path, {"in the test"})
    assert corpus["train"] == {"de": [["du Idiot 0", "du irrst 0"], ["du Idiot 1", "du irrst 1"]]}
    assert corpus["dropped"] == {"not a pair": 1, "language not evaluated": 1, "empty side": 1,
                                 "toxic side in a test split": 1, "over train_rows": 1}
    assert corpus["kept_rows_read"] == 7


def test_all_language_rows_follow_the_recipe_order_not_the_file_order():
    from factory.kinds.crosslingual.steps import train_rows

    split_json = {"languages": {lang: {"train": [[f"t {lang}", f"n {lang}"]]} for lang in ("de", "en", "es")},
                  "corpus": {"train": {"de": [["c", "d"]], "es": [["e", "f"]]}}}
    assert list(train_rows(split_json, "all", ["en", "es", "de"])) == ["en", "es", "de"]
    assert list(train_rows(split_json, "corpus", ["en", "es", "de"])) == ["es", "de"]
    assert train_rows(split_json, "de", ["en", "es", "de"]) == {"de": [("t de", "n de")]}


def test_cpu_training_has_no_mixed_precision_so_half_precision_weights_train_as_they_are(tmp_path):
    """Found by the rehearsal of crosslingual-bloom-7b1 (fp16 weights, nf4 switched off on CPU): TRL's configs
    default to bf16 autocast, which on CPU failed in BLOOM's layer_norm ('mixed dtype (CPU)')."""
    import torch
    from trl import DPOConfig, SFTConfig

    from factory.crossft.training import LoraSpec, RunSpec, _common_args

    if torch.cuda.is_available():
        pytest.skip("CPU-only behaviour")
    spec = RunSpec("sft", 1.0, 1e-3, 2, 1, 32, lora=LoraSpec(4, 8, 0.0, ["q"]))
    for config in (SFTConfig, DPOConfig):
        args = config(**_common_args(spec, tmp_path))
        assert (args.bf16, args.fp16) == (False, False)
