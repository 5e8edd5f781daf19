"""Model folder fingerprints: the key of request caches, training checkpoints and the distill toxic model."""

from __future__ import annotations

from factory.models import loading
from factory.models.loading import folder_fingerprint


def test_retrained_weights_of_the_same_size_change_the_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "FINGERPRINT_CHUNK", 64)  # so 1 KB counts as a large, sampled file
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"n_layer": 2}')
    weights = bytearray(1024)
    (model / "model.safetensors").write_bytes(bytes(weights))
    before = folder_fingerprint(model)
    assert folder_fingerprint(model) == before  # deterministic
    for offset in (10, 512 + 3, 1024 - 5):  # first, middle and last sampled chunk
        changed = bytearray(weights)
        changed[offset] = 1
        (model / "model.safetensors").write_bytes(bytes(changed))
        assert folder_fingerprint(model) != before, offset
    (model / "model.safetensors").write_bytes(bytes(weights))
    assert folder_fingerprint(model) == before
    (model / "config.json").write_text('{"n_layer": 3}')
    assert folder_fingerprint(model) != before


def test_describe_of_a_local_folder_carries_its_fingerprint(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    info = loading.describe(str(tmp_path))
    assert info["local_fingerprint"] == folder_fingerprint(tmp_path)
