"""The reproduction's cache and unit records: a unit result is saved and found under a fingerprint
of everything that determines it (:func:`unit_fingerprint`: the preset, the overrides, the resolved
config (:func:`config_digest`) and the data as the checksums of the prepared store
(:func:`store_identity`), plus the protocol settings), in the work directory and in the unit
records folder beside the report (:func:`publish`), which travels with the repository."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..train.config import config_to_dict
from .targets import Training, Unit
from .unit_config import Context

__all__ = [
    "FORECAST_EXAMPLE", "RECORDS_DIR", "RESULT_FILE", "config_digest", "find_earlier", "publish",
    "store_identity", "work_unit_dir", "unit_fingerprint", "unit_path", "write_json", "write_text",
]  # fmt: skip

RESULT_FILE = "unit.json"
#: The unit records folder inside the report folder (``skelact reproduce --out``).
RECORDS_DIR = "units"
#: One test clip and the final AS-GCN's forecast of it (for the report's figure).
FORECAST_EXAMPLE = "forecast_example.npz"


def _fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: Config settings added after results were recorded: at these defaults they are left out of
#: :func:`config_digest`, so the results recorded before they existed keep their fingerprints
#: (a new config setting must be added here, or every committed unit record is trained again).
#: Each is (dotted section, key, default). ``optim.fused`` chose PyTorch's fused update kernel for
#: the same update (the records before it used the foreach one: the same training up to rounding,
#: like any change of implementation).
ADDED_AT_DEFAULT: tuple[tuple[str, str, Any], ...] = (
    ("train", "averaging", {"name": "none", "decay": 0.99}),
    ("train", "compile", False),
    ("train", "keep_freed_memory", False),
    ("train.optim", "fused", True),
    ("train.aim.optim", "fused", True),
)


def config_digest(cfg: Any, store: str | None = None) -> str:
    """A digest of the resolved config ``cfg`` (preset files, ``_base_`` chain and overrides applied):
    part of every cache fingerprint, so a changed preset file invalidates the units trained with it.
    Settings of :data:`ADDED_AT_DEFAULT` at their default are left out.
    ``store``: what stands for ``data.store`` in the digest instead of its path."""
    data = config_to_dict(cfg)
    for section, key, default in ADDED_AT_DEFAULT:
        node = data
        for part in section.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(key) == default:  # added later, left at its default
            del node[key]
    if store is not None:
        data.setdefault("data", {})["store"] = store
    return _fingerprint(data)


def store_identity(ctx: Context) -> str:
    """What identifies the data of a reproduction in its fingerprints: the checksums of the prepared
    store's files (``manifest.json``), so the same data prepared under another path give the same
    fingerprints; the store's path for a store whose manifest has no checksums."""
    sums = ctx.store.manifest.get("checksum") or {}
    if not any(k != "algorithm" for k in sums):
        return str(ctx.store_path)
    return f"store:{_fingerprint(sums)}"


def unit_fingerprint(
    ctx: Context, cfg: Any, preset: str, overrides: Sequence[str], extra: dict[str, Any]
) -> str:
    """The fingerprint a unit result is saved and found under: the preset, the overrides and the
    resolved config (:func:`config_digest`) with the data as :func:`store_identity` instead of the
    store's path, plus the protocol settings ``extra``."""
    identity = store_identity(ctx)
    by_path = f"data.store={ctx.store_path}"
    return _fingerprint({
        "preset": preset,
        "overrides": [f"data.store={identity}" if o == by_path else o for o in overrides],
        "config": config_digest(cfg, store=identity),
        **extra,
    })  # fmt: skip


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(data: Any, path: Path) -> None:
    write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")


def _load_cached(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The result saved at ``path`` when it has ``fingerprint``, else None."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if data.get("fingerprint") == fingerprint else None


def save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write ``arrays`` to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def unit_path(root: Path, target: str, training: str, unit: str, seed: int) -> Path:
    """The folder of one unit and seed under ``root`` (a work directory or a unit records folder):
    ``<root>/<target>/<training>/<unit>/seed_<seed>``."""
    return Path(root) / target / training / unit / f"seed_{seed}"


def work_unit_dir(ctx: Context, training: Training, unit: Unit, seed: int) -> Path:
    return unit_path(ctx.work_dir, ctx.target.name, training.key, unit.key, seed)


def _record_dir(ctx: Context, training: Training, unit: Unit, seed: int) -> Path | None:
    root = ctx.results_dir
    return None if root is None else unit_path(root, ctx.target.name, training.key, unit.key, seed)


def publish(ctx: Context, training: Training, unit: Unit, seed: int, result: dict[str, Any]) -> None:
    """Write ``result`` (and its forecast example, when the work directory has one) to the unit
    records folder. A record there with the result's fingerprint is kept as it is: the records are
    what reports are built from, so a unit trained again elsewhere does not replace one."""
    record_dir = _record_dir(ctx, training, unit, seed)
    if record_dir is None or _load_cached(record_dir / RESULT_FILE, result["fingerprint"]) is not None:
        return
    write_json(result, record_dir / RESULT_FILE)
    example = work_unit_dir(ctx, training, unit, seed) / FORECAST_EXAMPLE
    if example.is_file():
        with np.load(example) as z:
            save_npz(record_dir / FORECAST_EXAMPLE, {k: z[k] for k in z.files})
    else:
        (record_dir / FORECAST_EXAMPLE).unlink(missing_ok=True)  # one of an older result


def find_earlier(
    ctx: Context, training: Training, unit: Unit, seed: int, label: str, unit_dir: Path, fingerprint: str
) -> tuple[bool, dict[str, Any] | None]:
    """``(True, result)`` for a unit done earlier with ``fingerprint`` (in the records folder or
    the work directory), ``(True, None)`` for one not run yet under ``ctx.cached_only`` (nothing to
    do either way), else ``(False, None)``."""
    what = f"{label} {training.key} {unit.name} seed {seed}"
    record_dir = _record_dir(ctx, training, unit, seed)
    for path in ([] if record_dir is None else [record_dir / RESULT_FILE]) + [unit_dir / RESULT_FILE]:
        cached = _load_cached(path, fingerprint)
        if cached is not None:
            ctx.log(f"{what}: done earlier ({path})")
            if path.parent == unit_dir:  # e.g. trained before the records folder existed
                publish(ctx, training, unit, seed, cached)
            return True, cached
    if ctx.cached_only:
        ctx.log(f"{what}: not run yet (left out of the report)")
        return True, None
    return False, None
