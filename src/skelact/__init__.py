"""skelact: skeleton-based human action recognition (AS-GCN, two-stream ARRN-LSTM).

Public entry points:

* :func:`load` reads one skeleton file of any supported format into a :class:`Skeleton`.
* :class:`SkeletonFormatError` is raised on bad input, naming file and line.
* :mod:`skelact.models` builds models by name; :mod:`skelact.data` holds layouts, readers, the
  prepared store, protocols and transforms.
"""

from __future__ import annotations

import os
from typing import Any

from ._version import __version__
from .data.io import load as _load
from .data.skeleton import Skeleton
from .errors import ConfigError, SkeletonFormatError


def load(path: str | os.PathLike[str], format: str | None = None, **options: Any) -> Skeleton:  # noqa: A002
    """Read one skeleton sequence from ``path``; see :func:`skelact.data.io.load`.

    Examples:
        One of the real NTU RGB+D files bundled with skelact:

        >>> import skelact
        >>> from skelact.data import bundled_path
        >>> seq = skelact.load(bundled_path("ntu_rgbd/S001C001P001R001A001.skeleton"))
        >>> seq.layout, seq.data.shape, seq.meta["label"]
        ('ntu25', (103, 2, 25, 3), 0)
    """
    return _load(path, format=format, **options)


__all__ = ["ConfigError", "Skeleton", "SkeletonFormatError", "__version__", "load"]
