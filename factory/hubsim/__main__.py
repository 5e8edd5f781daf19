"""`python -m factory.hubsim build --out data/hubsim` and `... serve --folder data/hubsim --port-file F`."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from factory.hubsim import minidata, minimodels

BUILD_VERSION = "1"
"""Bumped when the miniatures change, so a cached build is rebuilt."""


def _stamp() -> str:
    sources = sorted(Path(__file__).parent.glob("*.py"))
    digest = hashlib.sha256(BUILD_VERSION.encode())
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(out: Path, shared: Path | None, force: bool = False) -> Path:
    """Write every miniature model and dataset under `out`; a build of the same sources is reused."""
    stamp = out / "BUILD"
    key = f"{_stamp()} shared={bool(shared and shared.is_dir())}"
    if not force and stamp.exists() and stamp.read_text() == key:
        return out
    if out.exists():
        shutil.rmtree(out)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    corpus = minidata.tokenizer_corpus()
    for repo_id in minimodels.MODELS:
        minimodels.build_model(repo_id, out / "models" / repo_id, corpus)
    minimodels.build_labse(out / "models" / minimodels.LABSE, corpus)
    source = shared if shared and shared.is_dir() else None
    for repo_id, write in minidata.DATASETS.items():
        (out / "datasets" / repo_id).mkdir(parents=True, exist_ok=True)
        write(out / "datasets" / repo_id, source)
    stamp.write_text(key)
    return out


def serve(folder: Path, port: int, port_file: Path | None) -> None:
    """Serve `folder` on 127.0.0.1 until killed; write the URL to `port_file` once listening."""
    from factory.hubsim.server import HubSim

    with HubSim(folder, port) as hub:
        if port_file:
            port_file.write_text(hub.url)
        print(hub.url, flush=True)
        while True:
            time.sleep(3600)


def main(argv: list[str] | None = None) -> None:
    """Command line: `build` or `serve`."""
    parser = argparse.ArgumentParser(prog="python -m factory.hubsim")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="Build the miniature Hub folder (cached).")
    b.add_argument("--out", type=Path, default=Path("data/hubsim"))
    b.add_argument("--shared", type=Path, default=Path("../shared/data"),
                   help="Real rows for the datasets when this folder exists (never required).")
    b.add_argument("--force", action="store_true")
    s = sub.add_parser("serve", help="Serve a built folder on 127.0.0.1.")
    s.add_argument("--folder", type=Path, default=Path("data/hubsim"))
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        started = time.time()
        out = build(args.out, args.shared, args.force)
        print(json.dumps({"built": str(out), "seconds": round(time.time() - started, 1)}))
    else:
        serve(args.folder, args.port, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
