"""``skelact info PATH [--json]``: describe a raw skeleton file or a prepared store.

* A store (a directory made by ``skelact prepare``): manifest facts, per-class sample counts,
  frame-length statistics, bodies and split counts; ``--verify`` recomputes the checksums.
* A raw file: its format, layout, and per sequence the frames, bodies, channels, value ranges and
  metadata (a Florence3D file holds many sequences: totals plus the first few).

:func:`describe_store` and :func:`describe_file` return the same facts as plain dicts.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

_SHOWN_SEQUENCES = 3
_SHOWN_CLASSES = 60


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "info",
        help="describe a raw skeleton file or a prepared store",
        description="Print the format, layout, frames, bodies and metadata of a raw skeleton file, or the "
        "manifest, class histogram and frame-length statistics of a store made by `skelact prepare`.",
    )
    p.add_argument(
        "path", metavar="PATH", help="a raw skeleton file or a store directory; bundled:NAME = a bundled file"
    )
    p.add_argument("--format", help="raw file format (default: detected)")
    p.add_argument("--verify", action="store_true", help="store: recompute and check the checksums")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=run)


# ---------------------------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------------------------
def _stats(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {"min": 0, "median": 0, "mean": 0.0, "max": 0}
    return {
        "min": int(values.min()),
        "median": float(np.median(values)),
        "mean": round(float(values.mean()), 2),
        "max": int(values.max()),
    }


def _counts(values: np.ndarray) -> dict[int, int]:
    keys, counts = np.unique(values, return_counts=True)
    return {int(k): int(c) for k, c in zip(keys, counts, strict=True)}


def describe_store(path: str | os.PathLike[str], verify: bool = False) -> dict[str, Any]:
    """Facts about a store: manifest summary, class histogram, frame-length stats."""
    from ..data.store import SkeletonStore

    store = SkeletonStore(path)
    m = store.manifest
    if verify:
        store.verify()  # raises StoreError on mismatch
    names = store.class_names or []
    classes = [
        {"label": label, "name": names[label] if 0 <= label < len(names) else None, "samples": n}
        for label, n in _counts(store.labels).items()
    ]
    splits = {}
    if m.get("splits"):
        codes = _counts(store.index["split"])
        splits = {(m["splits"][k] if k >= 0 else "unknown"): n for k, n in codes.items()}
    prep = m.get("prepare", {})
    return {
        "kind": "store",
        "path": str(store.path),
        "dataset": store.dataset,
        "layout": store.layout,
        "channels": m.get("channels"),
        "shape": {"M": m["M"], "V": m["V"], "C": m["C"]},
        "num_samples": len(store),
        "num_frames": store.num_frames,
        "num_classes": len(names) if names else len(classes),
        "size_bytes": (Path(store.path) / "data.bin").stat().st_size,
        "format_version": m["format_version"],
        "created_by": m.get("created_by"),
        "checksum": m["checksum"],
        "verified": bool(verify),
        "normalize": prep.get("normalize"),
        "frames_per_sample": _stats(store.lengths),
        "bodies": _counts(store.index["bodies"]),
        "splits": splits,
        "classes": classes,
        "prepare": {
            k: prep.get(k)
            for k in ("files_found", "skipped_missing", "skipped_empty", "all_zero_samples",
                      "untracked_joints", "reader_revision")  # fmt: skip
        }
        | {"bad_files": len(prep.get("bad_files", []))},
    }


def describe_file(path: str | os.PathLike[str], format: str | None = None) -> dict[str, Any]:  # noqa: A002
    """Facts about a raw skeleton file: format, layout and per-sequence frames, bodies, meta."""
    from ..data.io import detect_format, iter_samples

    fmt = format or detect_format(path)
    sequences = []
    for sk in iter_samples(path, format=fmt):
        data = sk.data  # (T, M, V, C)
        present = np.any(data != 0, axis=(2, 3))  # (T, M)
        meta = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in sk.meta.items() if _scalar(v)}
        sequences.append(
            {
                "layout": sk.layout,
                "frames": sk.num_frames,
                "bodies": sk.num_bodies,
                "bodies_present": int(present.any(axis=0).sum()),
                "empty_frames": int((~present.any(axis=1)).sum()),
                "joints": sk.num_joints,
                "channels": list(sk.meta.get("channels", [])) or sk.num_channels,
                "range": _ranges(data),
                "meta": meta,
            }
        )
    out: dict[str, Any] = {
        "kind": "file",
        "path": os.fspath(path),
        "format": fmt,
        "layout": sequences[0]["layout"] if sequences else None,
        "num_sequences": len(sequences),
        "num_frames": sum(s["frames"] for s in sequences),
        "sequences": sequences,
    }
    if len(sequences) > 1:
        out["frames_per_sequence"] = _stats(np.array([s["frames"] for s in sequences]))
    return out


def _scalar(v: Any) -> bool:
    if isinstance(v, (list, tuple)):
        return all(isinstance(x, (str, int, float)) for x in v)
    return v is None or isinstance(v, (str, int, float, bool, np.generic))


def _ranges(data: np.ndarray) -> list[list[float]]:
    """Per channel ``[min, max]`` over present joints (all-zero joints are padding)."""
    flat = data.reshape(-1, data.shape[-1])
    flat = flat[np.any(flat != 0, axis=1)]
    if not len(flat):
        return [[0.0, 0.0] for _ in range(data.shape[-1])]
    return [
        [round(float(lo), 4), round(float(hi), 4)] for lo, hi in zip(flat.min(0), flat.max(0), strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# Text rendering
# ---------------------------------------------------------------------------------------------
def _fmt_stats(s: dict[str, float]) -> str:
    return f"min {s['min']}, median {s['median']:g}, mean {s['mean']:g}, max {s['max']}"


def format_store(d: dict[str, Any]) -> str:
    sh = d["shape"]
    lines = [
        f"store      {d['path']}",
        f"dataset    {d['dataset']}  (layout {d['layout']}, channels {', '.join(d['channels'] or [])})",
        f"samples    {d['num_samples']}  frames {d['num_frames']}  (M={sh['M']}, V={sh['V']}, C={sh['C']}; "
        f"{d['size_bytes'] / 2**20:.1f} MiB)",
        f"frames     per sample: {_fmt_stats(d['frames_per_sample'])}",
        f"bodies     {', '.join(f'{k}: {v}' for k, v in d['bodies'].items())}",
    ]
    if d["splits"]:
        lines.append(f"splits     {', '.join(f'{k}: {v}' for k, v in d['splits'].items())}")
    if d["normalize"]:
        lines.append(f"normalize  {json.dumps(d['normalize'])}")
    p = d["prepare"]
    if p.get("files_found") is not None:
        untracked = p["untracked_joints"]
        lines.append(
            f"prepared   {p['files_found']} files; skipped {p['skipped_missing'] or 0} (missing list), "
            f"{p['skipped_empty'] or 0} (no skeleton); {p['bad_files']} bad; "
            f"{p['all_zero_samples'] or 0} all-zero samples"
            + (f"; {untracked} untracked joint positions written as zeros" if untracked else "")
        )
    lines.append(
        f"checksum   {d['checksum'].get('algorithm')} {'verified' if d['verified'] else 'not verified'}"
    )
    lines.append(f"created by {d['created_by']} (format {d['format_version']})")
    lines.append(f"classes    {d['num_classes']} ({len(d['classes'])} with samples)")
    for c in d["classes"][:_SHOWN_CLASSES]:
        name = f"  {c['name']}" if c["name"] else ""
        lines.append(f"  {c['label']:>4} {c['samples']:>7}{name}")
    if len(d["classes"]) > _SHOWN_CLASSES:
        lines.append(f"  ... {len(d['classes']) - _SHOWN_CLASSES} more (use --json)")
    return "\n".join(lines)


def format_file(d: dict[str, Any]) -> str:
    lines = [
        f"file       {d['path']}",
        f"format     {d['format']}  (layout {d['layout']})",
        f"sequences  {d['num_sequences']}  frames {d['num_frames']}",
    ]
    if "frames_per_sequence" in d:
        lines.append(f"frames     per sequence: {_fmt_stats(d['frames_per_sequence'])}")
    for i, s in enumerate(d["sequences"][:_SHOWN_SEQUENCES]):
        head = f"sequence {i + 1}" if d["num_sequences"] > 1 else "sequence"
        channels = s["channels"] if isinstance(s["channels"], int) else ", ".join(s["channels"])
        lines += [
            f"{head}: {s['frames']} frames, {s['bodies']} body slot(s) ({s['bodies_present']} used), "
            f"{s['joints']} joints, channels {channels}, {s['empty_frames']} empty frame(s)",
            "  range    " + "  ".join(f"[{lo:g}, {hi:g}]" for lo, hi in s["range"]),
            "  meta     " + ", ".join(f"{k}={v}" for k, v in s["meta"].items() if k != "channels"),
        ]
    if d["num_sequences"] > _SHOWN_SEQUENCES:
        lines.append(f"... {d['num_sequences'] - _SHOWN_SEQUENCES} more sequences (use --json)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..data.bundled import resolve_bundled
    from ..data.store import SkeletonStore, StoreError

    path = Path(resolve_bundled(args.path))
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    if path.is_dir():
        if not (path / "manifest.json").is_file() and not (path / "data.bin").exists():
            raise StoreError(path, "a directory but not a store (raw folders are read by `skelact prepare`)")
        d = describe_store(path, verify=args.verify)
        text = format_store(d)
    else:
        if args.verify:
            SkeletonStore(path)  # a file is never a store: the same clear error
        d = describe_file(path, format=args.format)
        text = format_file(d)
    print(json.dumps(d, indent=2, default=_json_default) if args.json else text)
    return 0


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
