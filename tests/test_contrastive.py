"""UniDetox contrastive decoding: one step against the formula, batching, the two KV caches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from factory.models.contrastive import (
    ContrastiveSettings,
    contrastive_generate,
    next_token_probs,
    sample_inverse_cdf,
    sequence_uniforms,
)

BASE = np.array([[2.0, 1.9, 0.5, -1.0, 3.0, -0.2, 0.7, 2.8],
                 [0.1, 0.0, 5.0, 4.0, -3.0, 2.0, 4.5, 1.0]])
TOXIC = np.array([[0.3, 2.5, 1.0, 4.0, 3.2, -1.0, 0.0, 0.5],
                  [1.0, 2.0, 5.5, 1.0, 0.0, 0.0, 4.0, 3.0]])


def formula(base: np.ndarray, toxic: np.ndarray, alpha: float) -> np.ndarray:
    """softmax(log p_base - log p_toxic) over {v: p_base(v) >= alpha max p_base}, computed independently."""
    p_base = np.exp(base) / np.exp(base).sum(-1, keepdims=True)
    p_toxic = np.exp(toxic) / np.exp(toxic).sum(-1, keepdims=True)
    plausible = p_base >= alpha * p_base.max(-1, keepdims=True)
    ratio = np.where(plausible, p_base / p_toxic, 0.0)
    return ratio / ratio.sum(-1, keepdims=True)


def test_one_step_equals_the_formula_in_float64_mask_included():
    expected = formula(BASE, TOXIC, 0.1)
    got = next_token_probs(torch.tensor(BASE), torch.tensor(TOXIC), ContrastiveSettings(alpha=0.1)).numpy()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    masked = expected == 0
    assert masked.any(axis=1).all() and (~masked).sum(axis=1).min() >= 2  # the mask matters in both rows
    assert (got[masked] == 0).all()
    # the toxic model's favourite plausible token loses mass: row 0 token 4 vs base softmax
    p_base = np.exp(BASE[0]) / np.exp(BASE[0]).sum()
    assert got[0, 4] < p_base[4] / p_base[~masked[0]].sum()


def test_alpha_one_keeps_only_the_base_argmax():
    got = next_token_probs(torch.tensor(BASE), torch.tensor(TOXIC), ContrastiveSettings(alpha=1.0)).numpy()
    np.testing.assert_array_equal(got.argmax(-1), BASE.argmax(-1))
    np.testing.assert_allclose(got.max(-1), 1.0)


def test_top_k_and_top_p_cut_the_contrastive_distribution():
    full = formula(BASE, TOXIC, 0.1)
    top2 = next_token_probs(torch.tensor(BASE), torch.tensor(TOXIC), ContrastiveSettings(alpha=0.1, top_k=2)).numpy()
    for row in range(2):
        best = np.argsort(-full[row])[:2]
        np.testing.assert_allclose(top2[row, best], full[row, best] / full[row, best].sum(), atol=1e-12)
        assert (np.count_nonzero(top2[row]) == 2)
    nucleus = next_token_probs(torch.tensor(BASE), torch.tensor(TOXIC),
                               ContrastiveSettings(alpha=0.1, top_p=0.5)).numpy()
    for row in range(2):
        order = np.argsort(-full[row])
        need = int(np.searchsorted(np.cumsum(full[row, order]), 0.5) + 1)  # smallest prefix with mass >= 0.5
        assert set(np.flatnonzero(nucleus[row])) == set(order[:need])


def test_inverse_cdf_sampling_follows_the_distribution():
    probs = torch.tensor([[0.0, 0.25, 0.0, 0.75]], dtype=torch.float64)
    picks = [int(sample_inverse_cdf(probs, torch.tensor([u], dtype=torch.float64)))
             for u in (0.0, 0.2, 0.25, 0.9, 0.999999)]
    assert picks == [1, 1, 3, 3, 3]


def _tiny_models():
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=40, n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    base = GPT2LMHeadModel(config).eval()
    torch.manual_seed(1)
    toxic = GPT2LMHeadModel(config).eval()
    return base, toxic


@pytest.fixture(scope="module")
def models():
    return _tiny_models()


def _generate(models, batch_size: int, num_texts: int = 6, eos_id: int | None = 1):
    base, toxic = models
    return contrastive_generate(base, toxic, bos_id=0, eos_id=eos_id, num_texts=num_texts, max_length=24,
                                batch_size=batch_size, seed=7, settings=ContrastiveSettings(alpha=0.1))


def test_batched_sampler_gives_the_same_text_as_unbatched(models):
    single = _generate(models, batch_size=1)
    assert _generate(models, batch_size=6) == single
    assert _generate(models, batch_size=4) == single
    assert len({tuple(t) for t in single}) == len(single)  # different texts, not one stream copied
    assert all(1 not in t for t in single)  # EOS ends a text and is not part of it


def test_two_kv_caches_match_decoding_without_any_cache(models):
    base, toxic = models
    got = _generate(models, batch_size=3, num_texts=3, eos_id=None)
    uniforms = sequence_uniforms(7, range(3), 23)
    ids = torch.zeros((3, 1), dtype=torch.long)
    with torch.inference_mode():
        for step in range(23):
            probs = next_token_probs(base(ids).logits[:, -1], toxic(ids).logits[:, -1], ContrastiveSettings(alpha=0.1))
            ids = torch.cat([ids, sample_inverse_cdf(probs, uniforms[:, step])[:, None]], dim=1)
    assert got == ids[:, 1:].tolist()
