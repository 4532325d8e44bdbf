"""The LightningDataModule: a prepared store, the protocol's split, transforms and loaders.

Splits come from (first match wins, per split): explicit indices in the config
(``data.train_indices`` / ``val_indices`` / ``test_indices``), the protocol
(:func:`skelact.data.protocols.split`), and for validation a share carved from the training split
(:func:`skelact.data.protocols.validation_split`). Validation and test use the deterministic
``test_transforms``.

Reproducibility: the training loader is rebuilt every epoch (the trainer is created with
``reload_dataloaders_every_n_epochs=1``); it is built for ``trainer.current_epoch``: the shuffle
order is a :class:`~torch.utils.data.DistributedSampler` permutation of ``(seed, epoch)`` (also
with one process) and the augmentation draws from ``(seed, epoch, sample)``
(:class:`~skelact.data.dataset.SkeletonDataset`). A resumed run therefore sees exactly the data
an uninterrupted run would, whatever the number of workers.

``data.batch_size`` is the global batch: each of the ``world_size`` processes loads
``batch_size / world_size`` samples per step.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.seed import pl_worker_init_function
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, DistributedSampler, SequentialSampler

from ..data import protocols
from ..data.dataset import SkeletonDataset
from ..data.store import SkeletonStore
from ..data.transforms import build_transforms, fill_frames
from ..errors import ConfigError
from ..models.spec import InputSpec
from .callbacks import derive_seed
from .config import ExperimentConfig
from .inputs import (
    DATA_ENV,
    experiment_classes,
    open_store,
    resolve_input_spec,
    resolve_store_path,
    uses_protocol,
)

__all__ = ["DATA_ENV", "SkeletonDataModule", "fill_frames", "resolve_store_path"]

SPLITS = ("train", "val", "test")


def _evenly(idx: np.ndarray, k: int | None) -> np.ndarray:
    if k is None or len(idx) <= k:
        return idx
    return idx[np.unique(np.linspace(0, len(idx) - 1, k).round().astype(np.int64))]


class SkeletonDataModule(pl.LightningDataModule):
    """Data of one experiment (one fold). ``fold`` overrides ``cfg.data.fold``.

    Args:
        cfg: the experiment config.
        fold: the fold to load (default ``cfg.data.fold``).
        spec: the model's input spec (:func:`skelact.train.inputs.build_experiment_model` for a new
            model, the checkpoint's for a trained one): the samples hold ``spec.input_frames``
            frames. Without it, the spec of the data alone (:func:`~skelact.train.inputs.resolve_input_spec`:
            samples of ``data.frames`` frames, right for models that read no more than the window).
        store: the prepared store, when already open (default: :func:`~skelact.train.inputs.open_store`).
    """

    def __init__(
        self,
        cfg: ExperimentConfig,
        fold: int | None = None,
        *,
        spec: InputSpec | None = None,
        store: SkeletonStore | None = None,
    ):
        super().__init__()
        self.cfg = cfg
        self.store = open_store(cfg) if store is None else store
        self.store_path = self.store.path
        self.fold = fold if fold is not None else (cfg.data.fold if isinstance(cfg.data.fold, int) else None)
        self.indices = self._split_indices()
        self.classes = experiment_classes(cfg, self.store)
        self.input_spec = resolve_input_spec(cfg, self.store) if spec is None else spec
        if self.input_spec.layout != self.store.layout:
            raise ConfigError(
                f"data.store: {self.store_path} holds {self.store.layout!r} skeletons; the model takes "
                f"{self.input_spec.layout!r}"
            )
        self.datasets: dict[tuple[str, bool], SkeletonDataset] = {}

    # -- facts the model is built from ------------------------------------------------------------
    @property
    def _uses_protocol(self) -> bool:
        return uses_protocol(self.cfg)

    @property
    def layout(self) -> str:
        return self.input_spec.layout

    @property
    def class_names(self) -> list[str]:
        return list(self.input_spec.class_names)

    @property
    def num_classes(self) -> int:
        return self.input_spec.num_classes

    @property
    def in_channels(self) -> int:
        return self.input_spec.in_channels

    @property
    def input_frames(self) -> int:
        """Frames of one sample (``input_spec.input_frames``)."""
        return self.input_spec.input_frames

    def spec(self) -> dict[str, Any]:
        """The input spec as saved in checkpoints (:meth:`InputSpec.to_dict`)."""
        return self.input_spec.to_dict()

    # -- splits -----------------------------------------------------------------------------------
    def _split_indices(self) -> dict[str, np.ndarray]:
        d = self.cfg.data
        explicit = {"train": d.train_indices, "val": d.val_indices, "test": d.test_indices}
        out: dict[str, np.ndarray] = {}
        if explicit["train"] is None or explicit["test"] is None:
            if not self._uses_protocol:
                raise ConfigError("data.protocol: 'none' needs data.train_indices and data.test_indices")
            split = protocols.split(self.store, d.protocol, self.fold)
            out.update(
                train=_evenly(np.asarray(split["train"]), d.subset),
                test=_evenly(np.asarray(split["test"]), d.subset),
            )
        for name, given in explicit.items():
            if given is not None:
                arr = np.asarray(given, dtype=np.int64)
                if len(arr) and (arr.min() < 0 or arr.max() >= len(self.store)):
                    raise ConfigError(
                        f"data.{name}_indices: positions out of range for {len(self.store)} samples"
                    )
                out[name] = arr
        if "val" not in out:
            if d.validation.fraction > 0:
                seed = self.cfg.seed if d.validation.seed is None else d.validation.seed
                try:
                    carved = protocols.validation_split(
                        self.store, out["train"], d.validation.fraction, by=d.validation.by, seed=seed
                    )
                except ValueError as e:
                    raise ConfigError(f"data.validation: {e}") from None
                out["train"], out["val"] = np.asarray(carved["train"]), np.asarray(carved["val"])
            else:
                out["val"] = np.empty(0, dtype=np.int64)
        out = {name: np.asarray(out[name], dtype=np.int64) for name in SPLITS}
        if len(out["train"]) == 0:
            raise ConfigError(f"data: the training split of {d.protocol} fold {self.fold} is empty")
        return out

    @property
    def has_validation(self) -> bool:
        return len(self.indices["val"]) > 0

    # -- datasets ---------------------------------------------------------------------------------
    def transforms(self, train: bool):
        specs = self.cfg.data.train_transforms if train else self.cfg.data.test_transforms
        return build_transforms(fill_frames(list(specs), self.input_spec.input_frames), layout=self.layout)

    def dataset(self, split: str, augment: bool | None = None) -> SkeletonDataset:
        """The dataset of ``split``; ``augment`` (default: for ``train`` only) picks the
        training transforms instead of the deterministic test transforms."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
        augment = split == "train" if augment is None else augment
        key = (split, augment)
        if key not in self.datasets:
            self.datasets[key] = SkeletonDataset(
                self.store,
                self.indices[split],
                self.transforms(train=augment),
                seed=self.cfg.seed,
                classes=self.classes,
            )
        return self.datasets[key]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.dataset("train")
        if stage in (None, "fit", "validate") and self.has_validation:
            self.dataset("val")
        if stage in (None, "test"):
            self.dataset("test")

    # -- loaders ----------------------------------------------------------------------------------
    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 1, 0
        return trainer.world_size, trainer.global_rank

    def _loader_kwargs(self, rank: int) -> dict[str, Any]:
        pin = self.cfg.data.pin_memory
        workers = self.cfg.data.num_workers
        return {
            "num_workers": workers,
            "pin_memory": torch.cuda.is_available() if pin is None else pin,
            "persistent_workers": False,  # workers must pick up each epoch's augmentation seed
            "worker_init_fn": functools.partial(pl_worker_init_function, rank=rank) if workers else None,
        }

    def per_device_batch(self, world: int, batch_size: int) -> int:
        if batch_size % world:
            raise ConfigError(f"data.batch_size: {batch_size} is not divisible by the {world} processes")
        return batch_size // world

    def train_dataloader(self) -> DataLoader:
        world, rank = self._world()
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        ds = self.dataset("train")
        ds.set_epoch(epoch)
        sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=self.cfg.seed)
        sampler.set_epoch(epoch)
        batch = self.per_device_batch(world, self.cfg.data.batch_size)
        generator = torch.Generator().manual_seed(derive_seed(self.cfg.seed, epoch, rank, 1))
        # A last batch of one sample breaks batch norm; drop the remainder when there is a full batch.
        drop_last = len(sampler) > batch
        return DataLoader(
            ds,
            batch_size=batch,
            sampler=sampler,
            drop_last=drop_last,
            generator=generator,
            **self._loader_kwargs(rank),
        )

    def eval_dataloader(self, split: str, distributed: bool = True) -> DataLoader:
        """A deterministic loader over ``split``; under DDP each process gets a disjoint part
        (``distributed=False``: the whole split, e.g. for a pass on rank 0 only)."""
        world, rank = self._world() if distributed else (1, 0)
        ds = self.dataset(split, augment=False)
        if world > 1:
            sampler = UnrepeatedDistributedSampler(ds, num_replicas=world, rank=rank, shuffle=False)
        else:
            sampler = SequentialSampler(ds)
        size = self.cfg.data.eval_batch_size or self.cfg.data.batch_size
        batch = max(1, size // world)
        return DataLoader(ds, batch_size=batch, sampler=sampler, **self._loader_kwargs(rank))

    def val_dataloader(self) -> DataLoader | list:
        return self.eval_dataloader("val") if self.has_validation else []

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")
