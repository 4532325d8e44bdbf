"""``prepare``: a raw dataset folder -> a packed :class:`~skelact.data.store.SkeletonStore`.

Per dataset (:data:`DATASETS`):

* ``ntu60``: ``*.skeleton`` files of setups S001-S017 (recursively); ``ntu120``: all setups.
  Samples on the official "samples with missing skeletons" list are skipped: the list is given
  (``missing=FILE``) or found in ``src`` under its official name
  (``NTU_RGBD_samples_with_missing_skeletons.txt``, ``NTU_RGBD120_...``, or ST-GCN's
  ``samples_with_missing_skeletons.txt``).
* ``kinetics``: ``*.json`` clips (label files excluded). Labels: the official index of the clip's
  class name in ``label_name.txt`` when known (``label_names=FILE`` or found in ``src``), else
  the clip's ``label_index``; an entry in a Kinetics label file (``kinetics_{train,val}_label.json``)
  wins over both. Split: ``train``/``val`` from a parent folder name containing it, else from the
  label file that lists the clip; with only one label file present, clips it does not list belong
  to the other split. Clips the label file marks ``has_skeleton: false`` are skipped.
* ``msr3d``: ``*_skeleton3D.txt`` (real-world coordinates, the default) or, with
  ``msr_form="screen"``, the screen-coordinate ``*_skeleton.txt`` files.
* ``florence3d``: ``Florence_dataset_WorldCoordinates.txt`` (15 joints, what the papers use) when
  present, else ``Florence_dataset_Features.txt`` (8 normalised joints); ``florence_file`` forces one
  (``"world"`` / ``"features"``). One file holds all sequences.

Files are parsed in worker processes (ordered, chunked, with a bounded number of chunks in flight so
memory stays constant even if writing stalls), optionally normalised there (``normalize``: transform
specs as in :func:`~skelact.data.transforms.build_transforms`, applied per sample at prepare time and
recorded in the manifest), and streamed into a :class:`~skelact.data.store.StoreWriter` in the main
process. Files that fail to parse are skipped and listed with their error; prepare fails only if
nothing parses.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from ..errors import ConfigError, SkeletonFormatError
from .class_names import CLASS_NAMES, read_label_names
from .formats import get_format
from .formats.ntu import read_missing_list as _read_missing_list
from .io import iter_samples
from .store import StoreWriter
from .transforms import build_transforms

_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
NTU60_MISSING = ("NTU_RGBD_samples_with_missing_skeletons.txt", "samples_with_missing_skeletons.txt")
NTU120_MISSING = ("NTU_RGBD120_samples_with_missing_skeletons.txt",)
FLORENCE_FILES = {
    "world": "Florence_dataset_WorldCoordinates.txt",
    "features": "Florence_dataset_Features.txt",
}


@dataclass(frozen=True)
class DatasetSpec:
    """What prepare needs to know about one dataset."""

    name: str
    reader_format: str  # skelact.load format name
    bodies: int  # default store M
    splits: tuple[str, ...] = ()
    description: str = ""
    title: str = ""  # the dataset's name in reports and tables


DATASETS: dict[str, DatasetSpec] = {
    "ntu60": DatasetSpec("ntu60", "ntu", 2, (), "NTU RGB+D 60 (setups S001-S017)", "NTU RGB+D 60"),
    "ntu120": DatasetSpec("ntu120", "ntu", 2, (), "NTU RGB+D 120 (setups S001-S032)", "NTU RGB+D 120"),
    "kinetics": DatasetSpec("kinetics", "kinetics", 2, ("train", "val"), "Kinetics-skeleton (OpenPose 18)",
                            "Kinetics-skeleton"),  # fmt: skip
    "msr3d": DatasetSpec("msr3d", "msr3d", 1, (), "MSRAction3D (20 joints)", "MSRAction3D"),
    "florence3d": DatasetSpec("florence3d", "florence", 1, (), "Florence3D", "Florence3D"),
}


@dataclass
class PrepareSummary:
    """What a prepare run did; also stored in the manifest under ``"prepare"``."""

    dataset: str
    src: str
    out: str
    files_found: int = 0
    files_parsed: int = 0
    samples_written: int = 0
    frames_written: int = 0
    skipped_missing: int = 0
    skipped_missing_list: str | None = None
    skipped_empty: int = 0
    all_zero_samples: int = 0
    untracked_joints: int = 0  # joint positions the file marks untracked, written as zeros
    reader_revision: int = 1  # the reader's REVISION (skelact.data.formats)
    bad_files: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    normalize: list[Any] | None = None
    seconds: float = 0.0

    @property
    def files_per_second(self) -> float:
        return self.files_found / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "files_per_second": round(self.files_per_second, 2)}

    def format(self) -> str:
        """A human-readable multi-line summary."""
        lines = [
            f"prepared {self.dataset}: {self.samples_written} samples, {self.frames_written} frames "
            f"-> {self.out}",
            f"  files: {self.files_found} found, {self.files_parsed} parsed, {len(self.bad_files)} bad "
            f"({self.seconds:.1f} s, {self.files_per_second:.1f} files/s)",
        ]
        if self.skipped_missing or self.skipped_missing_list:
            lines.append(
                f"  skipped {self.skipped_missing} on the missing-skeleton list ({self.skipped_missing_list})"
            )
        if self.skipped_empty:
            lines.append(
                f"  skipped {self.skipped_empty} clip(s) marked has_skeleton=false by the label file"
            )
        if self.all_zero_samples:
            lines.append(f"  {self.all_zero_samples} sample(s) are all zeros (no skeleton tracked); kept")
        if self.untracked_joints:
            n = self.untracked_joints
            lines.append(f"  {n} joint position(s) marked untracked by the file; written as zeros (missing)")
        lines += [f"  note: {n}" for n in self.notes]
        for bad in self.bad_files:
            lines.append(f"  bad file: {bad['file']}: {bad['error']}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------------
def _walk(src: Path, suffix: str) -> list[Path]:
    """Files under ``src`` (recursively) whose name ends with ``suffix`` or ``suffix + ".gz"``
    (the readers decompress gzip), hidden files and folders left out; sorted by path."""
    found: list[Path] = []
    suffixes = (suffix, suffix + ".gz")
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in files if f.endswith(suffixes) and not f.startswith("."))
    return sorted(found)


def discover(
    dataset: str, src: str | os.PathLike[str], *, msr_form: str = "real3d", florence_file: str = "auto"
) -> list[Path]:
    """The raw files of ``dataset`` under ``src`` (sorted), before missing-list filtering."""
    spec = get_dataset(dataset)
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"source folder not found: {src}")
    if spec.name in ("ntu60", "ntu120"):
        files = _walk(src, ".skeleton")
        if spec.name == "ntu60":
            files = [f for f in files if (m := _NTU_NAME.search(f.name)) is None or int(m.group(1)) <= 17]
        return files
    if spec.name == "kinetics":
        return [f for f in _walk(src, ".json") if not _clip_id(f).endswith("_label")]
    if spec.name == "msr3d":
        if msr_form not in ("real3d", "screen"):
            raise ConfigError(f"msr_form must be 'real3d' or 'screen', got {msr_form!r}")
        if msr_form == "real3d":
            return _walk(src, "_skeleton3D.txt")
        return _walk(src, "_skeleton.txt")
    # florence3d
    if florence_file not in ("auto", "world", "features"):
        raise ConfigError(f"florence_file must be 'auto', 'world' or 'features', got {florence_file!r}")
    kinds = ("world", "features") if florence_file == "auto" else (florence_file,)
    for kind in kinds:
        hits = _walk(src, FLORENCE_FILES[kind])
        if hits:
            return hits[:1]
    return []


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def find_missing_list(dataset: str, src: str | os.PathLike[str]) -> Path | None:
    """The official missing-skeleton list inside ``src`` (top level), if there is one."""
    names = NTU120_MISSING + NTU60_MISSING if dataset == "ntu120" else NTU60_MISSING
    for name in names:
        if (Path(src) / name).is_file():
            return Path(src) / name
    return None


def read_missing_list(path: str | os.PathLike[str]) -> set[str]:
    """Sample names on an official missing-skeleton list (the NTU reader's parser)."""
    return _read_missing_list(os.fspath(path))


# ---------------------------------------------------------------------------------------------
# Kinetics labels and splits
# ---------------------------------------------------------------------------------------------
def _near(src: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` in ``src`` or its parent (where Kinetics keeps its label files)."""
    return sorted({*src.glob(pattern), *src.parent.glob(pattern)})


def _clip_id(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name[:-5] if name.endswith(".json") else name


@dataclass
class _KineticsLabels:
    src: Path
    names: list[str] | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # split -> {clip id: entry}
    relabelled: int = 0

    @classmethod
    def load(
        cls,
        src: Path,
        label_names: str | os.PathLike[str] | None,
        label_files: Sequence[str | os.PathLike[str]],
    ) -> _KineticsLabels:
        names_path = Path(label_names) if label_names else next(iter(_near(src, "label_name.txt")), None)
        names = read_label_names(names_path) if names_path else None
        files: dict[str, dict[str, Any]] = {}
        for path in [Path(p) for p in label_files] or _near(src, "kinetics_*_label.json"):
            split = "val" if "val" in path.name else "train" if "train" in path.name else None
            if split is None:
                raise ConfigError(f"label file {path}: its name must say 'train' or 'val'")
            try:
                with open(path, encoding="utf-8") as f:
                    files[split] = json.load(f)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise SkeletonFormatError(path, f"unreadable label file: {e}") from None
        return cls(src=src, names=names, files=files)

    def split_of(self, path: Path, clip: str) -> str | None:
        """train/val from a folder name below ``src``, else from the label files."""
        try:
            folders = path.parent.relative_to(self.src).parts
        except ValueError:
            folders = ()
        for part in reversed(folders):
            low = part.lower()
            if "train" in low:
                return "train"
            if "val" in low:
                return "val"
        for split, entries in self.files.items():
            if clip in entries:
                return split
        if len(self.files) == 1:  # Kinetics has two splits: not in the one list -> the other
            return "train" if "val" in self.files else "val"
        return None

    def entry(self, clip: str) -> dict[str, Any] | None:
        for entries in self.files.values():
            if clip in entries:
                return dict(entries[clip])
        return None

    def annotate(self, meta: Mapping[str, Any], path: Path) -> dict[str, Any] | None:
        """``meta`` with the official label and the split; None for clips without a skeleton."""
        clip = _clip_id(path)
        entry = self.entry(clip)
        if entry is not None and entry.get("has_skeleton") is False:
            return None
        return {**meta, "label": self.label(meta, entry), "split": self.split_of(path, clip)}

    def label(self, meta: Mapping[str, Any], entry: Mapping[str, Any] | None) -> int | None:
        """Label file entry > official index of the class name > the clip's own label_index."""
        if entry is not None and "label_index" in entry:
            return int(entry["label_index"])
        name = meta.get("label_name")
        if self.names and name in self.names:
            official = self.names.index(name)
            if meta.get("label") is not None and int(meta["label"]) != official:
                self.relabelled += 1
            return official
        return meta.get("label")


# ---------------------------------------------------------------------------------------------
# Parsing in worker processes
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    reader_format: str | None
    reader_options: dict[str, Any]
    normalize: list[Any] | None
    layout: str


_JOB: _Job | None = None
_NORMALIZE: Callable[..., np.ndarray] | None = None


def _init_worker(job: _Job) -> None:
    global _JOB, _NORMALIZE
    _JOB = job
    _NORMALIZE = None
    if job.normalize:
        _NORMALIZE = build_transforms(job.normalize, layout=job.layout)


def _parse_file(path: str) -> tuple[str, list[tuple[np.ndarray, dict[str, Any]]] | None, str | None]:
    """Parse one file into ``[(data (T, M, V, C), meta), ...]``, or report its error line."""
    assert _JOB is not None
    try:
        out = []
        for sk in iter_samples(path, format=_JOB.reader_format, **_JOB.reader_options):
            data = sk.data
            if _NORMALIZE is not None:  # transforms work on (C, T, V, M)
                data = _NORMALIZE(data.transpose(3, 0, 2, 1)).transpose(1, 3, 2, 0)
            meta = {k: v for k, v in sk.meta.items() if _portable(v)}  # drop per-frame arrays
            meta["layout"] = sk.layout
            out.append((np.ascontiguousarray(data, dtype=np.float32), meta))
        return path, out, None
    except ConfigError:  # a bad option is fatal, not a bad file: re-raised in the main process
        raise
    except SkeletonFormatError as e:
        return path, None, str(e)
    except (OSError, UnicodeDecodeError) as e:
        return path, None, f"{path}: {type(e).__name__}: {e}"
    except Exception as e:  # a reader bug must not abort a long prepare: report it with the file
        return path, None, f"{path}: internal error {type(e).__name__}: {e}"


def _portable(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, str) for v in value)
    return value is None or isinstance(value, (str, int, float, np.integer))


def _parse_chunk(
    paths: list[str],
) -> list[tuple[str, list[tuple[np.ndarray, dict[str, Any]]] | None, str | None]]:
    return [_parse_file(p) for p in paths]


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _parse_all(
    paths: Sequence[str], job: _Job, workers: int, chunksize: int
) -> Iterator[tuple[str, Any, Any]]:
    """Parse results in file order. With ``workers > 1`` a process pool works ahead by at most
    ``4 * workers`` chunks (``Pool.imap`` has no such bound: results would pile up in memory if the
    writer were slower than the parsers)."""
    if workers <= 1:
        _init_worker(job)
        for p in paths:
            yield _parse_file(p)
        return
    with multiprocessing.Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
        pending: deque[Any] = deque()
        chunks = _chunks(paths, chunksize)
        for chunk in chunks:
            pending.append(pool.apply_async(_parse_chunk, (chunk,)))
            if len(pending) >= 4 * workers:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


# ---------------------------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------------------------
def _normalize_specs(normalize: str | Sequence[Any] | None) -> list[Any] | None:
    if normalize is None or normalize == "none" or normalize == []:
        return None
    if isinstance(normalize, str):
        return [{"name": n.strip()} for n in normalize.split(",") if n.strip()]
    return list(normalize)


def prepare(
    dataset: str,
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    workers: int = 2,
    missing: str | os.PathLike[str] | None = None,
    bodies: int | None = None,
    normalize: str | Sequence[Any] | None = None,
    label_names: str | os.PathLike[str] | None = None,
    label_files: Sequence[str | os.PathLike[str]] = (),
    msr_form: str = "real3d",
    florence_file: str = "auto",
    reader_options: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    chunksize: int | None = None,
    limit: int | None = None,
) -> PrepareSummary:
    """Parse the raw files of ``dataset`` in ``src`` into a store at ``out``.

    Args:
        dataset: ``ntu60``, ``ntu120``, ``kinetics``, ``msr3d`` or ``florence3d``.
        workers: parsing processes (``<= 1``: parse in this process).
        missing: NTU missing-skeleton list; default: the official list if found in ``src``.
        bodies: the store's ``M`` (default per dataset: NTU/Kinetics 2, MSR/Florence 1), also passed
            to the reader as ``max_bodies``.
        normalize: transforms applied per sample before writing, e.g. ``"PreNormalize3D"`` or
            ``[{"name": "CenterOnHip"}]``; recorded in the manifest.
        label_names, label_files: Kinetics ``label_name.txt`` and label JSON files (default: found in
            ``src``).
        msr_form: ``"real3d"`` (``*_skeleton3D.txt``) or ``"screen"`` (``*_skeleton.txt``).
        florence_file: ``"auto"``, ``"world"`` or ``"features"``.
        reader_options: extra options for :func:`skelact.data.io.iter_samples`.
        overwrite: replace an existing store (only once the new one is complete).
        progress: show a tqdm progress bar (on a terminal).
        chunksize: files per worker task (default: balanced for the file count).
        limit: parse only the first ``limit`` files (quick looks).

    Returns:
        The :class:`PrepareSummary` (also in ``manifest["prepare"]``).

    Raises:
        SkeletonFormatError: when no file parses (the summary's first errors are in the message).
        FileExistsError: ``out`` exists and ``overwrite`` is false.
    """
    t0 = time.perf_counter()
    spec = get_dataset(dataset)
    src, out = Path(src), Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (use --overwrite to replace it)")
    summary = PrepareSummary(dataset=spec.name, src=str(src), out=str(out),
                             reader_revision=get_format(spec.reader_format).revision)  # fmt: skip
    files = _select_files(spec, src, summary, missing, msr_form, florence_file, limit)

    kin = _KineticsLabels.load(src, label_names, label_files) if spec.name == "kinetics" else None
    class_names = (kin.names if kin else None) if spec.name == "kinetics" else list(CLASS_NAMES[spec.name])
    m = int(bodies) if bodies is not None else spec.bodies
    norm = _normalize_specs(normalize)
    summary.normalize = norm
    layout = _expected_layout(spec.name, files[0])
    if norm:  # fail on bad specs here, once, not in every worker
        build_transforms(norm, layout=layout)
    job = _Job(spec.reader_format, _reader_options(spec, m, reader_options), norm, layout)
    chunk = chunksize or max(1, min(32, len(files) // (max(workers, 1) * 8)))

    writer: StoreWriter | None = None
    bar = tqdm(total=len(files), unit="file", desc=f"prepare {spec.name}", disable=None if progress else True)
    try:
        for path, samples, error in _parse_all([str(f) for f in files], job, workers, chunk):
            bar.update(1)
            if error is not None:
                summary.bad_files.append({"file": path, "error": error})
                continue
            summary.files_parsed += 1
            for data, meta in samples:
                if kin is not None:
                    meta = kin.annotate(meta, Path(path))
                    if meta is None:
                        summary.skipped_empty += 1
                        continue
                if writer is None:
                    if meta["layout"] != layout:
                        raise SkeletonFormatError(
                            path, f"expected layout {layout}, the reader gave {meta['layout']}"
                        )
                    channels = meta.get("channels")
                    writer = StoreWriter(
                        out, dataset=spec.name, layout=layout, bodies=m, class_names=class_names,
                        channels=channels if isinstance(channels, (list, tuple)) else None,
                        splits=spec.splits, overwrite=overwrite,
                    )  # fmt: skip
                try:
                    writer.add(data, meta)
                except ValueError as e:  # validated before anything is written: skip the sample
                    summary.bad_files.append({"file": path, "error": f"{path}: {e}"})
                    continue
                if not data.any():
                    summary.all_zero_samples += 1
                summary.untracked_joints += int(meta.get("untracked_joints", 0))
        bar.close()
        if writer is None:
            first = "; ".join(b["error"] for b in summary.bad_files[:3])
            raise SkeletonFormatError(src, f"no file could be parsed ({len(summary.bad_files)} bad): {first}")
        summary.samples_written, summary.frames_written = writer.num_samples, writer.num_frames
        if kin is not None and kin.relabelled:
            summary.notes.append(
                f"{kin.relabelled} clip(s) relabelled to the official index of their class name"
            )
        summary.seconds = time.perf_counter() - t0
        writer.close(extra={"prepare": summary.to_dict()})
    except BaseException:
        bar.close()
        if writer is not None:
            writer.abort()
        raise
    summary.seconds = time.perf_counter() - t0
    return summary


def _select_files(
    spec: DatasetSpec,
    src: Path,
    summary: PrepareSummary,
    missing: str | os.PathLike[str] | None,
    msr_form: str,
    florence_file: str,
    limit: int | None,
) -> list[Path]:
    """The files to parse: discovered, minus NTU's missing-skeleton list, up to ``limit``."""
    files = discover(spec.name, src, msr_form=msr_form, florence_file=florence_file)
    if spec.name in ("ntu60", "ntu120"):
        missing_path = Path(missing) if missing else find_missing_list(spec.name, src)
        if missing_path is not None:
            skip = read_missing_list(missing_path)
            kept = [f for f in files if f.name.split(".")[0] not in skip]
            summary.skipped_missing = len(files) - len(kept)
            summary.skipped_missing_list = str(missing_path)
            files = kept
    elif missing:
        raise ConfigError(f"--missing applies to NTU datasets, not {spec.name}")
    if limit is not None:
        files = files[: max(0, int(limit))]
    summary.files_found = len(files)
    if not files:
        raise FileNotFoundError(f"no {spec.name} files found in {src}")
    return files


def _reader_options(spec: DatasetSpec, bodies: int, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Reader options: ``max_bodies`` where the reader takes it, then the caller's (checked here)."""
    allowed = get_format(spec.reader_format).option_names()
    options = {"max_bodies": bodies} if "max_bodies" in allowed else {}
    options.update(extra or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown reader option(s) {', '.join(unknown)} for {spec.name}; "
            f"known: {', '.join(allowed) or 'none'}"
        )
    return options


def _expected_layout(dataset: str, first: Path) -> str:
    """The layout the reader gives for ``dataset`` (Florence: by which of its two files it is)."""
    if dataset == "florence3d":
        return "florence8" if first.name.startswith(FLORENCE_FILES["features"]) else "florence15"
    return {"ntu60": "ntu25", "ntu120": "ntu25", "kinetics": "openpose18", "msr3d": "kinect20"}[dataset]
