"""Publishing: the dry-run release re-loads; the upload makes one private commit; refusals,
network failures and the token are handled. The release is built from a small hand-made
data root (no models), and uploads go to a recording stand-in Hub on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.recipe import load_recipe
from factory.core.records import Record, write_json, write_records
from hub_server import FakeHub

REPO = Path(__file__).resolve().parent.parent
FAKE_TOKEN = "hf_FAKEtokenForTestsOnly0123456789abcdef"

RECIPE = """\
name: pub
kind: toxify
description: A hand-made release for publish tests.
models:
  toxicity: {ref: package:profanity-check}
  fluency: {ref: zoo:fluency, label: acceptable}
evaluate: {scores: soft}
publish: {pretty_name: Publish test, license: cc-by-4.0, human_license: cc-by-4.0, tags: [test-release], shard_rows: 4}
"""


def _gate(name: str, value: float, threshold: float, op: str, passed: bool) -> dict:
    return {"name": name, "value": value, "threshold": threshold, "op": op, "passed": passed, "note": ""}


def make_release_inputs(root: Path, recipe_path: Path, *, certified: bool = True, inconclusive: bool = False) -> None:
    """Write the files `publish` reads: filtered rows and report, metrics, certificate."""
    recipe = load_recipe(recipe_path)
    rows = [Record.make("pair", toxic=f"you stupid thing number {i}", neutral=f"the thing number {i}",
                        source="synthetic:toxify", recipe="pub", split="train") for i in range(10)]
    rows[8].drop("near_duplicate", rows[0].id)
    rows[9].drop("refusal")
    write_records(root / "filtered" / "pub" / "rows.parquet", rows)
    write_json(root / "filtered" / "pub" / "report.json", {
        "rows": 10, "kept": 8, "outcomes": {"kept": 8, "near_duplicate": 1, "refusal": 1},
        "synthetic": {"distinct_2": 0.5}, "human": {"distinct_2": 0.6}})
    systems = {"identity": {"STA": 0.2, "SIM": 1.0, "FL": 0.9, "J": 0.18, "ChrF": 40.0, "BLEU": 20.0},
               "ratio-0.00": {"STA": 0.8, "SIM": 0.8, "FL": 0.9, "J": 0.57, "ChrF": 50.0, "BLEU": 30.0,
                              "ratio": 0.0, "train_rows": 8},
               "ratio-1.00": {"STA": 0.7, "SIM": 0.8, "FL": 0.9, "J": 0.5, "ChrF": 45.0, "BLEU": 25.0,
                              "ratio": 1.0, "train_rows": 8}}
    write_json(root / "eval" / "pub" / "metrics.json", {"definition": "J = ...", "scores": "soft", "systems": systems})
    gates = [{**_gate("j_ratio", 0.877, 0.7, ">=", certified), "interval": [0.8, 0.95]},
             _gate("contamination", 0, 0, "<=", True)]
    verdict = {"verdict": "certified" if certified else "not_certified"}
    if inconclusive:
        gates[0]["verdict"] = "inconclusive"
        verdict = {"verdict": "inconclusive", "reason": "human-data detoxifier J 0.066 [0.050, 0.080] does not beat "
                                                        "copying the input J 0.067 [0.050, 0.080] by 0.01"}
    write_json(root / "certify" / "pub" / "certificate.json", {
        "recipe": "pub", "certified": certified, **verdict, "profile": "tiny", "gates": gates, "metrics": {},
        "statistics": {"decision": "interval"},
        "provenance": {"recipe": {"name": "pub", "path": str(recipe_path), "sha256": recipe.fingerprint(),
                                  "kind": "toxify"},
                       "git": {"commit": "c0ffee" * 6 + "abcd", "dirty": False},
                       "models": {"toxicity": {"ref": "package:profanity-check", "package_version": "1.2"},
                                  "fluency": {"ref": "zoo:fluency", "revision": None, "local_fingerprint": "f00d"}}}})


@pytest.fixture
def release_root(tmp_path) -> tuple[Path, Path]:
    """(recipe file, data root) of a certified hand-made release."""
    recipe = tmp_path / "pub.yaml"
    recipe.write_text(RECIPE)
    root = tmp_path / "data"
    make_release_inputs(root, recipe)
    return recipe, root


def test_dry_run_folder_reloads_with_datasets_and_dataset_card(release_root, tmp_path):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    recipe, root = release_root
    out = tmp_path / "release"
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(root), "--dry-run", str(out)])
    assert result.exit_code == 0, result.output

    train = load_dataset("parquet", data_files=str(out / "data" / "train-*.parquet"), split="train")
    assert train.num_rows == 8 and len(list((out / "data").glob("train-*.parquet"))) == 2  # 4 rows a shard
    assert set(train.column_names) >= {"toxic", "neutral", "source", "drop_reason"}
    by_config = load_dataset(str(out))  # splits come from the card's `configs`
    assert by_config["train"].num_rows == 8 and by_config["dropped"].num_rows == 2
    assert sorted(by_config["dropped"]["drop_reason"]) == ["near_duplicate", "refusal"]

    card = DatasetCard.load(out / "README.md")
    meta = card.data
    assert meta.license == "cc-by-4.0" and meta.language == ["en"] and meta.task_categories == ["text-generation"]
    assert {"not-for-all-audiences", "test-release", "toxify"} <= set(meta.tags)
    assert meta.size_categories == ["n<1K"] and meta.pretty_name == "Publish test"
    assert meta.configs[0]["data_files"] == [{"split": "train", "path": "data/train-*.parquet"},
                                             {"split": "dropped", "path": "data/dropped-*.parquet"}]
    text = card.text
    assert "Content warning" in text and "CERTIFIED" in text and "NOT CERTIFIED" not in text
    assert "c0ffee" in text and load_recipe(recipe).fingerprint()[:16] in text  # provenance
    assert "`package:profanity-check`" in text and "`zoo:fluency`" in text and "acceptable" in text
    assert "soft scores" in text and "not argmax" in text
    assert "## Fidelity to the reference" in text and "J follows PseudoParaDetox's J" in text  # issue 15, J1
    assert "| ratio-1.00 | 8 | 0.7000 | 0.8000 | 0.9000 | 0.5000 |" in text  # the mixing study
    assert "| j_ratio | 0.8770 | [0.8000, 0.9500] | >= 0.7 | pass |" in text  # the certificate, with its interval
    assert "| contamination | 0 |  | <= 0 | pass |" in text  # a count: no interval
    assert json.loads((out / "certificate.json").read_text())["certified"] is True
    assert (out / "recipe.yaml").read_text() == RECIPE
    assert json.loads((out / "metrics.json").read_text())["evaluation"]["systems"]["ratio-1.00"]["J"] == 0.5


def test_uncertified_release_is_refused_unless_forced_and_the_card_says_so(tmp_path):
    from huggingface_hub import DatasetCard

    recipe = tmp_path / "pub.yaml"
    recipe.write_text(RECIPE)
    root = tmp_path / "data"
    make_release_inputs(root, recipe, certified=False)
    out = tmp_path / "release"
    runner = CliRunner()
    refused = runner.invoke(app, ["publish", str(recipe), "--root", str(root), "--dry-run", str(out)])
    assert refused.exit_code == 2 and "not certified" in refused.output and "j_ratio" in refused.output
    assert not out.exists()
    forced = runner.invoke(app, ["publish", str(recipe), "--root", str(root), "--dry-run", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    text = DatasetCard.load(out / "README.md").text
    assert "NOT CERTIFIED" in text and "--force" in text and "`j_ratio`" in text
    assert text.index("NOT CERTIFIED") < text.index("Content warning")  # first thing a reader sees


def test_an_inconclusive_release_is_refused_unless_forced_and_the_card_says_why(tmp_path):
    from huggingface_hub import DatasetCard

    recipe = tmp_path / "pub.yaml"
    recipe.write_text(RECIPE)
    root = tmp_path / "data"
    make_release_inputs(root, recipe, certified=False, inconclusive=True)
    out = tmp_path / "release"
    runner = CliRunner()
    refused = runner.invoke(app, ["publish", str(recipe), "--root", str(root), "--dry-run", str(out)])
    assert refused.exit_code == 2 and not out.exists()
    assert "release is not certified: INCONCLUSIVE (human-data detoxifier J 0.066" in refused.output
    forced = runner.invoke(app, ["publish", str(recipe), "--root", str(root), "--dry-run", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    text = DatasetCard.load(out / "README.md").text
    assert text.index("NOT CERTIFIED (INCONCLUSIVE)") < text.index("Content warning")
    assert "does not beat copying the input J 0.067" in text and "--force" in text
    assert "- Certification: **INCONCLUSIVE** (human-data detoxifier J 0.066" in text
    assert "| j_ratio | 0.8770 | [0.8000, 0.9500] | >= 0.7 | INCONCLUSIVE |" in text


def test_a_certificate_of_another_recipe_version_is_refused(release_root, tmp_path):
    recipe, root = release_root
    recipe.write_text(RECIPE.replace("shard_rows: 4", "shard_rows: 5"))
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(root), "--dry-run", str(tmp_path / "r")])
    assert result.exit_code == 2 and "another version" in result.output


# --- the upload path: a recording stand-in Hub; the real CLI in a subprocess with HF_ENDPOINT set,
# --- and in-process runs (huggingface_hub's endpoint pointed at it) for the fault cases.


def _publish(recipe: Path, root: Path, endpoint: str, home: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", HF_TOKEN=FAKE_TOKEN)
    return subprocess.run([sys.executable, "-m", "factory", "publish", str(recipe), "--root", str(root),
                           "--repo-id", "detox-org/pub-release", *extra],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as server:
        yield server


@pytest.fixture
def fresh_hub(hub):
    hub.state.reset()
    return hub


@pytest.fixture
def online_hub(fresh_hub, monkeypatch, tmp_path):
    """The stand-in Hub as huggingface_hub's endpoint in this process, with the fake token set."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", fresh_hub.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    return fresh_hub


def _push_in_process(recipe: Path, root: Path, *extra: str):
    return CliRunner().invoke(app, ["publish", str(recipe), "--root", str(root), "--repo-id", "detox-org/pub-release",
                                    *extra])


def _assert_token_absent(*places: Path, outputs: tuple[str, ...] = ()) -> None:
    for text in outputs:
        assert FAKE_TOKEN not in text
    for place in places:
        for file in [place] if place.is_file() else place.rglob("*"):
            if file.is_file():
                assert FAKE_TOKEN.encode() not in file.read_bytes(), file


def test_push_creates_a_private_repo_and_one_commit_with_every_file(release_root, fresh_hub, tmp_path):
    recipe, root = release_root
    fresh_hub.state.existing_files = ["data/train-00000-of-00003.parquet", ".gitattributes"]  # an older release
    done = _publish(recipe, root, fresh_hub.url, tmp_path / "hf")
    assert done.returncode == 0, done.stderr
    assert [c["visibility"] for c in fresh_hub.state.created] == ["private"]
    assert fresh_hub.state.created[0]["type"] == "dataset"
    assert len(fresh_hub.state.commits) == 1
    commit = fresh_hub.state.commits[0]
    release = root / "release" / "pub"
    local = {str(p.relative_to(release)): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    assert local.pop(".factory-made") == b"factory publish\n"  # the folder's marker stays local
    assert commit["files"] == local  # every other file, byte for byte, in the one commit
    assert {"README.md", "certificate.json", "metrics.json", "recipe.yaml"} <= set(local)
    assert commit["deleted"] == ["data/train-00000-of-00003.parquet"]  # stale shard gone in the same commit
    assert "certified release" in commit["header"]["summary"]
    sent = [r["headers"].get("authorization") or r["headers"].get("Authorization") for r in fresh_hub.state.requests]
    assert f"Bearer {FAKE_TOKEN}" in sent  # the token came from the environment ...
    _assert_token_absent(root, tmp_path / "hf", recipe, outputs=(done.stdout, done.stderr))  # ... and stayed there
    assert "detox-org/pub-release" in done.stdout


def test_connection_refused_is_a_clear_message(release_root, tmp_path):
    recipe, root = release_root
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = _publish(recipe, root, f"http://127.0.0.1:{port}", tmp_path / "hf")
    assert done.returncode == 2 and "network error" in done.stderr and "Traceback" not in done.stderr
    assert "nothing was committed" in done.stderr
    _assert_token_absent(root, outputs=(done.stdout, done.stderr))


def test_public_flag_creates_a_public_repo(release_root, online_hub):
    recipe, root = release_root
    result = _push_in_process(recipe, root, "--public")
    assert result.exit_code == 0, result.output
    assert [c["visibility"] for c in online_hub.state.created] == ["public"] and len(online_hub.state.commits) == 1


def test_an_existing_public_repo_is_not_published_into_without_public(release_root, online_hub):
    recipe, root = release_root
    online_hub.state.existing_private = False
    result = _push_in_process(recipe, root)
    assert result.exit_code == 2 and "is public" in result.output and "--public" in result.output
    assert online_hub.state.commits == []


@pytest.mark.parametrize(("failing", "status"), [("/api/repos/create", 500), ("/commit/", 422)])
def test_a_server_error_is_a_clear_message_and_nothing_is_committed(release_root, online_hub, capfd, failing, status):
    recipe, root = release_root
    online_hub.state.fail = {failing: status}
    result = _push_in_process(recipe, root)
    assert result.exit_code == 2, result.output
    assert f"HTTP {status}" in result.output and "nothing was committed" in result.output
    assert online_hub.state.commits == []
    captured = capfd.readouterr()
    _assert_token_absent(root, outputs=(result.output, captured.out, captured.err))


def test_no_token_is_a_clear_message_before_any_request(release_root, online_hub, monkeypatch):
    recipe, root = release_root
    monkeypatch.delenv("HF_TOKEN")
    result = _push_in_process(recipe, root)
    assert result.exit_code == 2 and "no Hub token" in result.output
    assert online_hub.state.requests == []


def test_a_limited_release_is_not_pushed_unless_forced(release_root, online_hub):
    recipe, root = release_root
    path = root / "certify" / "pub" / "certificate.json"
    certificate = json.loads(path.read_text())
    certificate["provenance"]["limits"] = {"stages": {"ingest": None, "generate": 50}, "limited": True}
    path.write_text(json.dumps(certificate))
    refused = _push_in_process(recipe, root)
    assert refused.exit_code == 2 and "LIMITED RUN (generate --limit 50)" in refused.output
    assert "--force" in refused.output and online_hub.state.requests == []
    forced = _push_in_process(recipe, root, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(online_hub.state.commits) == 1
    assert b"LIMITED RUN" in online_hub.state.commits[0]["files"]["README.md"]
