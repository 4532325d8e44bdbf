"""The prepared dataset store: all frames of a dataset packed into one memory-mapped file.

On disk a store is a directory::

    <store>/
      data.bin        float32 little-endian, every sample's (T, M, V, C) block back to back (row-major)
      index.npy       structured array, one row per sample (see INDEX_FIELDS)
      manifest.json   format_version, dataset, layout, shape facts, class names, checksums, summary

``index["offset"]`` counts **frames** (not bytes, not elements): sample ``i`` is
``frames[offset : offset + length]`` of ``data.bin`` viewed as ``(num_frames, M, V, C)``. All samples
of one store share ``M`` (bodies are zero-padded up to the store's ``M``), ``V`` and ``C``.
Integer index fields hold ``-1`` where a dataset has no such fact (e.g. no camera in MSRAction3D).

Writing (:class:`StoreWriter`) streams samples straight to disk, so memory stays constant whatever
the dataset size. Everything is written into a hidden sibling directory ``.<name>.partial-XXXX``;
only :meth:`StoreWriter.close` fsyncs the files, writes ``manifest.json`` **last** and renames the
directory into place. An interrupted write therefore never leaves a directory at the target path,
and a directory without a complete manifest is refused by :class:`SkeletonStore`.

Reading (:class:`SkeletonStore`) maps ``data.bin`` lazily; ``store[i]`` is a slice of the map (a
view, not a parse). A store pickles without its map, so it can be handed to DataLoader workers,
each of which opens its own map on first access.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import SkeletonFormatError
from .layouts import get_layout
from .skeleton import Skeleton

FORMAT_VERSION = 1
DATA_FILE = "data.bin"
INDEX_FILE = "index.npy"
MANIFEST_FILE = "manifest.json"
HASH_ALGORITHM = "sha256"
_HASH_CHUNK = 16 << 20  # bytes read per step when verifying

#: Integer facts of a sample kept in the index (``-1`` where absent), besides name/offset/length.
META_FIELDS = ("label", "subject", "camera", "setup", "replication")

#: Fields of ``index.npy`` in order. ``sample`` is a unicode string sized to the longest name;
#: ``split`` indexes ``manifest["splits"]`` (e.g. Kinetics train/val), -1 where not recorded.
INDEX_FIELDS = ("sample", "offset", "length", "bodies", *META_FIELDS, "split")


def index_dtype(name_width: int) -> np.dtype:
    """The structured dtype of ``index.npy`` for sample names of up to ``name_width`` characters."""
    return np.dtype(
        [("sample", f"<U{max(1, name_width)}"), ("offset", "<i8"), ("length", "<i4"), ("bodies", "<i2")]
        + [(f, "<i4") for f in META_FIELDS]
        + [("split", "<i2")]
    )


class StoreError(SkeletonFormatError):
    """A store directory is missing, incomplete (interrupted prepare), truncated or corrupt.

    A :class:`~skelact.SkeletonFormatError`, so the CLI reports it as a one-line error (exit 2).
    """

    def __init__(self, path: str | os.PathLike[str], message: str):
        super().__init__(path, message)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _file_digest(path: Path) -> str:
    h = hashlib.new(HASH_ALGORITHM)
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _meta_int(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key)
    if value is None:
        return -1
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"meta[{key!r}] must be an integer, got {value!r}") from None


class StoreWriter:
    """Stream samples into a new store at ``out``; atomic on :meth:`close`.

    Args:
        out: target directory (must not exist unless ``overwrite``).
        dataset: dataset name recorded in the manifest (``ntu60``, ``msr3d``, ...).
        layout: layout name (sets ``V``).
        bodies: the store's ``M``; samples with fewer bodies are zero-padded, more is an error.
        channels: channel names (default: the layout's); sets ``C``.
        class_names: class names by 0-based label, if known.
        splits: names that the per-sample ``meta["split"]`` may take (e.g. ``("train", "val")``).
        overwrite: replace an existing store at ``out`` (only once the new one is complete).

    Use as a context manager: leaving the block normally finalises the store, an exception
    discards everything written so far.

    >>> with StoreWriter(out, dataset="msr3d", layout="kinect20", bodies=1) as w:  # doctest: +SKIP
    ...     for sk in skeletons:
    ...         w.add(sk)
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        dataset: str,
        layout: str,
        bodies: int,
        channels: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        splits: Sequence[str] = (),
        overwrite: bool = False,
    ):
        self.out = Path(out).resolve()
        self.dataset = dataset
        self.layout = get_layout(layout).name
        self.num_joints = get_layout(layout).num_joints
        self.channels = tuple(channels) if channels is not None else get_layout(layout).channels
        if bodies < 1:
            raise ValueError(f"bodies must be >= 1, got {bodies}")
        self.bodies = int(bodies)
        self.class_names = list(class_names) if class_names is not None else None
        self.splits = tuple(splits)
        self.overwrite = overwrite
        if self.out.exists() and not overwrite:
            raise FileExistsError(
                f"{self.out} already exists (pass overwrite=True / --overwrite to replace it)"
            )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.partial-", dir=self.out.parent))
        self._data = open(self._tmp / DATA_FILE, "wb")  # closed in close() / abort()
        self._hash = hashlib.new(HASH_ALGORITHM)
        self._rows: list[tuple[Any, ...]] = []
        self._frames = 0
        self._closed = False

    # -- writing --------------------------------------------------------------------------------
    @property
    def num_samples(self) -> int:
        return len(self._rows)

    @property
    def num_frames(self) -> int:
        return self._frames

    def add(self, sample: Skeleton | np.ndarray, meta: Mapping[str, Any] | None = None) -> int:
        """Append one sample (a :class:`Skeleton`, or a ``(T, M, V, C)`` array plus ``meta``).

        ``meta`` needs ``sample`` (the name); ``label``, ``subject``, ``camera``, ``setup``,
        ``replication`` are stored where present, ``split`` must be one of ``splits``.
        Returns the sample's position in the store.
        """
        if self._closed:
            raise RuntimeError("StoreWriter is closed")
        if isinstance(sample, Skeleton):
            data, meta = sample.data, sample.meta if meta is None else meta
        else:
            data = sample
        meta = meta or {}
        data = np.asarray(data)
        name = str(meta.get("sample", ""))
        if not name:
            raise ValueError("meta['sample'] (the sample name) is required")
        if data.ndim != 4:
            raise ValueError(f"{name}: expected data of shape (T, M, V, C), got {data.shape}")
        t, m, v, c = data.shape
        if (v, c) != (self.num_joints, len(self.channels)):
            raise ValueError(
                f"{name}: sample has V={v}, C={c} but the store holds V={self.num_joints}, "
                f"C={len(self.channels)} (layout {self.layout!r})"
            )
        if m > self.bodies:
            raise ValueError(
                f"{name}: sample has {m} bodies, the store holds {self.bodies} (choose bodies in the reader)"
            )
        split = meta.get("split")
        if split is not None and split not in self.splits:
            raise ValueError(f"{name}: split {split!r} is not one of {self.splits}")
        facts = tuple(_meta_int(meta, k) for k in META_FIELDS)
        block = np.zeros((t, self.bodies, v, c), dtype="<f4")  # (T, M_store, V, C), zero-padded bodies
        block[:, :m] = data
        if not np.isfinite(block).all():
            raise ValueError(f"{name}: data contains NaN or inf")
        # everything is validated: only now touch the file
        buf = memoryview(block).cast("B")  # type: ignore[arg-type]  # ndarray is a buffer
        self._hash.update(buf)
        self._data.write(buf)
        bodies_present = int(np.any(block != 0, axis=(0, 2, 3)).sum())
        split_id = -1 if split is None else self.splits.index(split)
        row = (name, self._frames, t, bodies_present, *facts, split_id)
        self._rows.append(row)
        self._frames += t
        return len(self._rows) - 1

    # -- finishing ------------------------------------------------------------------------------
    def close(self, extra: Mapping[str, Any] | None = None) -> Path:
        """Finalise: fsync data and index, write the manifest last, rename into place.

        ``extra`` is merged into the manifest (e.g. the prepare summary). Returns the store path.
        """
        if self._closed:
            raise RuntimeError("StoreWriter is closed")
        try:
            self._data.flush()
            os.fsync(self._data.fileno())
            self._data.close()
            width = max((len(r[0]) for r in self._rows), default=1)
            index = np.array(self._rows, dtype=index_dtype(width))
            index_path = self._tmp / INDEX_FILE
            with open(index_path, "wb") as f:
                np.save(f, index, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            manifest = {
                "format_version": FORMAT_VERSION,
                "dataset": self.dataset,
                "layout": self.layout,
                "channels": list(self.channels),
                "V": self.num_joints,
                "M": self.bodies,
                "C": len(self.channels),
                "dtype": "float32",
                "offset_unit": "frames",
                "num_samples": len(self._rows),
                "num_frames": self._frames,
                "class_names": self.class_names,
                "splits": list(self.splits),
                "checksum": {
                    "algorithm": HASH_ALGORITHM,
                    DATA_FILE: self._hash.hexdigest(),
                    INDEX_FILE: _file_digest(index_path),
                },
                "created_by": f"skelact {__version__}",
                **(dict(extra) if extra else {}),
            }
            with open(self._tmp / MANIFEST_FILE, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(self._tmp)
            self._move_into_place()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.out

    def _move_into_place(self) -> None:
        old = None
        if self.out.exists():
            if not self.overwrite:
                raise FileExistsError(f"{self.out} appeared while writing; not replacing it")
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
            os.rename(self.out, old / "store")
        os.rename(self._tmp, self.out)
        _fsync_dir(self.out.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Discard everything written; the target path is left untouched."""
        if not self._data.closed:
            self._data.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._closed = True

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:  # an abandoned writer must not leave a partial directory behind
        if not getattr(self, "_closed", True):
            self.abort()


class SkeletonStore:
    """A prepared store opened read-only; ``store[i]`` is a ``(T, M, V, C)`` view of the memory map.

    Raises :class:`FileNotFoundError` if ``path`` does not exist and :class:`StoreError` if it is
    not a complete store (no/invalid manifest, e.g. an interrupted prepare) or its files disagree
    with the manifest (truncated ``data.bin``, wrong index).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no store at {self.path}")
        if not self.path.is_dir():
            raise StoreError(self.path, "not a store (a store is a directory made by `skelact prepare`)")
        manifest_path = self.path / MANIFEST_FILE
        if not manifest_path.is_file():
            raise StoreError(
                self.path,
                f"not a complete skelact store: {MANIFEST_FILE} is missing "
                "(an interrupted prepare? run `skelact prepare` again)",
            )
        try:
            self.manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StoreError(self.path, f"unreadable {MANIFEST_FILE}: {e}") from None
        self._check_manifest()
        try:
            self.index: np.ndarray = np.load(self.path / INDEX_FILE, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise StoreError(self.path, f"unreadable {INDEX_FILE}: {e}") from None
        self._check_index()
        self._frames: np.ndarray | None = None

    # -- validation -----------------------------------------------------------------------------
    def _check_manifest(self) -> None:
        m = self.manifest
        required = (
            "format_version",
            "dataset",
            "layout",
            "V",
            "M",
            "C",
            "num_samples",
            "num_frames",
            "checksum",
        )
        missing = [k for k in required if k not in m] if isinstance(m, dict) else list(required)
        if missing:
            raise StoreError(self.path, f"incomplete {MANIFEST_FILE}: missing {', '.join(missing)}")
        if m["format_version"] > FORMAT_VERSION:
            raise StoreError(
                self.path,
                f"store format {m['format_version']} is newer than this skelact supports ({FORMAT_VERSION})",
            )
        data_path = self.path / DATA_FILE
        if not data_path.is_file():
            raise StoreError(self.path, f"{DATA_FILE} is missing")
        expected = self.num_frames * self.frame_shape_size * 4
        actual = data_path.stat().st_size
        if actual != expected:
            raise StoreError(
                self.path,
                f"{DATA_FILE} has {actual} bytes, the manifest implies {expected} (truncated or altered)",
            )

    def _check_index(self) -> None:
        idx = self.index
        if idx.dtype.names is None or any(f not in idx.dtype.names for f in INDEX_FIELDS):
            raise StoreError(self.path, f"{INDEX_FILE} lacks the fields {INDEX_FIELDS}")
        if len(idx) != self.manifest["num_samples"]:
            raise StoreError(
                self.path,
                f"{INDEX_FILE} has {len(idx)} rows, the manifest says {self.manifest['num_samples']}",
            )
        if len(idx) and int((idx["offset"] + idx["length"]).max()) > self.num_frames:
            raise StoreError(self.path, f"{INDEX_FILE} points past the end of {DATA_FILE}")

    def verify(self) -> None:
        """Recompute the checksums of ``data.bin`` and ``index.npy``; :class:`StoreError` on mismatch."""
        sums = self.manifest["checksum"]
        algorithm = sums.get("algorithm", HASH_ALGORITHM)
        for name in (DATA_FILE, INDEX_FILE):
            h = hashlib.new(algorithm)
            with open(self.path / name, "rb") as f:
                while chunk := f.read(_HASH_CHUNK):
                    h.update(chunk)
            if h.hexdigest() != sums.get(name):
                raise StoreError(self.path, f"checksum mismatch for {name}: the store is corrupt")

    # -- shape facts ----------------------------------------------------------------------------
    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(M, V, C)``: the shape of one frame."""
        m = self.manifest
        return int(m["M"]), int(m["V"]), int(m["C"])

    @property
    def frame_shape_size(self) -> int:
        m, v, c = self.frame_shape
        return m * v * c

    @property
    def num_frames(self) -> int:
        return int(self.manifest["num_frames"])

    @property
    def dataset(self) -> str:
        return str(self.manifest["dataset"])

    @property
    def layout(self) -> str:
        return str(self.manifest["layout"])

    @property
    def class_names(self) -> list[str] | None:
        return self.manifest.get("class_names")

    @property
    def num_classes(self) -> int:
        """Number of classes: the class-name list's length, else ``max(label) + 1``."""
        if self.class_names:
            return len(self.class_names)
        labels = self.labels
        return int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0

    @property
    def labels(self) -> np.ndarray:
        """0-based labels ``(N,)`` (``-1`` where unknown)."""
        return self.index["label"]

    @property
    def lengths(self) -> np.ndarray:
        """Frame counts ``(N,)``."""
        return self.index["length"]

    @property
    def frames(self) -> np.ndarray:
        """All frames ``(num_frames, M, V, C)``, memory-mapped read-only on first use."""
        if self._frames is None:
            shape = (self.num_frames, *self.frame_shape)
            if self.num_frames == 0:
                self._frames = np.zeros(shape, dtype="<f4")
            else:
                self._frames = np.memmap(self.path / DATA_FILE, dtype="<f4", mode="r", shape=shape)
        return self._frames

    # -- access ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        """Sample ``i`` as a read-only ``(T, M, V, C)`` float32 view (no copy, no parse)."""
        n = len(self.index)
        i = int(i)
        if not -n <= i < n:
            raise IndexError(f"sample {i} out of range for a store of {n}")
        row = self.index[i]
        off, length = int(row["offset"]), int(row["length"])
        return self.frames[off : off + length]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def meta(self, i: int) -> dict[str, Any]:
        """The facts of sample ``i`` as a reader's ``meta`` dict (absent fields left out)."""
        row = self.index[int(i)]
        out: dict[str, Any] = {"sample": str(row["sample"])}
        for key in META_FIELDS:
            if int(row[key]) >= 0:
                out[key] = int(row[key])
        split = int(row["split"])
        if split >= 0:
            out["split"] = self.manifest["splits"][split]
        if "label" in out and self.class_names and out["label"] < len(self.class_names):
            out["label_name"] = self.class_names[out["label"]]
        return out

    def skeleton(self, i: int) -> Skeleton:
        """Sample ``i`` as a :class:`Skeleton` (data is a view of the map)."""
        return Skeleton(data=self[i], layout=self.layout, meta=self.meta(i))

    def find(self, sample: str) -> int:
        """Position of the sample named ``sample``; ``KeyError`` if absent."""
        hits = np.flatnonzero(self.index["sample"] == sample)
        if not len(hits):
            raise KeyError(f"no sample {sample!r} in {self.path}")
        return int(hits[0])

    # -- pickling: workers reopen the map lazily ------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_frames"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        m, v, c = self.frame_shape
        return (
            f"SkeletonStore({str(self.path)!r}, dataset={self.dataset!r}, layout={self.layout!r}, "
            f"samples={len(self)}, frames={self.num_frames}, M={m}, V={v}, C={c})"
        )


def is_store(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a directory holding a store manifest (complete or not checked further)."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST_FILE).is_file()
