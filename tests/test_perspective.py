"""The Perspective API scorer (`perspective:TOXICITY`) against a fake API on loopback."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from factory.hubsim.perspective_sim import KEY, PATH, FakePerspective, fake_score
from pydantic import ValidationError

from factory.core.errors import FactoryError
from factory.models.loading import describe, load_toxicity
from factory.recipe import Recipe
from factory.recipe.base import ModelSpec


def _spec(base_url: str, **settings) -> ModelSpec:
    spec = ModelSpec.model_validate({"ref": "perspective:TOXICITY", "perspective": {
        "base_url": base_url, "qps": 1000.0, "api_key_env": "PERSPECTIVE_API_KEY", **settings}})
    spec._role = "models.toxicity"
    return spec


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("PERSPECTIVE_API_KEY", KEY)
    return KEY


def test_requests_have_the_reference_shape_and_the_key_only_in_a_header(tmp_path, key):
    with FakePerspective() as api:
        texts = ["a rude rude text", "a calm one", "", "a rude rude text"]
        scores = load_toxicity(_spec(api.base_url), tmp_path)(texts)
    np.testing.assert_allclose(scores, [fake_score("a rude rude text"), 0.0, 0.0, fake_score("a rude rude text")])
    assert len(api.requests) == 2  # the empty text is not sent, the repeated one is sent once
    first = api.requests[0]
    assert first["path"] == PATH and key not in first["path"]
    assert first["headers"]["x-goog-api-key"] == key
    assert first["body"] == {"comment": {"text": "a rude rude text"}, "requestedAttributes": {"TOXICITY": {}},
                             "spanAnnotations": False, "doNotStore": True, "languages": ["en"]}


def test_texts_are_cut_to_max_bytes_on_a_character_boundary(tmp_path, key):
    with FakePerspective() as api:
        load_toxicity(_spec(api.base_url, max_bytes=7), tmp_path)(["rude é rude"])  # é is 2 bytes: 5..6
    assert api.requests[0]["body"]["comment"]["text"] == "rude é"
    with FakePerspective() as api:
        load_toxicity(_spec(api.base_url, max_bytes=6), tmp_path)(["rude é rude"])  # cut inside é: dropped
    assert api.requests[0]["body"]["comment"]["text"] == "rude "


def test_scores_are_cached_so_a_rerun_sends_nothing_and_needs_no_key(tmp_path, key, monkeypatch):
    texts = ["one rude text", "two calm texts"]
    with FakePerspective() as api:
        first = load_toxicity(_spec(api.base_url), tmp_path)(texts)
        monkeypatch.delenv("PERSPECTIVE_API_KEY")
        again = load_toxicity(_spec(api.base_url), tmp_path)(texts)
        assert len(api.requests) == 2
        with pytest.raises(FactoryError, match=r"models.toxicity: perspective:TOXICITY needs the Perspective API key "
                                               r"in \$PERSPECTIVE_API_KEY"):
            load_toxicity(_spec(api.base_url), tmp_path)(["a new text"])
    np.testing.assert_array_equal(first, again)
    assert (tmp_path / "cache" / "perspective.sqlite").is_file()


def test_429_and_5xx_are_retried_with_backoff_then_give_up(tmp_path, key):
    slept: list[float] = []
    with FakePerspective(faults=[429, 503]) as api:
        scorer = load_toxicity(_spec(api.base_url), tmp_path)
        scorer.sleep = slept.append
        assert scorer(["rude"])[0] == 1.0
    assert len(api.requests) == 3 and 0.0 in slept and 2.0 in slept  # Retry-After: 0, then 2**1 s
    with FakePerspective(faults=[500] * 10) as api:
        scorer = load_toxicity(_spec(api.base_url, max_retries=2), tmp_path)
        scorer.sleep = lambda seconds: None
        with pytest.raises(FactoryError, match=r"models.toxicity: Perspective API failed 3 times in a row "
                                               r"\(last: HTTP 500: Internal error\)"):
            scorer(["another text"])
    assert len(api.requests) == 3


def test_requests_keep_to_the_rate_limit(tmp_path, key):
    with FakePerspective() as api:
        load_toxicity(_spec(api.base_url, qps=10.0), tmp_path)([f"text number {i}" for i in range(5)])
    times = [r["time"] for r in api.requests]  # arrival times: connection set-up delays the first one a little
    assert len(times) == 5 and times[-1] - times[0] >= 0.75 * 4 / 10  # unlimited: a few milliseconds


def test_the_key_is_never_logged_nor_in_an_error(tmp_path, key, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with FakePerspective(faults=[403]) as api:  # the server echoes the key in its message
        with pytest.raises(FactoryError) as error:
            load_toxicity(_spec(api.base_url), tmp_path)(["some text"])
    assert "HTTP 403" in str(error.value) and "***" in str(error.value)
    out = capsys.readouterr()
    seen = [str(error.value), out.out, out.err, caplog.text, *(repr(r.__dict__) for r in caplog.records)]
    assert not any(key in text for text in seen)
    assert key not in str(describe(_spec(api.base_url), tmp_path))


def test_recipe_rules_for_perspective_refs():
    spec = ModelSpec.model_validate("perspective:TOXICITY")
    assert spec.perspective is not None and spec.perspective.languages == ["en"] and spec.perspective.qps == 1.0
    with pytest.raises(ValidationError, match="ending in _API_KEY"):
        ModelSpec.model_validate({"ref": "perspective:TOXICITY", "perspective": {"api_key_env": "perspective_key"}})
    with pytest.raises(ValidationError, match="another service"):
        ModelSpec.model_validate({"ref": "perspective:TOXICITY", "perspective": {"api_key_env": "HF_TOKEN"}})
    with pytest.raises(ValidationError, match="another service"):
        ModelSpec.model_validate({"ref": "perspective:TOXICITY", "perspective": {"api_key_env": "GITHUB_API_KEY"}})
    with pytest.raises(ValidationError, match="only for a perspective:ATTRIBUTE ref"):
        ModelSpec.model_validate({"ref": "some/model", "perspective": {}})
    with pytest.raises(ValidationError, match="perspective:ATTRIBUTE in capitals"):
        ModelSpec.model_validate("perspective:toxicity")
    with pytest.raises(ValidationError, match="fluency: perspective:TOXICITY is a toxicity scorer"):
        Recipe.model_validate({"name": "t", "kind": "toxify", "models": {"fluency": "perspective:TOXICITY"}})
