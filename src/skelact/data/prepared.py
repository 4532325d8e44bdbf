"""A store prepared from a raw dataset folder into a folder of prepared stores, and reused from
there while it was prepared from the same raw folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from .prepare import discover, prepare
from .store import SkeletonStore, is_store

__all__ = ["prepared_store"]


def prepared_store(
    dataset: str,
    src: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    msr_form: str = "real3d",
    florence_file: str = "auto",
    bodies: int | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """The store of ``dataset`` prepared from the raw folder ``src`` into ``<root>/<tag>``: the one
    already there when it was prepared from ``src``, else prepared now (one worker). The tag names
    the dataset, the bodies per frame (``bodies``; None: the dataset's default) and the file form
    (MSRAction3D ``msr_form``; Florence3D the file found for ``florence_file``)."""
    tag = dataset if bodies is None else f"{dataset}-m{bodies}"
    if dataset == "msr3d":
        tag += f"-{msr_form}"
    if dataset == "florence3d":
        files = discover("florence3d", src, florence_file=florence_file)
        if not files:
            raise ConfigError(f"{src}: no Florence3D file ({florence_file})")
        florence_file = "features" if "Features" in files[0].name else "world"
        tag += f"-{florence_file}"
    out = Path(root) / tag
    if is_store(out):
        prepared = (SkeletonStore(out).manifest.get("prepare") or {}).get("src")
        if prepared == str(src):
            return out
        log(f"{out} was prepared from {prepared}; preparing again from {src}")
    log(f"preparing {dataset} from {src} into {out} ...")
    summary = prepare(dataset, src, out, msr_form=msr_form, florence_file=florence_file, bodies=bodies,
                      overwrite=True, progress=False, workers=1)  # fmt: skip
    log(summary.format())
    return out
