"""Secrets stay where they belong: a recipe cannot send the Hub token (or any credential of
another service) to a server as its API key, and `factory check` says which variable goes where."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_helpers import free_port
from cache_worker import SAMPLING, make_requests
from factory.cli import app
from factory.core.errors import FactoryError
from factory.models.backends.openai_client import OpenAIBackend
from factory.recipe.base import ModelSpec
from factory.recipe.generate import ServerSettings
from fault_proxy import FakeOpenAIServer

SERVED = """\
name: served
kind: toxify
generate:
  backend: openai
  server: {{base_url: "{url}", api_key_env: {variable}}}
"""


def served_recipe(folder: Path, variable: str, url: str = "https://gen.example.org/v1") -> Path:
    path = folder / "served.yaml"
    path.write_text(SERVED.format(url=url, variable=variable))
    return path


@pytest.mark.parametrize("variable", ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN",
                                      "WANDB_API_KEY", "HOME", "openai_api_key"])
def test_check_rejects_credentials_of_other_services_with_the_field_path(tmp_path, variable):
    recipe = served_recipe(tmp_path, variable)
    result = CliRunner().invoke(app, ["check", str(recipe)])
    assert result.exit_code == 2
    assert result.output.startswith(f"{recipe}: generate.server.api_key_env: ")
    assert variable in result.output


def test_check_says_which_variable_is_sent_to_which_url(tmp_path):
    served = served_recipe(tmp_path, "VLLM_API_KEY")
    local = Path(__file__).resolve().parent.parent / "recipes" / "tiny" / "toxify.yaml"
    result = CliRunner().invoke(app, ["check", str(served), str(local)])
    assert result.exit_code == 0
    assert result.output.splitlines() == [f"{served}: ok (sends $VLLM_API_KEY to https://gen.example.org/v1)",
                                          f"{local}: ok"]
    bad_url = served_recipe(tmp_path, "VLLM_API_KEY", url="gen.example.org/v1")
    assert "generate.server.base_url: must be an http:// or https:// URL" in CliRunner().invoke(
        app, ["check", str(bad_url)]).output


def test_the_hub_token_is_never_sent_even_by_settings_that_skipped_validation(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    server = FakeOpenAIServer(free_port()).start()
    try:
        copied = ServerSettings(base_url=server.url).model_copy(update={"api_key_env": "HF_TOKEN"})
        with pytest.raises(FactoryError, match=r"generate\.server\.api_key_env: HF_TOKEN holds the credential"):
            OpenAIBackend(ModelSpec(ref="fake"), tmp_path, copied).generate(make_requests(1), SAMPLING)
    finally:
        server.stop()
    assert not any("hf_secret_token" in value for headers in server.headers for value in headers.values())
