"""The `truncated` flag end to end: the hf backend, Ray's postprocessing, the rewrite stage.

A tiny chat LM trained to answer every prompt with ANSWER and EOS (greedy) gives a real end
of text: with room for it a completion is not truncated, with fewer tokens it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend_helpers import build_answering_lm
from factory.engines.ray_generate import http_result, vllm_result
from factory.generate import rewrite
from factory.models.backends import Request, request_seed
from factory.models.backends.hf import HFBackend
from factory.recipe import Recipe, load_recipe
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Sampling
from factory.core.records import Record

REPO = Path(__file__).resolve().parent.parent
ANSWER = " please rewrite the following text"
GREEDY = Sampling(temperature=0.0, max_new_tokens=32, n=1, stop=["\n"])
INPUTS = ["the weather is nice today", "the meeting moved to thursday", "you are wrong about this"]
POOL = [Record.make("pair", lang="en", toxic=f"shut up, fool number {i}", neutral=f"please stop, friend number {i}",
                    split="train") for i in range(4)]


def chat_requests(n: int) -> list[Request]:
    return [Request(key=f"k{i}", seed=request_seed(5, f"k{i}"),
                    messages=({"role": "system", "content": "be polite"}, {"role": "user", "content": f"comment {i}"}))
            for i in range(n)]


def rewrite_recipe(**generate) -> Recipe:
    recipe = load_recipe(REPO / "recipes" / "tiny" / "toxify.yaml")
    settings = recipe.generate.model_copy(update={"sampling": GREEDY, **generate})
    return recipe.model_copy(update={"generate": settings})


@pytest.fixture(scope="module")
def answering_lm(tmp_path_factory) -> Path:
    prompts = [list(r.messages) for r in chat_requests(6)]
    prompts += [list(r.messages) for r in rewrite.build_requests(rewrite_recipe(), "toxify", INPUTS, POOL)]
    return build_answering_lm(tmp_path_factory.mktemp("answering") / "lm", prompts, ANSWER)


@pytest.fixture(scope="module")
def hf(answering_lm) -> HFBackend:
    return HFBackend(ModelSpec(ref=str(answering_lm)), Path("."), batch_size=4)


def flags(outputs) -> list[bool]:
    return [c.truncated for outs in outputs for c in outs]


def test_hf_flags_completions_cut_by_the_token_limit(hf):
    requests = chat_requests(6)
    answer_tokens = len(hf.tokenizer(ANSWER, add_special_tokens=False)["input_ids"])
    ended = hf.generate(requests, GREEDY)
    assert [str(c) for outs in ended for c in outs] == [ANSWER.strip()] * 6
    assert flags(ended) == [False] * 6
    exact = hf.generate(requests, GREEDY.model_copy(update={"max_new_tokens": answer_tokens + 1}))
    assert flags(exact) == [False] * 6, "EOS as the last allowed token ends the text"
    full = hf.generate(requests, GREEDY.model_copy(update={"max_new_tokens": answer_tokens}))
    assert [str(c) for outs in full for c in outs] == [ANSWER.strip()] * 6
    assert flags(full) == [True] * 6, "every token used and no EOS: truncated, though the words are complete"
    sampled = hf.generate(requests, Sampling(temperature=0.8, top_p=0.9, max_new_tokens=2, n=2, stop=["\n"]))
    assert [len(outs) for outs in sampled] == [2] * 6 and flags(sampled) == [True] * 12
    upto = len(hf.tokenizer(" please rewrite", add_special_tokens=False)["input_ids"])
    stopped = hf.generate(requests, GREEDY.model_copy(update={"max_new_tokens": upto, "stop": [" rewrite"]}))
    assert [str(c) for outs in stopped for c in outs] == ["please"] * 6
    assert flags(stopped) == [False] * 6, "cut at a stop string is not truncated"


def test_rewrite_drops_truncated_rows_and_resamples_them(hf, tmp_path):
    short = GREEDY.model_copy(update={"max_new_tokens": 2})
    checks = rewrite_recipe().generate.checks.model_copy(update={"max_attempts": 2})
    rows = rewrite.generate_and_check(rewrite_recipe(sampling=short, checks=checks), hf, "toxify", INPUTS, POOL,
                                      tmp_path)
    assert [(r.drop_reason, r.attributes["attempt"]) for r in rows] == [("truncated", 1)] * len(INPUTS)
    off = checks.model_copy(update={"truncated": False})
    rows = rewrite.generate_and_check(rewrite_recipe(sampling=short, checks=off), hf, "toxify", INPUTS, POOL, tmp_path)
    assert len(rows) == len(INPUTS) and not any(r.drop_reason == "truncated" for r in rows)
    rows = rewrite.generate_and_check(rewrite_recipe(checks=checks), hf, "toxify", INPUTS, POOL, tmp_path)
    assert [r.toxic for r in rows] == [ANSWER.strip()] * len(INPUTS)
    assert not any(r.drop_reason == "truncated" for r in rows), "the same text, ended by EOS, fails other checks only"


def test_ray_postprocessing_carries_the_flags(hf, answering_lm):
    answer = hf.tokenizer(ANSWER, add_special_tokens=False)["input_ids"]
    sampling = GREEDY.model_dump(mode="json")

    def truncated(tokens: list[int], max_new_tokens: int, stop: list[str], **kwargs) -> bool:
        row = {"row": 3, "choice": 1, "generated_text": "x", "generated_tokens": tokens, "num_input_tokens": 10}
        out = vllm_result(row, model=str(answering_lm), revision=None,
                          sampling={**sampling, "max_new_tokens": max_new_tokens, "stop": stop}, **kwargs)
        assert (out["row"], out["choice"], out["texts"]) == (3, 1, ["x"])
        return out["truncated"][0]

    eos = hf.tokenizer.eos_token_id
    assert truncated(answer, len(answer), ["\n"])
    assert not truncated(answer + [eos], len(answer) + 1, ["\n"]), "ended by EOS"
    assert not truncated(answer[:-1], len(answer), ["\n"]), "fewer tokens than the limit"
    assert not truncated(answer, len(answer), [" rewrite"]), "a stop string cut the text"
    assert truncated(answer[:-1], 32, ["\n"], max_model_len=10 + len(answer) - 1), "the context is full"

    choices = [{"index": 1, "message": {"content": " b "}, "finish_reason": "length"},
               {"index": 0, "message": {"content": "a"}, "finish_reason": "stop"}]
    out = http_result({"row": 7, "http_response": {"choices": choices}}, mode="chat", n=2)
    assert out == {"row": 7, "choice": 0, "texts": ["a", "b"], "truncated": [False, True]}


def test_stripping_a_completion_keeps_its_truncated_flag():
    from factory.models.backends import Completion, is_truncated

    cut = Completion("  a sentence cut at the lim \n", truncated=True)
    assert [is_truncated(f()) for f in (cut.strip, cut.lstrip, cut.rstrip)] == [True, True, True]
    assert cut.strip() == "a sentence cut at the lim" and not is_truncated(Completion(" done ").strip())
    assert not is_truncated(cut[2:])  # other operations give plain text (documented)
