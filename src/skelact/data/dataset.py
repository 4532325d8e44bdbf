"""A PyTorch dataset over a prepared store: items are ``(tensor (C, T, V, M), int label)``.

Works with a plain :class:`torch.utils.data.DataLoader` with workers: the dataset pickles without
the store's memory map, and each worker maps the store on its first item.

Augmentation is reproducible: item ``i`` in epoch ``e`` draws from
``np.random.default_rng([seed, e, i])`` (``i`` = the position in the store), whatever the worker,
batch order or number of workers, so a run resumed after a kill replays the same data. Call
:meth:`SkeletonDataset.set_epoch` at the start of each epoch; with ``persistent_workers=True`` the
workers keep the epoch they were started with, so leave that option off when augmenting (the
default).

Batching needs a fixed length ``T``: put a length transform (``PadTo``, ``UniformSample``,
``RandomSample``, ``RandomCrop``) in ``transform``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .store import SkeletonStore


class SkeletonDataset(Dataset[tuple[torch.Tensor, int]]):
    """Samples ``indices`` of ``store`` as ``(float32 tensor (C, T, V, M), label)``.

    Args:
        store: a :class:`SkeletonStore` or the path of one.
        indices: store positions (e.g. ``split(store, "ntu60-xsub")["train"]``); None = all.
        transform: callable ``(x (C, T, V, M), rng) -> x'``, e.g. from
            :func:`~skelact.data.transforms.build_transforms`.
        seed: base seed of the per-item generators.
        classes: store labels to keep, in order (e.g. :func:`~skelact.data.protocols.protocol_classes`
            for MSR AS1-AS3); labels are then mapped to their position in ``classes``.
    """

    def __init__(
        self,
        store: SkeletonStore | str | os.PathLike[str],
        indices: Sequence[int] | np.ndarray | None = None,
        transform: Callable[..., np.ndarray] | None = None,
        seed: int = 0,
        classes: Sequence[int] | np.ndarray | None = None,
    ):
        self.store = store if isinstance(store, SkeletonStore) else SkeletonStore(store)
        n = len(self.store)
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n):
            raise IndexError(f"indices out of range for a store of {n} samples")
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0
        labels = self.store.labels[self.indices].astype(np.int64)
        if classes is not None:
            classes = np.asarray(classes, dtype=np.int64)
            pos = np.searchsorted(np.sort(classes), labels)
            order = np.argsort(classes)
            known = np.isin(labels, classes)
            if not known.all():
                bad = sorted(set(labels[~known].tolist()))
                raise ValueError(f"samples with labels {bad} are not among classes {classes.tolist()}")
            labels = order[pos]
        self._labels = labels

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation draws are used (call before each epoch)."""
        self.epoch = int(epoch)

    @property
    def labels(self) -> np.ndarray:
        """Labels ``(len(self),)`` as returned by items (after ``classes`` remapping)."""
        return self._labels

    def rng(self, i: int) -> np.random.Generator:
        """The generator item ``i`` uses in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, int(self.indices[i])])

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        raw = self.store[int(self.indices[i])]  # (T, M, V, C) read-only view of the map
        x = raw.transpose(3, 0, 2, 1)  # (C, T, V, M)
        if self.transform is not None:
            x = self.transform(x, self.rng(i))
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not x.flags.writeable:  # still a view of the read-only map: torch needs its own memory
            x = x.copy()
        return torch.from_numpy(x), int(self._labels[i])

    def __repr__(self) -> str:
        return (
            f"SkeletonDataset({self.store!r}, n={len(self)}, transform={self.transform!r}, seed={self.seed})"
        )
