"""The miniature Hub (factory.hubsim): its HTTP download API, and one full recipe rehearsed through it."""

from __future__ import annotations

import json
import math
import re
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
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            hub.url + "/{repo_id}/resolve/{revision}/{filename}")
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


def _check_lm(work: Path) -> None:
    """LM kinds: the Hub download happened and the training losses are finite."""
    assert (work / "hf_home" / "hub" / "models--openai-community--gpt2-xl").is_dir()
    log = json.loads(next((work / "root" / "trained").rglob("train_log.json")).read_text())
    assert math.isfinite(log["first_loss"]) and math.isfinite(log["final_loss"])


def _check_rewrite(work: Path) -> None:
    """Rewrite kinds: the abliterated generator was written and used, and the dry-run release exists."""
    assert (work / "root" / "models" / "abliterated" / "detoxify-llama3-8b").is_dir()
    assert (work / "root" / "release" / "detoxify-llama3-8b" / "certificate.json").is_file()
    assert (work / "hf_home" / "hub" / "models--meta-llama--Meta-Llama-3-8B-Instruct").is_dir()


def _check_translate(work: Path) -> None:
    """Translate: every grid setting trained, every cell scored, the export written."""
    grid = work / "root" / "grid" / "translate-qwen25"
    assert sorted(p.name for p in (grid / "trained").iterdir()) == ["am+ar+de+en+es+hi+ru+uk+zh", "de", "en"]
    assert len(list((grid / "cells").iterdir())) == 9
    assert (work / "root" / "exports" / "translate-qwen25").is_dir()


FAMILIES = {"lm": ("selfgen-gpt2xl", _check_lm), "rewrite": ("detoxify-llama3-8b", _check_rewrite),
            "translate": ("translate-qwen25", _check_translate)}
"""One full recipe per family, rehearsed end to end (the rewrite one with its abliteration)."""


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_rehearses_one_full_recipe_per_family_through_the_miniature_hub(family, tmp_path, capsys, monkeypatch):
    pytest.importorskip("vllm")
    monkeypatch.chdir(REPO)
    name, check = FAMILIES[family]
    work = tmp_path / "work"
    code = rehearse.main([str(REPO / "recipes" / "full" / f"{name}.yaml"), "--work", str(work),
                          "--hub", str(tmp_path / "hub"), "--timeout", "600", "--ray", ""])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary
    assert summary["recipes"] == 1 and summary["passed"] == 1
    check(work)


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


def test_stage_seconds_charges_each_stage_the_time_since_the_previous_one():
    lines = [(10.0, "ingest: wrote x\n"), (11.0, "noise\n"), (25.0, "generate: wrote y\n"),
             (27.0, "grid score: wrote a\n"), (30.0, "grid score: wrote b\n"), (30.5, "publish: built z (dry run)\n")]
    assert rehearse.stage_seconds(lines, started=4.0) == {"ingest": 6.0, "generate": 15.0, "grid score": 5.0,
                                                          "publish": 0.5}


def test_rehearsal_copy_fits_the_abliteration_into_the_limited_ingest(tmp_path):
    """Found by the rehearsal: 32 direction prompts asked of a --limit 24 ingest (14 toxic train rows), and a
    2-layer Llama 3 miniature, where the reference edits layers 3..L-1 (the Hub model has 32 layers)."""
    import yaml

    from factory.hubsim.minimodels import MODELS
    from factory.recipe.abliterate import REFERENCE_FIRST_EDITED

    copy, _ = rehearse.rehearsal_recipe(REPO / "recipes" / "full" / "toxify-llama3-8b.yaml", tmp_path, ray=False)
    settings = yaml.safe_load(copy.read_text())["abliterate"]
    assert settings["num_prompts"] + settings["heldout_prompts"] <= rehearse.LIMIT // 2
    llama3 = MODELS[settings["model"]["ref"]]
    assert llama3.config["num_hidden_layers"] > REFERENCE_FIRST_EDITED


def _hub_ids(tree: object) -> set[str]:
    """Every `org/name` string of a recipe tree (model and dataset ids; folders and prefixed refs excluded)."""
    if isinstance(tree, dict):
        return set().union(*map(_hub_ids, tree.values())) if tree else set()
    if isinstance(tree, list):
        return set().union(*map(_hub_ids, tree)) if tree else set()
    text = str(tree)
    return {text} if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", text) and not text.startswith("data/") else set()


def test_the_miniature_hub_holds_every_id_a_full_recipe_names():
    """Found by the rehearsal: distill-gpt2xl had moved to `unitary/toxic-bert`, which the miniature Hub lacked,
    so the recipe failed at evaluate ('not found on the Hub') instead of rehearsing its scorer."""
    import yaml

    from factory.hubsim.minidata import DATASETS
    from factory.hubsim.minimodels import LABSE, MODELS

    named = set().union(*(_hub_ids(yaml.safe_load(p.read_text())) for p in (REPO / "recipes" / "full").glob("*.yaml")))
    missing = named - set(MODELS) - {LABSE} - set(DATASETS)
    assert not missing, f"recipes/full name ids the miniature Hub lacks: {sorted(missing)}"


def test_legacy_ids_without_an_owner_are_served_from_the_repo_they_moved_to(tmp_path, hub_env):
    """Found by the crosslingual rehearsal: its recipes name `perplexity_model: gpt2` (as the reference does); the
    Hub answers that id from openai-community/gpt2, the miniature Hub refused ids without an owner."""
    from huggingface_hub import hf_hub_download

    moved = Path(hub_env.state.folder) / "models" / "openai-community" / "gpt2"
    moved.mkdir(parents=True)
    (moved / "config.json").write_text('{"model_type": "gpt2"}')
    assert json.loads(Path(hf_hub_download("gpt2", "config.json")).read_text()) == {"model_type": "gpt2"}


def test_rehearsal_copy_asks_the_perspective_stand_in_without_the_api_quota(tmp_path):
    """Measured in the rehearsal: at the real API's 1 QPS, each selfgen recipe waited ~80 s on the loopback stand-in."""
    import yaml

    copy, skipped = rehearse.rehearsal_recipe(REPO / "recipes" / "full" / "selfgen-opt-6.7b.yaml", tmp_path, ray=False,
                                              perspective_url="http://127.0.0.1:9/v1alpha1")
    perspective = yaml.safe_load(copy.read_text())["models"]["toxicity"]["perspective"]
    assert perspective["base_url"] == "http://127.0.0.1:9/v1alpha1" and perspective["qps"] >= 50
    assert any(s.startswith("models.toxicity.perspective.qps=") for s in skipped)


def test_rehearsal_copy_runs_tensor_parallel_recipes_on_one_process_and_says_so(tmp_path):
    import yaml

    source = yaml.safe_load((REPO / "recipes" / "full" / "translate-qwen25.yaml").read_text())
    source["generate"]["vllm"]["tensor_parallel_size"] = 4
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "tp.yaml").write_text(yaml.safe_dump(source))
    copy, skipped = rehearse.rehearsal_recipe(tmp_path / "in" / "tp.yaml", tmp_path, ray=False)
    assert yaml.safe_load(copy.read_text())["generate"]["vllm"]["tensor_parallel_size"] == 1
    assert any(s.startswith("generate.vllm.tensor_parallel_size=1 (recipe: 4)") for s in skipped)


def test_rehearsal_copy_of_a_crosslingual_recipe_trains_without_nf4_on_cpu_and_says_so(tmp_path):
    """The full crosslingual recipes train 4-bit QLoRA (bitsandbytes + CUDA) and score with the Perspective API."""
    import yaml

    from factory.recipe import load_recipe

    copy, skipped = rehearse.rehearsal_recipe(REPO / "recipes" / "full" / "crosslingual-bloom-7b1.yaml", tmp_path,
                                              ray=False, perspective_url="http://127.0.0.1:9/v1alpha1")
    section = yaml.safe_load(copy.read_text())["crosslingual"]
    assert section["quantization"] == section["dpo"]["quantization"] == "none"
    assert section["data"]["train_rows"] == 10 and section["shares"] == [0.1, 1.0]
    assert section["embeddings"]["settings"] == ["zero-shot", "sft-all-10", "sft-all-100"]  # the cut shares' go too
    loaded = load_recipe(copy)  # the copy validates: every embedded model is one it trains
    assert loaded.crosslingual.embeddings.chosen(loaded.crosslingual)[-1] == "sft-all-100"
    assert section["toxicity"]["perspective"]["base_url"] == "http://127.0.0.1:9/v1alpha1"
    assert any(s.startswith("crosslingual.quantization='none' (recipe: 'nf4'): nf4") for s in skipped)
    assert any(s.startswith("crosslingual.dpo.quantization='none'") for s in skipped)
