"""The miniature Hub (factory.hubsim): its HTTP download API, and one full recipe rehearsed through it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from factory.hubsim import rehearse
from factory.hubsim.server import HubSim

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """A miniature Hub with one model repo and one dataset repo; HF_* pointed at it."""
    model = tmp_path / "hub" / "models" / "org" / "tiny"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "gpt2"}')
    (model / "sub" / "weights.bin").write_bytes(bytes(range(256)) * 4)
    data = tmp_path / "hub" / "datasets" / "org" / "rows"
    data.mkdir(parents=True)
    (data / "train.csv").write_text("text,label\nhello,0\nworld,1\n")
    with HubSim(tmp_path / "hub") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        import huggingface_hub.constants as constants

        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        # built from ENDPOINT when huggingface_hub was first imported (by an earlier test, before HF_ENDPOINT was set)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
        yield hub


def test_downloads_files_with_commit_and_lists_trees(hub_env):
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    api = HfApi(endpoint=hub_env.url)
    info = api.model_info("org/tiny")
    assert sorted(s.rfilename for s in info.siblings) == ["config.json", "sub/weights.bin"]
    path = hf_hub_download("org/tiny", "sub/weights.bin")
    assert Path(path).read_bytes() == bytes(range(256)) * 4
    assert info.sha in path  # cached under the commit the server named (X-Repo-Commit)
    folder = snapshot_download("org/tiny")
    assert (Path(folder) / "config.json").exists()
    assert [e.path for e in api.list_repo_tree("org/tiny", recursive=True)] == ["config.json", "sub", "sub/weights.bin"]
    assert [e.path for e in api.get_paths_info("org/rows", ["train.csv"], repo_type="dataset")] == ["train.csv"]


def test_missing_repo_file_and_revision_are_the_hub_errors(hub_env):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/tiny", "missing.json")
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub_env.url).model_info("org/absent")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("org/tiny", "config.json", revision="v9")


def test_rehearsal_copy_shrinks_sizes_and_reports_cpu_skips(tmp_path):
    copy, skipped = rehearse.rehearsal_recipe(REPO / "recipes" / "full" / "detoxify-llama3-8b.yaml", tmp_path, ray=True)
    import yaml

    recipe = yaml.safe_load(copy.read_text())
    source = yaml.safe_load((REPO / "recipes" / "full" / "detoxify-llama3-8b.yaml").read_text())
    assert recipe["mix"]["ratios"] == [0.0, 1.0] and recipe["train"]["epochs"] == 1
    assert recipe["models"]["generator"] == source["models"]["generator"]  # models untouched
    assert recipe["abliterate"]["model"] == source["abliterate"]["model"]
    assert recipe["engine"]["name"] == "ray"
    assert any(s.startswith("generate.vllm.enforce_eager") for s in skipped)


@pytest.mark.slow
@pytest.mark.vllm
def test_rehearses_selfgen_gpt2xl_through_the_miniature_hub(tmp_path, capsys, monkeypatch):
    pytest.importorskip("vllm")
    monkeypatch.chdir(REPO)
    code = rehearse.main([str(REPO / "recipes" / "full" / "selfgen-gpt2xl.yaml"), "--work", str(tmp_path / "work"),
                          "--hub", str(tmp_path / "hub"), "--timeout", "600"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary
    assert summary["recipes"] == 1 and summary["passed"] == 1
    assert (tmp_path / "work" / "hf_home" / "hub" / "models--openai-community--gpt2-xl").is_dir()
    log = json.loads(next((tmp_path / "work" / "root" / "trained").rglob("train_log.json")).read_text())
    assert math.isfinite(log["first_loss"]) and math.isfinite(log["final_loss"])


def test_prompt_longer_than_the_vllm_context_is_a_named_error():
    """Found by the rehearsal: vLLM raised VLLMValidationError from deep in the engine (a traceback)."""
    from factory.core.errors import FactoryError
    from factory.models.backends.base import Request
    from factory.models.backends.vllm_offline import check_prompt_lengths

    requests = [Request(key="row-1", messages=(), seed=0), Request(key="row-2", messages=(), seed=0)]
    check_prompt_lengths(requests, [{"prompt_token_ids": [1] * 10}] * 2, 11)
    with pytest.raises(FactoryError, match=r"row-2 has 12 tokens.*context of 11 \(generate.vllm.max_model_len\)"):
        check_prompt_lengths(requests, [{"prompt_token_ids": [1] * 10}, {"prompt_token_ids": [1] * 12}], 11)


def test_ray_generation_failure_names_the_workers_own_error():
    """Found by the rehearsal: the message named only Ray's wrapper (`ray::MapWorker(...).submit() (pid=...)`)."""
    from factory.engines.ray_generate import root_cause

    class TaskError(Exception):
        pass

    inner = ValueError("This model's maximum context length is 512 tokens. However, your prompt contains 750")
    wrapper = TaskError("ray::MapWorker(MapBatches(vLLMEngineStageUDF)).submit() (pid=1)\n  File x\n")
    wrapper.cause = inner
    assert root_cause(wrapper) == f"ValueError: {inner}"
    flat = TaskError("ray::MapWorker.submit() (pid=1)\n  File x\nvllm.exceptions.VLLMValidationError: too long\n")
    assert root_cause(flat) == "TaskError: vllm.exceptions.VLLMValidationError: too long"
