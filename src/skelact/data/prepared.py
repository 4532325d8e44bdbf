"""A store prepared from a raw dataset folder into a folder of prepared stores, and reused from
there while it was prepared from the same raw folder; :func:`resolve_store` picks the store a
command runs on (one given, or one prepared from a raw folder, by default the shared data root's)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from .formats import get_format
from .prepare import discover, get_dataset, prepare
from .store import SkeletonStore, is_store

__all__ = ["ACCEPTED", "DEFAULT_DATA_ROOT", "prepared_store", "resolve_store"]

#: Where raw datasets are looked for when no source folder is given (relative to the working
#: directory): ``<root>/<dataset folder>``, used only if it exists.
DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"
#: Stores a dataset's protocols accept besides its own (NTU60 protocols also apply to NTU120).
ACCEPTED = {"ntu60": ("ntu60", "ntu120")}


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
    already there when it was prepared from ``src`` by the reader's present revision (``REVISION``,
    :mod:`skelact.data.formats`), else prepared now (one worker). The tag names
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
    revision = get_format(get_dataset(dataset).reader_format).revision
    if is_store(out):
        how = SkeletonStore(out).manifest.get("prepare") or {}
        prepared, was = how.get("src"), int(how.get("reader_revision", 1))
        if prepared == str(src) and was == revision:
            return out
        if prepared != str(src):
            log(f"{out} was prepared from {prepared}; preparing again from {src}")
        else:
            log(f"{out} was prepared by revision {was} of the {dataset} reader; preparing again with "
                f"revision {revision}")  # fmt: skip
    log(f"preparing {dataset} from {src} into {out} ...")
    summary = prepare(dataset, src, out, msr_form=msr_form, florence_file=florence_file, bodies=bodies,
                      overwrite=True, progress=False, workers=1)  # fmt: skip
    log(summary.format())
    return out


def resolve_store(
    dataset: str,
    raw_folder: str,
    *,
    src: Path | None,
    store: Path | None,
    stores_dir: Path,
    msr_form: str = "real3d",
    florence_file: str = "auto",
    bodies: int | None = None,
    name: str | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """The prepared store ``dataset`` runs on: ``store`` as given (checked to hold ``dataset``, or a
    dataset of :data:`ACCEPTED`), or one prepared from ``src`` (default: ``DEFAULT_DATA_ROOT /
    raw_folder`` when it exists) into ``stores_dir`` by :func:`prepared_store` (reused when already
    there). ``name``: what the errors call the run (default: the dataset)."""
    accepted, name = ACCEPTED.get(dataset, (dataset,)), name or dataset
    if store is not None:
        if not is_store(store):
            raise ConfigError(f"--store {store}: not a prepared store (make one with `skelact prepare`)")
        got = SkeletonStore(store).dataset
        if got not in accepted:
            raise ConfigError(f"--store {store} holds {got!r} data; {name} needs {'/'.join(accepted)}")
        return Path(store)
    if src is None:
        src = DEFAULT_DATA_ROOT / raw_folder
        if not src.is_dir():
            raise ConfigError(f"{name}: no data; pass --src RAW_DIR or --store STORE (looked for {src})")
    if not Path(src).is_dir():
        raise ConfigError(f"--src {src}: no such folder")
    return prepared_store(dataset, src, stores_dir, msr_form=msr_form, florence_file=florence_file,
                          bodies=bodies, log=log)  # fmt: skip
