"""A generation run for the resume tests, meant to be killed: `python cache_worker.py MODEL CACHE OUT N PACE`.

Opens the hf backend behind the request cache, prints `ready`, generates N requests
(each batch after a PACE-second pause so the parent can kill it mid-run), then writes
`[[key, outputs], ...]` in input order to OUT and prints the cache statistics as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from factory.models.backends import Request, open_backend, request_seed
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Generate, Sampling

SAMPLING = Sampling(temperature=0.9, top_p=0.95, max_new_tokens=8, stop=[])


def make_requests(n: int, base_seed: int = 7) -> list[Request]:
    """n distinct chat requests with seeds derived from their keys."""
    requests = []
    for i in range(n):
        key = f"row-{i:03d}"
        messages = ({"role": "system", "content": "rewrite politely"},
                    {"role": "user", "content": f"sentence {i} is rude"})
        requests.append(Request(key=key, messages=messages, seed=request_seed(base_seed, key)))
    return requests


def main(model: str, cache: str, out: str, n: int, pace: float) -> None:
    """Run the generation; see the module docstring."""
    settings = Generate(backend="hf", batch_size=4, sampling=SAMPLING)
    backend = open_backend(settings, ModelSpec(ref=model), Path("."), cache=Path(cache))
    inner = backend.inner
    generate = inner.generate

    def paced(requests, sampling):
        time.sleep(pace)
        return generate(requests, sampling)

    inner.generate = paced
    print("ready", flush=True)
    requests = make_requests(n)
    outputs = backend.generate(requests, SAMPLING)
    Path(out).write_text(json.dumps([[r.key, o] for r, o in zip(requests, outputs)]))
    print(json.dumps(backend.stats), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
