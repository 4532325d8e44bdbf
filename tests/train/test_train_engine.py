"""The training engine: metrics, checkpoints, data module, AIM schedule, NaN guard, explicit splits."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from skelact.errors import ConfigError
from skelact.evaluation.metrics import aggregate_folds, summarise
from skelact.models import MODELS, register_model
from skelact.train.callbacks import TrainingDiverged
from skelact.train.checkpoint import AtomicCheckpointIO, load_model
from skelact.train.config import config_to_dict, load_config
from skelact.train.data import SkeletonDataModule
from skelact.train.inputs import build_experiment_model, open_store
from skelact.train.module import AIMScheduleModule, module_class
from skelact.train.runner import run_experiment


def _cfg(store, preset="tiny/arrn_lstm", *overrides):
    return load_config(preset, [f"data.store={store}", "train.progress=false", *overrides])


# -- metrics ----------------------------------------------------------------------------------------
def test_summarise_per_class_from_confusion_and_fold_aggregate():
    cm = torch.tensor([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    m = summarise({"top1": 5 / 8, "top3": 1.0, "loss": 0.7, "confusion": cm}, ["a", "b", "c"])
    assert m["top1"] == pytest.approx(62.5) and m["top5"] == 100.0 and m["num_samples"] == 8
    assert m["per_class_accuracy"] == {"a": 75.0, "b": None, "c": 50.0}  # None: no test sample
    assert m["confusion_matrix"] == cm.tolist() and m["class_names"] == ["a", "b", "c"]
    folds = {
        "1": {"test": {**m, "top1": 50.0, "top5": 90.0}},
        "2": {"test": {**m, "top1": 70.0, "top5": 100.0}},
    }
    agg = aggregate_folds(folds)
    assert agg["top1"] == {"mean": 60.0, "std": 10.0, "min": 50.0, "max": 70.0}
    assert agg["pooled_top1"] == pytest.approx(62.5) and agg["num_folds"] == 2


def test_atomic_checkpoint_io(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "ck" / "last.ckpt"
    io.save_checkpoint({"a": torch.arange(3)}, path)
    io.save_checkpoint({"a": torch.arange(4)}, path)  # replaced, not appended
    assert torch.equal(torch.load(path)["a"], torch.arange(4))
    assert os.listdir(path.parent) == ["last.ckpt"]  # no temporary file left behind


# -- data module --------------------------------------------------------------------------------------
def test_datamodule_splits_and_deterministic_epochs(florence_store):
    cfg = _cfg(
        florence_store,
        "tiny/arrn_lstm",
        "data.subset=null",
        "data.validation.by=subject",
        "data.validation.fraction=0.2",
    )
    dm = SkeletonDataModule(cfg)
    idx = dm.indices
    subjects = dm.store.index["subject"]
    assert set(subjects[idx["test"]]) == {1}  # LOSO fold 1 tests subject 1
    assert not set(subjects[idx["val"]]) & set(subjects[idx["train"]])  # whole subjects held out
    assert len(set(idx["train"]) | set(idx["val"]) | set(idx["test"])) == len(dm.store) == 215
    assert dm.class_names[0] == "wave" and dm.num_classes == 9 and dm.layout == "florence8"

    def epoch_batches(epoch):
        dm.trainer = type("T", (), {"world_size": 1, "global_rank": 0, "current_epoch": epoch})()
        return [(x.clone(), y.clone()) for x, y in dm.train_dataloader()]

    a, b, c = epoch_batches(0), epoch_batches(0), epoch_batches(1)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b, strict=True))
    assert not all(torch.equal(y1, y2) for (_, y1), (_, y2) in zip(a, c, strict=False))  # reshuffled
    with pytest.raises(ConfigError, match="not divisible"):
        dm.per_device_batch(3, 4)


# -- the AS-GCN two-optimiser schedule -----------------------------------------------------------------
class _Snapshots(pl.Callback):
    def __init__(self):
        self.states = []

    def on_train_epoch_end(self, trainer, pl_module):
        groups = pl_module.model.parameter_groups()
        self.states.append({k: [p.detach().clone() for p in v] for k, v in groups.items()})


def _changed(a, b):
    return any(not torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.filterwarnings("ignore:.*treespec")
@pytest.mark.parametrize("refine", [True, False])
def test_aim_warmup_then_two_optimisers(florence_store, refine):
    cfg = _cfg(
        florence_store,
        "tiny/asgcn",
        "train.epochs=1",
        "train.aim.warmup_epochs=1",
        "data.validation.fraction=0",
        f"model.options.refine_links={str(refine).lower()}",
    )
    store = open_store(cfg)
    model, spec = build_experiment_model(cfg, store)
    assert spec.input_frames == cfg.data.frames + model.config.horizon  # the prediction target
    dm = SkeletonDataModule(cfg, spec=spec, store=store)
    module = module_class(model)(config_to_dict(cfg), spec.to_dict(), model)
    assert isinstance(module, AIMScheduleModule)
    start = {k: [p.detach().clone() for p in v] for k, v in model.parameter_groups().items()}
    snaps = _Snapshots()
    trainer = pl.Trainer(
        max_epochs=2,
        callbacks=[snaps],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        reload_dataloaders_every_n_epochs=1,
        use_distributed_sampler=False,
    )
    trainer.fit(module, datamodule=dm)
    warm, rec = snaps.states
    # epoch 0, AIM warm-up (Adam): only the AIM learns
    assert not _changed(start["backbone"], warm["backbone"])
    assert _changed(start["aim_encoder"], warm["aim_encoder"]) and _changed(
        start["aim_decoder"], warm["aim_decoder"]
    )
    # epoch 1, recognition + prediction (SGD): the backbone learns, the decoder is left alone, the
    # encoder is refined by the recognition loss only when the model lets it through
    assert _changed(warm["backbone"], rec["backbone"])
    assert not _changed(warm["aim_decoder"], rec["aim_decoder"])
    assert _changed(warm["aim_encoder"], rec["aim_encoder"]) is refine
    main, aim = trainer.optimizers
    assert isinstance(main, torch.optim.SGD) and isinstance(aim, torch.optim.Adam)
    assert aim.param_groups[0]["lr"] == pytest.approx(5e-4)


# -- NaN guard ------------------------------------------------------------------------------------------
class _Diverging(torch.nn.Module):
    """Finite loss during epoch 0, NaN from epoch 1 on."""

    def __init__(self, num_classes, layout, in_channels, **_):
        super().__init__()
        self.fc = torch.nn.Linear(in_channels, num_classes)
        self.calls = 0

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3, 4)))

    def losses(self, x, y):
        self.calls += 1
        loss = F.cross_entropy(self(x), y)
        if self.calls > 9:  # 36 training samples / batch 4 = 9 steps per epoch
            loss = loss * float("nan")
        return {"loss": loss, "ce": loss}


if "_test_diverging" not in MODELS:
    register_model("_test_diverging")(_Diverging)


def test_nan_loss_stops_with_clear_message_and_keeps_last_checkpoint(florence_store, tmp_path):
    cfg = _cfg(
        florence_store, "tiny/arrn_lstm", "model.name=_test_diverging", "model.options={}", "train.epochs=3"
    )
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 1.*last good checkpoint") as e:
        run_experiment(cfg, tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert str(last) in str(e.value)
    ckpt = torch.load(last, weights_only=False)
    assert ckpt["epoch"] == 0 and all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
    assert not (tmp_path / "run" / "metrics.json").exists()


# -- explicit index sets (cross-validation over training subjects) -----------------------------------------
def test_run_on_explicit_indices_and_load_model(florence_store, tmp_path):
    from skelact.data.protocols import subject_folds
    from skelact.data.store import SkeletonStore

    store = SkeletonStore(florence_store)
    train = np.flatnonzero(store.index["subject"] != 1)[::4]
    fold = subject_folds(store, train, k=3, seed=0)[0]
    test = np.flatnonzero(store.index["subject"] == 1)
    cfg = _cfg(florence_store, "tiny/arrn_lstm", "train.epochs=1")
    metrics = run_experiment(
        cfg, tmp_path / "cv", indices={"train": fold["train"], "val": fold["val"], "test": test}
    )
    assert metrics["num_samples"] == {"train": len(fold["train"]), "val": len(fold["val"]), "test": len(test)}
    assert metrics["test"]["num_samples"] == len(test) and metrics["val"]["num_samples"] == len(fold["val"])
    saved = load_config(tmp_path / "cv" / "config.yaml")
    assert saved.data.val_indices == fold["val"].tolist()  # the run is reproducible from its directory
    model, cfg2 = load_model(tmp_path / "cv" / "checkpoints" / "best.ckpt")
    assert not model.training and cfg2.data.test_indices == test.tolist()
    assert model.spec["class_names"][0] == "wave" and model.spec["num_classes"] == 9
    assert json.loads((tmp_path / "cv" / "metrics.json").read_text())["test"] == metrics["test"]
