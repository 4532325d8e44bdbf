"""The small real data set shipped inside the package (``skelact/_bundled``, see its PROVENANCE.md).

* ``florence3d/``: the complete Florence 3D Actions features file (215 sequences, 9 classes,
  gzip-compressed): enough to prepare a store and train a small model in minutes.
* ``ntu_rgbd/``: two NTU RGB+D ``.skeleton`` files (one and two bodies).
* ``kinetics_skeleton/``: one Kinetics-skeleton JSON clip.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_path(name: str | None = None) -> Path:
    """Path of the bundled data folder, or of ``name`` inside it (e.g. ``"florence3d"``).

    Raises :class:`FileNotFoundError` listing what is bundled when ``name`` is not.
    """
    root = Path(str(resources.files("skelact") / "_bundled"))
    if name is None:
        return root
    path = root / name
    if not path.exists():
        available = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        raise FileNotFoundError(f"no bundled {name!r}; bundled: {', '.join(available)}")
    return path


#: The bundled folder holding raw files of each dataset (``--src bundled``).
BUNDLED_SOURCES = {
    "florence3d": "florence3d",
    "ntu60": "ntu_rgbd",
    "ntu120": "ntu_rgbd",
    "kinetics": "kinetics_skeleton",
}


def resolve_bundled(arg: str, dataset: str | None = None) -> str:
    """Resolve the CLI shorthands ``bundled:NAME`` (a bundled file or folder) and, with a
    ``dataset``, ``bundled`` (that dataset's bundled folder); anything else is returned as is."""
    if arg.startswith("bundled:"):
        return str(bundled_path(arg.split(":", 1)[1]))
    if arg == "bundled" and dataset is not None:
        if dataset not in BUNDLED_SOURCES:
            known = ", ".join(sorted(BUNDLED_SOURCES))
            raise FileNotFoundError(f"no bundled sample of {dataset}; bundled datasets: {known}")
        return str(bundled_path(BUNDLED_SOURCES[dataset]))
    return arg
