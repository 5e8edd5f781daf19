"""The resumable training loop: a resumed run equals an uninterrupted one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from factory.recipe.study import Train
from factory.train.loop import batch_indices, total_steps, train


class Regressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, x, y):
        return SimpleNamespace(loss=torch.nn.functional.mse_loss(self.linear(x).squeeze(-1), y))


X = torch.randn(40, 4, generator=torch.Generator().manual_seed(1))
Y = X @ torch.tensor([1.0, -2.0, 0.5, 3.0])
SETTINGS = Train(epochs=3, batch_size=8, learning_rate=0.05, warmup_steps=2, save_every=2)


def collate(indices):
    return {"x": X[list(indices)], "y": Y[list(indices)]}


def test_epoch_order_is_a_seeded_permutation():
    seen = sorted(i for step in range(5) for i in batch_indices(40, 8, step, seed=3))
    assert seen == list(range(40))
    assert batch_indices(40, 8, 5, seed=3) != batch_indices(40, 8, 0, seed=3)
    assert total_steps(SETTINGS, 40) == 15
    assert total_steps(Train(max_steps=7), 40) == 7


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    whole = Regressor()
    log = train(whole, collate, 40, SETTINGS, seed=5, checkpoints=tmp_path / "a")
    assert log.steps == 15 and log.resumed_from == 0 and log.losses[-1] < log.losses[0]

    calls = {"n": 0}

    def crashing(indices):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt("killed")
        return collate(indices)

    with pytest.raises(KeyboardInterrupt):
        train(Regressor(), crashing, 40, SETTINGS, seed=5, checkpoints=tmp_path / "b")
    resumed = Regressor()
    log2 = train(resumed, collate, 40, SETTINGS, seed=5, checkpoints=tmp_path / "b")
    assert log2.resumed_from == 6
    assert torch.allclose(whole.linear.weight, resumed.linear.weight)
    assert log2.losses == pytest.approx(log.losses)
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["step-15.pt"]


class PlantedCode:
    """A pickled object that, when unpickled, writes a marker file: what a planted checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('code ran')",))


def test_a_planted_checkpoint_runs_no_code_and_stops_the_run_naming_the_file(tmp_path):
    from factory.core.errors import FactoryError

    marker, folder = tmp_path / "pwned", tmp_path / "ck"
    folder.mkdir()
    torch.save({"step": 2, "model": {}, "payload": PlantedCode(marker)}, folder / "step-2.pt")
    planted = r"step-2\.pt: cannot resume .*pickled objects, not only tensors: exec\).*delete it"
    with pytest.raises(FactoryError, match=planted):
        train(Regressor(), collate, 40, SETTINGS, seed=5, checkpoints=folder)
    assert not marker.exists(), "unpickling the checkpoint ran code"

    (folder / "step-2.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FactoryError, match=r"step-2\.pt: cannot resume .*not a readable torch file: .*delete it"):
        train(Regressor(), collate, 40, SETTINGS, seed=5, checkpoints=folder)
    torch.save({"step": 2, "model": {}}, folder / "step-2.pt")
    with pytest.raises(FactoryError, match=r"step-2\.pt: .*no valid optimizer, scheduler, rng, losses"):
        train(Regressor(), collate, 40, SETTINGS, seed=5, checkpoints=folder)


def test_files_not_named_like_checkpoints_are_ignored(tmp_path):
    (tmp_path / "step-latest.pt").write_bytes(b"whatever")
    log = train(Regressor(), collate, 40, SETTINGS, seed=5, checkpoints=tmp_path)
    assert log.resumed_from == 0 and (tmp_path / "step-15.pt").exists()


def test_a_non_finite_loss_stops_the_run_instead_of_training_on(tmp_path):
    from factory.core.errors import FactoryError

    def poisoned(indices):
        batch = collate(indices)
        return {"x": batch["x"], "y": batch["y"] * float("nan")}

    with pytest.raises(FactoryError, match=r"training diverged: the loss is nan at step 1"):
        train(Regressor(), poisoned, 40, SETTINGS, seed=5, checkpoints=tmp_path)
