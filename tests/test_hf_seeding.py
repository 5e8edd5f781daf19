"""The hf backend samples every completion with its own generator: a request's text depends on
the request alone, not on which requests share its batch.

Before, one RNG stream per batch (seeded by the batch's first request) meant that `generate
--limit 3` followed by a full run (the 3 cached, the rest in shifted batches) gave other rows
than a clean full run, though the request cache is keyed per request.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_helpers import build_tiny_chat_lm
from cache_worker import make_requests
from factory.cli import app
from factory.models.backends.hf import HFBackend
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Sampling
from factory.core.records import read_records

REPO = Path(__file__).resolve().parent.parent
SAMPLED = Sampling(temperature=0.9, top_p=0.95, top_k=50, max_new_tokens=8, n=2, stop=[])
RECIPE = """\
name: seeded
kind: toxify
seed: 3
models:
  generator: zoo:causal-lm
  fluency: zoo:fluency
  detoxifier: zoo:seq2seq
generate:
  max_inputs: 12
  batch_size: 4
  prompt: {few_shot: 1}
  sampling: {max_new_tokens: 8, seed: 3}
  checks: {min_similarity: 0.1, max_attempts: 2}
"""


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return build_tiny_chat_lm(tmp_path_factory.mktemp("tiny") / "lm")


def test_a_request_gives_the_same_completions_alone_or_in_any_batch(tiny_lm):
    requests = make_requests(10)
    spec = ModelSpec(ref=str(tiny_lm))
    batched = HFBackend(spec, Path("."), batch_size=4).generate(requests, SAMPLED)
    assert len({c for outs in batched for c in outs}) == 20, "noise LM: every completion differs"
    alone = HFBackend(spec, Path("."), batch_size=1)
    assert [alone.generate([r], SAMPLED)[0] for r in requests] == batched
    shifted = HFBackend(spec, Path("."), batch_size=3).generate(requests[3:] + requests[:3], SAMPLED)
    assert shifted == batched[3:] + batched[:3]


@pytest.mark.slow
def test_a_limited_run_then_a_full_run_gives_the_rows_of_a_clean_full_run(data_root, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = tmp_path / "seeded.yaml"
    recipe.write_text(RECIPE)
    clean = data_root.parent / "clean"
    clean.mkdir()
    (clean / "models").symlink_to(data_root / "models", target_is_directory=True)
    runner = CliRunner()

    def run(root: Path, *extra: str) -> None:
        result = runner.invoke(app, ["generate", str(recipe), "--root", str(root), *extra])
        assert result.exit_code == 0, result.output

    for root in (data_root, clean):
        assert runner.invoke(app, ["ingest", str(recipe), "--root", str(root)]).exit_code == 0
    run(data_root, "--limit", "3")
    run(data_root)
    run(clean)
    resumed = read_records(data_root / "generated" / "seeded" / "rows.parquet")
    fresh = read_records(clean / "generated" / "seeded" / "rows.parquet")
    assert len(fresh) >= 12 and resumed == fresh
