"""SkeletonDataset: items, label remapping, DataLoader with workers, reproducible augmentation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from skelact.data.dataset import SkeletonDataset
from skelact.data.store import SkeletonStore, StoreWriter
from skelact.data.transforms import build_transforms


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("ds") / "store"
    with StoreWriter(path, dataset="msr3d", layout="kinect20", bodies=1) as w:
        for i in range(24):
            t = int(rng.integers(15, 40))
            w.add(
                rng.standard_normal((t, 1, 20, 3)).astype(np.float32) + 1, {"sample": f"s{i}", "label": i % 4}
            )
    return SkeletonStore(path)


def test_items_are_model_inputs(store):
    ds = SkeletonDataset(store, indices=[3, 5])
    x, y = ds[1]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    assert x.shape == (3, store.lengths[5], 20, 1)  # (C, T, V, M)
    np.testing.assert_array_equal(x.numpy(), store[5].transpose(3, 0, 2, 1))
    assert y == 1 and isinstance(y, int)
    x[0, 0, 0, 0] = 123.0  # items own their memory; the store is untouched
    assert store[5][0, 0, 0, 0] != 123.0
    assert len(SkeletonDataset(store.path)) == 24  # a path works too


def test_classes_remap_labels(store):
    ds = SkeletonDataset(store, indices=np.flatnonzero(np.isin(store.labels, [3, 1])), classes=[3, 1])
    assert set(ds.labels.tolist()) == {0, 1}
    for i in range(len(ds)):
        assert ds[i][1] == {3: 0, 1: 1}[int(store.labels[ds.indices[i]])]
    with pytest.raises(ValueError, match="not among classes"):
        SkeletonDataset(store, classes=[0, 1])


def test_out_of_range_indices(store):
    with pytest.raises(IndexError):
        SkeletonDataset(store, indices=[0, 24])


def _loader(ds, workers):
    return DataLoader(ds, batch_size=5, shuffle=False, num_workers=workers)


def test_dataloader_with_two_workers_and_reproducible_augmentation(store):
    aug = build_transforms(
        [
            {"name": "RandomSample", "frames": 12},
            {"name": "RandomRotate"},
            {"name": "GaussianNoise", "std": 0.05},
        ],
        layout="kinect20",
    )
    ds = SkeletonDataset(store, indices=np.arange(20), transform=aug, seed=7)
    assert len(pickle.dumps(ds)) < 20_000  # no memory map in what workers receive

    def epoch(e, workers):
        ds.set_epoch(e)
        xs, ys = zip(*_loader(ds, workers), strict=True)
        return torch.cat(xs), torch.cat(ys)

    x0, y0 = epoch(0, workers=2)
    assert x0.shape == (20, 3, 12, 20, 1)
    np.testing.assert_array_equal(y0.numpy(), store.labels[:20])
    x0_again, _ = epoch(0, workers=0)  # same (seed, epoch, index) -> same draws, whatever the workers
    torch.testing.assert_close(x0, x0_again, rtol=0, atol=0)
    x1, _ = epoch(1, workers=2)
    assert not torch.equal(x0, x1)  # a new epoch draws anew
    ds.seed = 8
    x0_seed8, _ = epoch(0, workers=0)
    assert not torch.equal(x0, x0_seed8)
