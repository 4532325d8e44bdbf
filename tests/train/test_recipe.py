"""The small-data recipe's pieces on the bundled Florence3D sample: weight averaging (EMA) is what
evaluation and checkpoints use, and the cosine schedule ends at zero (the ``last-epoch`` protocol:
``tests/test_reproduce.py``)."""

from __future__ import annotations

import copy

import pytest
import pytorch_lightning as pl
import torch

from skelact.data.bundled import bundled_path
from skelact.errors import ConfigError
from skelact.train.checkpoint import load_checkpoint, load_model, model_state
from skelact.train.config import ScheduleConfig, load_config
from skelact.train.optim import build_scheduler

TINY = ["train.progress=false", "train.epochs=2", "data.subset=24", "train.checkpoint.monitor=null"]


@pytest.fixture(scope="module")
def bundled_store(tmp_path_factory):
    """The bundled Florence3D features file (215 real sequences) prepared into a store."""
    from skelact.data.prepare import prepare

    out = tmp_path_factory.mktemp("recipe") / "florence3d"
    prepare("florence3d", bundled_path("florence3d"), out, workers=1, progress=False)
    return out


class _RawWeights(pl.Callback):
    """Copies of the trained (not averaged) weights after every optimiser step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append({k: v.detach().clone() for k, v in pl_module.model.state_dict().items()})


def _fit(store, overrides):
    from skelact.train.data import SkeletonDataModule
    from skelact.train.module import make_module
    from skelact.train.runner import build_trainer

    cfg = load_config("tiny/arrn_lstm", [f"data.store={store}", *TINY, *overrides])
    dm = SkeletonDataModule(cfg)
    module = make_module(__import__("dataclasses").asdict(cfg), dm.spec())
    trainer, _ = build_trainer(cfg, None, has_val=False, module=module)
    raw = _RawWeights()
    trainer.callbacks.append(raw)
    trainer.fit(module, datamodule=dm)
    return module, raw


def test_ema_is_the_exponential_average_of_every_step_and_replaces_the_weights(bundled_store, monkeypatch):
    decay = 0.8
    lerps = []
    lerp = torch._foreach_lerp_
    monkeypatch.setattr(torch, "_foreach_lerp_", lambda *a: (lerps.append(len(a[0])), lerp(*a))[1])
    module, raw = _fit(bundled_store, ["train.averaging.name=ema", f"train.averaging.decay={decay}"])
    assert len(raw.steps) == 8  # 2 epochs of 4 batches (16 training sequences of the subset, batch 4)
    # the average is one foreach lerp over all tensors per step after the first (which copies)
    assert lerps == [len(list(module.model.parameters()))] * 7
    expected = copy.deepcopy(raw.steps[0])  # AveragedModel's first update copies the weights
    for step in raw.steps[1:]:
        for k, v in step.items():
            if v.is_floating_point():
                expected[k] = decay * expected[k] + (1 - decay) * v
    final = module.model.state_dict()
    for k, v in expected.items():
        torch.testing.assert_close(final[k], v, rtol=1e-5, atol=1e-6)
    # the option has an effect: the model that is evaluated is not the last step's weights
    moved = max(
        (final[k] - raw.steps[-1][k]).abs().max().item() for k in final if final[k].is_floating_point()
    )
    assert moved > 1e-4


def test_without_averaging_the_model_is_the_last_step(bundled_store):
    module, raw = _fit(bundled_store, [])
    for k, v in module.model.state_dict().items():
        torch.testing.assert_close(v, raw.steps[-1][k])


def test_checkpoint_holds_the_average_for_inference_and_the_raw_weights_for_resuming(bundled_store, tmp_path):
    from skelact.train.runner import run_experiment

    cfg = load_config(
        "tiny/arrn_lstm",
        [f"data.store={bundled_store}", *TINY, "train.averaging.name=ema", "train.averaging.decay=0.5"],
    )
    run_experiment(cfg, tmp_path / "run")
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    averaged = model_state(ckpt)
    current = {
        k[len("model.") :]: v for k, v in ckpt["current_model_state"].items() if k.startswith("model.")
    }
    assert averaged.keys() == current.keys()
    assert any(not torch.equal(averaged[k], current[k]) for k in averaged)
    model, _ = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, averaged[k])
    # the last epoch is the best (no monitor): last.ckpt links to best.ckpt, one write per epoch
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert last.is_symlink() and last.resolve() == (tmp_path / "run" / "checkpoints" / "best.ckpt").resolve()


def test_averaging_decay_is_checked():
    with pytest.raises(ConfigError, match="train.averaging.decay"):
        load_config("tiny/arrn_lstm", ["train.averaging.decay=1.0"])
    with pytest.raises(ConfigError, match="train.averaging.name"):
        load_config("tiny/arrn_lstm", ["train.averaging.name=swa"])


def test_cosine_schedule_decays_to_zero_at_the_last_epoch():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-3)
    sched = build_scheduler(ScheduleConfig(name="cosine", min_lr=0.0), opt, epochs=50)
    lrs = []
    for _ in range(50):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-3)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))  # strictly decreasing
    assert lrs[-1] < 1e-3 * 1e-2  # the last epoch trains at under 1 % of the initial rate
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
