"""Outputs are never lost, replaced without asking, or fought over: folders the user names,
swaps cut short, concurrent writers, file modes under the umask, and the cache (`factory clean`)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.core import outputs
from factory.cli import app
from factory.core.outputs import atomic_dir, folder_lock
from factory.core.records import Record, write_json, write_records
from test_publish import RECIPE, make_release_inputs

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _user_folder(tmp_path: Path) -> Path:
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    (mine / "sub" / "data.csv").write_text("a,b\n")
    return mine


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def release(tmp_path) -> tuple[Path, Path]:
    recipe = tmp_path / "pub.yaml"
    recipe.write_text(RECIPE)
    root = tmp_path / "data"
    make_release_inputs(root, recipe)
    return recipe, root


def _empty_results(root: Path) -> Path:
    """Evaluation metrics of a recipe `none` with no system: `factory plots none` has nothing to draw but succeeds."""
    (root / "eval" / "none").mkdir(parents=True, exist_ok=True)
    (root / "eval" / "none" / "metrics.json").write_text('{"systems": {}}')
    return root


# --- 1. folders the user names are replaced only when the factory made them, or with --overwrite


def test_publish_dry_run_refuses_a_folder_the_factory_did_not_make(release, tmp_path):
    recipe, root = release
    mine = _user_folder(tmp_path)
    refused = _invoke("publish", recipe, "--root", root, "--dry-run", mine)
    assert refused.exit_code == 2
    assert refused.output.strip() == (f"error: {mine}: refusing to replace this folder: the factory did not make it "
                                      "(no .factory-made file; 2 entries); name another folder, or pass --overwrite "
                                      "to replace it")
    assert _files(mine) == ["notes.txt", "sub/data.csv"]
    assert _invoke("publish", recipe, "--root", root, "--dry-run", mine, "--overwrite").exit_code == 0
    assert (mine / ".factory-made").read_text() == "factory publish\n" and not (mine / "notes.txt").exists()
    again = _invoke("publish", recipe, "--root", root, "--dry-run", mine)  # its own folder: replaced
    assert again.exit_code == 0, again.output


def test_no_output_may_be_or_contain_the_data_root_or_working_directory(release, tmp_path, monkeypatch):
    recipe, root = release
    before = _files(root)
    monkeypatch.chdir(root / "filtered")
    for target in (root, tmp_path, ".", ".."):
        result = _invoke("publish", recipe, "--root", root, "--dry-run", target, "--overwrite")
        assert result.exit_code == 2 and "refusing to write an output here: it is or contains the" in result.output
    assert _files(root) == before


def test_the_pipelines_own_folders_of_older_versions_are_replaced_without_asking(release, tmp_path):
    recipe, root = release
    for folder in (root / "release" / "pub", root / "plots"):  # made by a version without markers
        folder.mkdir(parents=True)
        (folder / "old.txt").write_text("old")
    dvc_publish = _invoke("publish", recipe, "--root", root, "--dry-run", root / "release" / "pub", "--force")
    assert dvc_publish.exit_code == 0, dvc_publish.output
    assert _files(root / "release" / "pub")[:2] == [".factory-made", "README.md"]
    assert not (root / "release" / "pub" / "old.txt").exists()
    _empty_results(root)
    for _ in range(2):
        dvc_plots = _invoke("plots", "none", "--root", root, "--out", root / "plots")
        assert dvc_plots.exit_code == 0, dvc_plots.output
    assert ".factory-made" in _files(root / "plots") and "old.txt" not in _files(root / "plots")


def test_plots_refuses_a_folder_the_factory_did_not_make(tmp_path):
    mine = _user_folder(tmp_path)
    _empty_results(tmp_path / "data")
    result = _invoke("plots", "none", "--root", tmp_path / "data", "--out", mine)
    assert result.exit_code == 2 and f"{mine}: refusing to replace this folder" in result.output
    assert _files(mine) == ["notes.txt", "sub/data.csv"]
    assert _invoke("plots", "none", "--root", tmp_path / "data", "--out", mine, "--overwrite").exit_code == 0


@pytest.fixture
def quick_zoo(monkeypatch) -> list[str]:
    """`factory zoo` with every training step replaced by writing a file; returns the models built."""
    from factory.models import zoo, zoo_text, zoo_train

    built: list[str] = []

    def fake(folder: Path, *args) -> dict:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        built.append(folder.name)
        return {"folder": folder.name}

    monkeypatch.setattr(zoo_text, "stdlib_sentences", lambda: ["one sentence"])
    monkeypatch.setattr(zoo_train, "train_bpe", lambda sentences, size: None)
    for name in ("build_causal_lm", "build_seq2seq", "build_fluency", "build_toxicity"):
        monkeypatch.setattr(zoo, name, fake)
    return built


def test_zoo_refuses_a_folder_the_factory_did_not_make_before_training(quick_zoo, tmp_path, monkeypatch):
    mine = _user_folder(tmp_path)
    result = _invoke("zoo", "--out", mine)
    assert result.exit_code == 2 and f"{mine}: refusing to replace this folder" in result.output
    assert quick_zoo == [] and _files(mine) == ["notes.txt", "sub/data.csv"]
    monkeypatch.chdir(tmp_path)
    old = tmp_path / "data" / "models" / "zoo"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text("{}")  # a zoo of an older version: no marker
    for _ in range(2):  # the DVC stage, run twice
        assert _invoke("zoo", "--out", "data/models/zoo").exit_code == 0
    assert (old / ".factory-made").read_text() == "factory zoo\n"


def test_abliterate_refuses_a_folder_the_factory_did_not_make_before_loading(tmp_path, monkeypatch):
    from factory.models import loading

    monkeypatch.setattr(loading, "load_causal_lm", lambda *a, **k: pytest.fail("the model was loaded"))
    mine = _user_folder(tmp_path)
    result = _invoke("abliterate", "some/model", "--out", mine)
    assert result.exit_code == 2 and f"{mine}: refusing to replace this folder" in result.output
    assert _files(mine) == ["notes.txt", "sub/data.csv"]


# --- 2. a swap cut short never loses the output


def _write(out: Path, text: str) -> None:
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text(text)


def test_an_output_stranded_between_the_two_renames_is_restored(tmp_path):
    out = tmp_path / "stage"
    _write(out, "first")
    os.replace(out, tmp_path / ".stage.old-4242")  # what a kill between the two renames leaves
    with pytest.raises(RuntimeError):
        with atomic_dir(out):
            raise RuntimeError("the next run fails too")
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage"]


def test_an_old_copy_beside_a_present_output_is_removed(tmp_path):
    out = tmp_path / "stage"
    _write(out, "first")
    (tmp_path / ".stage.old-4242").mkdir()
    _write(out, "second")
    assert (out / "a.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage"]


def test_the_swap_has_no_moment_without_the_output(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    if not outputs.exchange(a, b):
        pytest.skip("this filesystem cannot exchange two entries atomically")
    out = tmp_path / "stage"
    _write(out, "first")
    real_replace = os.replace

    def killed_after_first_rename(src, dst):
        if Path(src).name.startswith(".stage.tmp-"):
            raise RuntimeError("killed between the two renames")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_after_first_rename)
    _write(out, "second")
    assert (out / "a.txt").read_text() == "second"


# --- 3. one writer per output folder; a second one is told who holds it


WRITER = """
import sys, time
from pathlib import Path
from factory.core.errors import FactoryError
from factory.core.outputs import atomic_dir
out, go = Path(sys.argv[1]), Path(sys.argv[2])
try:
    with atomic_dir(out) as tmp:
        (tmp / "first.txt").write_text("1")
        print("ready", flush=True)
        deadline = time.monotonic() + 30
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (tmp / "second.txt").write_text("2")
except FactoryError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
"""


def test_a_second_writer_stops_naming_the_first_and_leaves_its_folder_alone(tmp_path):
    out, go = tmp_path / "data" / "plots", tmp_path / "go"
    _empty_results(tmp_path / "data")
    first = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(go)], stdout=subprocess.PIPE, text=True,
                             env=ENV)
    try:
        assert first.stdout.readline().strip() == "ready"
        second = subprocess.run([sys.executable, "-m", "factory", "plots", "none", "--root", "data"],
                                capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=120)
        assert second.returncode == 2, second.stderr
        assert f"error: data/plots: is being written by pid {first.pid} on " in second.stderr
        assert "since 20" in second.stderr and "wait for that run to finish" in second.stderr
    finally:
        go.touch()
        assert first.wait(timeout=60) == 0
    assert _files(out) == [".factory-made", "first.txt", "second.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["eval", "plots"]


def test_concurrent_writers_never_break_each_other(tmp_path):
    out, go = tmp_path / "stage", tmp_path / "go"
    procs = []
    for _ in range(4):  # started a little apart, so their builds overlap
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(go)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=ENV))
        time.sleep(0.3)
    time.sleep(0.5)
    go.touch()
    codes = [p.wait(timeout=120) for p in procs]
    errors = [p.stderr.read() for p in procs]
    assert set(codes) <= {0, 2} and 0 in codes, errors
    assert all("is being written by pid" in e for c, e in zip(codes, errors) if c == 2)
    assert _files(out) == [".factory-made", "first.txt", "second.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "stage"]


# --- 4. modes follow the umask


@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o007, 0o770, 0o660)])
def test_outputs_get_the_modes_of_mkdir_and_open_under_the_umask(tmp_path, umask, folder_mode, file_mode):
    previous = os.umask(umask)
    try:
        with atomic_dir(tmp_path / "release") as tmp:
            write_json(tmp / "certificate.json", {"certified": True})
        write_json(tmp_path / "summary.json", {})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "release").stat().st_mode) == folder_mode
    for file in (tmp_path / "release" / "certificate.json", tmp_path / "release" / ".factory-made",
                 tmp_path / "summary.json"):
        assert stat.S_IMODE(file.stat().st_mode) == file_mode, file


# --- 5. the cache: listed with sizes, stale folders removed only by `factory clean`


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """A data root with a stand-in zoo seq2seq folder (the fingerprints only read its files), also the CLI's zoo."""
    root = tmp_path / "data"
    (root / "models" / "zoo" / "seq2seq").mkdir(parents=True)
    (root / "models" / "zoo" / "seq2seq" / "config.json").write_text("{}")
    monkeypatch.setenv("FACTORY_ZOO", str(root / "models" / "zoo"))
    return root


@pytest.fixture
def cache_root(data_root, monkeypatch) -> dict[str, Path]:
    """A data root whose cache holds current, stale, unknown and request-cache entries."""
    from factory.recipe import load_recipe
    from factory.train.pairs import checkpoint_folder

    monkeypatch.chdir(REPO)  # params.yaml lists toxify and detoxify, not `gone`
    rows = [Record.make("pair", toxic=f"you fool {i}", neutral=f"you are wrong {i}", split="train") for i in range(4)]
    write_records(data_root / "mixed" / "toxify" / "ratio-0.00.parquet", rows)
    write_json(data_root / "mixed" / "toxify" / "manifest.json", {"mixes": [{"ratio": 0.0}]})
    cache = data_root / "cache"
    paths = {
        "current": checkpoint_folder(load_recipe(REPO / "recipes" / "tiny" / "toxify.yaml"), rows, "ratio-0.00",
                                     data_root),
        "stale": cache / "toxify" / "train" / "ratio-0.00-0123456789abcdef",
        "gone": cache / "gone" / "train" / "ratio-0.50-0123456789abcdef",
        "unknown": cache / "detoxify" / "train" / "ratio-0.00-0123456789abcdef",  # no data/mixed/detoxify
    }
    for path in paths.values():
        path.mkdir(parents=True)
        (path / "step-4.pt").write_bytes(b"x" * 2000)
    for name in ("toxify", "gone"):
        paths[f"requests-{name}"] = cache / name / "requests.sqlite"
        paths[f"requests-{name}"].write_bytes(b"r" * 500)
        (cache / name / "requests.sqlite-wal").write_bytes(b"w" * 100)
    return paths


def test_status_cache_lists_every_entry_with_its_size_and_verdict(cache_root, data_root):
    result = _invoke("status", "--cache", "--root", data_root)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"cache {data_root / 'cache'}: 6 entries, 9.2 kB; 2 stale (4.0 kB), removed by `factory clean`"
    assert f"  {cache_root['current']}  2.0 kB  training checkpoints: current" in lines
    assert f"  {cache_root['stale']}  2.0 kB  training checkpoints: stale (not the current fingerprint)" in lines
    assert (f"  {cache_root['gone']}  2.0 kB  training checkpoints: stale (recipe gone is not in params.yaml)"
            in lines)
    assert f"  {cache_root['unknown']}  2.0 kB  training checkpoints: kept (current fingerprint unknown: " \
           f"FactoryError: {data_root / 'mixed' / 'detoxify'}: missing; run `factory mix detoxify" in result.output
    assert (f"  {cache_root['requests-toxify']}  600 B  request cache: kept (`factory clean --requests` removes it)"
            in lines)


def test_clean_removes_only_stale_folders_and_dry_run_only_lists_them(cache_root, data_root):
    dry = _invoke("clean", "--root", data_root, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[-1].startswith("clean: would remove 2 of 6 entries")
    assert all(path.exists() for path in cache_root.values())
    done = _invoke("clean", "--root", data_root)
    assert done.exit_code == 0, done.output
    assert f"clean: removed {cache_root['stale']} (2.0 kB; training checkpoints: not the current fingerprint)" \
        in done.output
    gone = [name for name, path in cache_root.items() if not path.exists()]
    assert sorted(gone) == ["gone", "stale"]
    assert not (data_root / "cache" / "gone" / "train").exists()  # emptied by the clean
    requests = _invoke("clean", "--root", data_root, "--requests")
    assert requests.exit_code == 0, requests.output
    assert sorted(p.name for p in (data_root / "cache" / "toxify").iterdir()) == ["train"]  # -wal went too
    assert not (data_root / "cache" / "gone").exists()  # emptied
    assert cache_root["current"].exists() and cache_root["unknown"].exists()


def test_clean_leaves_a_recipe_alone_while_its_stage_runs(cache_root, data_root):
    (data_root / "trained").mkdir()
    with folder_lock(data_root / "trained" / "gone"):  # `factory train gone` is running
        listing = _invoke("status", "--cache", "--root", data_root).output
        result = _invoke("clean", "--root", data_root)
    writer = data_root / "trained" / "gone"
    assert f"training checkpoints: kept (in use: {writer} is being written by pid {os.getpid()}" in listing
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("clean: removed 1 of 6 entries")
    assert cache_root["gone"].exists() and not cache_root["stale"].exists()


def test_clean_restores_a_stranded_cache_folder_and_removes_dead_temporaries(data_root, monkeypatch):
    monkeypatch.chdir(REPO)
    base = data_root / "cache" / "gone"
    (base / ".toxic-k.old-77").mkdir(parents=True)  # a kill between the renames of the toxic model's swap
    (base / ".toxic-k.old-77" / "model.safetensors").write_bytes(b"w")
    (base / ".toxic-j.tmp-77-abcd").mkdir()  # the build folder of a writer that died
    dry = _invoke("clean", "--root", data_root, "--dry-run").output
    assert f"clean: would restore {base / '.toxic-k.old-77'} (1 B; leftover of an interrupted write: toxic-k is " \
           "missing: restored as toxic-k)" in dry
    assert f"clean: would remove {base / '.toxic-j.tmp-77-abcd'} (0 B; leftover" in dry
    assert _invoke("clean", "--root", data_root).exit_code == 0
    assert sorted(p.name for p in base.iterdir()) == ["toxic-k"]
    assert (base / "toxic-k" / "model.safetensors").read_bytes() == b"w"
