"""StoreWriter / SkeletonStore: round trip, memory-map views, atomic completion, refusal of bad stores."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skelact import SkeletonFormatError
from skelact.data.skeleton import Skeleton
from skelact.data.store import (
    DATA_FILE,
    INDEX_FILE,
    MANIFEST_FILE,
    SkeletonStore,
    StoreError,
    StoreWriter,
    is_store,
)


def _samples(rng, n=5, v=25, c=3):
    out = []
    for i in range(n):
        t = int(rng.integers(1, 30))
        m = 1 + i % 2
        data = rng.standard_normal((t, m, v, c)).astype(np.float32)
        meta = {"sample": f"S{i:03d}", "label": i % 3, "subject": 10 + i, "camera": 1 + i % 3}
        if i == 0:
            meta.update(setup=4, replication=2)
        out.append(Skeleton(data=data, layout="ntu25", meta=meta))
    return out


def _write(path, samples, **kw):
    kw = {"dataset": "ntu60", "layout": "ntu25", "bodies": 2, "class_names": ["a", "b", "c"], **kw}
    with StoreWriter(path, **kw) as w:
        for s in samples:
            w.add(s)
    return path


def test_round_trip_values_meta_and_manifest(tmp_path):
    samples = _samples(np.random.default_rng(0))
    store = SkeletonStore(_write(tmp_path / "st", samples))
    assert len(store) == len(samples)
    assert store.frame_shape == (2, 25, 3)
    assert store.manifest["num_frames"] == sum(s.num_frames for s in samples)
    assert store.manifest["layout"] == "ntu25" and store.manifest["dataset"] == "ntu60"
    assert store.manifest["offset_unit"] == "frames"
    offset = 0
    for i, s in enumerate(samples):
        x = store[i]
        assert x.shape == (s.num_frames, 2, 25, 3) and x.dtype == np.float32
        np.testing.assert_array_equal(x[:, : s.num_bodies], s.data)
        assert not x[:, s.num_bodies :].any()  # bodies zero-padded to the store's M
        row = store.index[i]
        assert (row["offset"], row["length"], row["bodies"]) == (offset, s.num_frames, s.num_bodies)
        offset += s.num_frames
        sk = store.skeleton(i)
        for key, value in s.meta.items():
            assert sk.meta[key] == value
        assert sk.meta["label_name"] == "abc"[s.meta["label"]]
        assert sk.layout == "ntu25"
    # absent facts are -1 in the index and left out of meta
    assert store.index["setup"].tolist() == [4, -1, -1, -1, -1]
    assert "setup" not in store.meta(1)
    np.testing.assert_array_equal(store.labels, [0, 1, 2, 0, 1])
    assert store.find("S003") == 3
    store.verify()


def test_getitem_is_a_view_of_the_memory_map(tmp_path):
    store = SkeletonStore(_write(tmp_path / "st", _samples(np.random.default_rng(1))))
    x = store[2]
    assert np.shares_memory(x, store.frames)
    assert isinstance(store.frames, np.memmap)
    assert not x.flags.writeable
    with pytest.raises(IndexError):
        store[len(store)]
    np.testing.assert_array_equal(store[-1], store[len(store) - 1])


def test_store_pickles_without_its_map(tmp_path):
    store = SkeletonStore(_write(tmp_path / "st", _samples(np.random.default_rng(2))))
    _ = store[0]
    blob = pickle.dumps(store)
    assert len(blob) < 10_000  # the map is not in the pickle
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone[3], store[3])


def test_verify_detects_corruption(tmp_path):
    path = _write(tmp_path / "st", _samples(np.random.default_rng(3)))
    raw = bytearray((path / DATA_FILE).read_bytes())
    raw[100] ^= 0xFF
    (path / DATA_FILE).write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="checksum mismatch for data.bin"):
        SkeletonStore(path).verify()


def test_truncated_data_is_refused(tmp_path):
    path = _write(tmp_path / "st", _samples(np.random.default_rng(4)))
    raw = (path / DATA_FILE).read_bytes()
    (path / DATA_FILE).write_bytes(raw[:-4])
    with pytest.raises(StoreError, match="truncated"):
        SkeletonStore(path)


def test_exception_inside_writer_leaves_nothing(tmp_path):
    out = tmp_path / "st"
    with pytest.raises(RuntimeError, match="boom"):
        with StoreWriter(out, dataset="x", layout="ntu25", bodies=2) as w:
            w.add(_samples(np.random.default_rng(5))[0])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_killed_prepare_never_looks_complete(tmp_path):
    """A process killed mid-write leaves only a hidden partial directory that no reader opens."""
    out = tmp_path / "st"
    code = textwrap.dedent(
        f"""
        import os, numpy as np
        from skelact.data.store import StoreWriter
        w = StoreWriter({str(out)!r}, dataset="x", layout="ntu25", bodies=1)
        for i in range(3):
            w.add(np.ones((5, 1, 25, 3), np.float32), {{"sample": f"s{{i}}"}})
        w._data.flush()
        os._exit(9)  # killed: no close(), no cleanup
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert not out.exists()
    partial = [p for p in tmp_path.iterdir()]
    assert len(partial) == 1 and partial[0].name.startswith(".st.partial-")
    assert (partial[0] / DATA_FILE).stat().st_size == 3 * 5 * 25 * 3 * 4
    assert not is_store(partial[0])
    with pytest.raises(StoreError, match="not a complete skelact store"):
        SkeletonStore(partial[0])
    with pytest.raises(FileNotFoundError):
        SkeletonStore(out)


def test_incomplete_or_future_manifest_is_refused(tmp_path):
    path = _write(tmp_path / "st", _samples(np.random.default_rng(6)))
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    (path / MANIFEST_FILE).write_text(json.dumps({k: v for k, v in manifest.items() if k != "num_frames"}))
    with pytest.raises(StoreError, match="missing num_frames"):
        SkeletonStore(path)
    (path / MANIFEST_FILE).write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(StoreError, match="newer"):
        SkeletonStore(path)
    (path / MANIFEST_FILE).write_text('{"format_version": 1, "datas')  # torn write
    with pytest.raises(StoreError, match="unreadable"):
        SkeletonStore(path)
    assert issubclass(StoreError, SkeletonFormatError)  # the CLI's one-line error, exit 2


def test_existing_target_needs_overwrite_and_is_replaced_only_on_close(tmp_path):
    out = _write(tmp_path / "st", _samples(np.random.default_rng(7)))
    with pytest.raises(FileExistsError):
        StoreWriter(out, dataset="x", layout="ntu25", bodies=2)
    w = StoreWriter(out, dataset="y", layout="ntu25", bodies=2, overwrite=True)
    w.add(np.zeros((3, 1, 25, 3), np.float32), {"sample": "only"})
    assert len(SkeletonStore(out)) == 5  # old store intact until close
    w.close()
    st = SkeletonStore(out)
    assert len(st) == 1 and st.dataset == "y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st"]


@pytest.mark.parametrize(
    ("data", "meta", "match"),
    [
        (np.zeros((4, 1, 20, 3), np.float32), {"sample": "a"}, "V=20"),
        (np.zeros((4, 3, 25, 3), np.float32), {"sample": "a"}, "3 bodies"),
        (np.full((4, 1, 25, 3), np.nan, np.float32), {"sample": "a"}, "NaN"),
        (np.zeros((4, 25, 3), np.float32), {"sample": "a"}, "shape"),
        (np.zeros((4, 1, 25, 3), np.float32), {}, "sample"),
        (np.zeros((4, 1, 25, 3), np.float32), {"sample": "a", "split": "test"}, "split"),
        (np.zeros((4, 1, 25, 3), np.float32), {"sample": "a", "label": "x"}, "label"),
    ],
)
def test_bad_samples_are_rejected(tmp_path, data, meta, match):
    with StoreWriter(tmp_path / "st", dataset="x", layout="ntu25", bodies=2, splits=("train", "val")) as w:
        with pytest.raises(ValueError, match=match):
            w.add(data, meta)
        w.add(np.zeros((2, 1, 25, 3), np.float32), {"sample": "ok", "split": "val"})
    st = SkeletonStore(tmp_path / "st")
    assert len(st) == 1 and st.meta(0)["split"] == "val"


def test_not_a_store(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(StoreError, match="not a store"):
        SkeletonStore(tmp_path / "file.txt")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / INDEX_FILE).write_bytes(b"")
    with pytest.raises(StoreError, match="manifest.json is missing"):
        SkeletonStore(tmp_path / "d")
