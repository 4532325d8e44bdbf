"""skelact: skeleton-based human action recognition (AS-GCN, two-stream ARRN-LSTM).

Public entry points:

* :func:`load` reads one skeleton file of any supported format into a :class:`Skeleton`.
* :class:`SkeletonFormatError` is raised on bad input, naming file and line.
* :mod:`skelact.models` builds models by name; :mod:`skelact.data` holds layouts, readers, the
  prepared store, protocols and transforms.
"""

from __future__ import annotations

from ._version import __version__
from .data.skeleton import Skeleton
from .errors import ConfigError, SkeletonFormatError


def load(path, format: str | None = None, **options):  # noqa: A002 - public name fixed by the API
    """Read one skeleton sequence from ``path``; see :func:`skelact.data.io.load`."""
    from .data.io import load as _load

    return _load(path, format=format, **options)


__all__ = ["ConfigError", "Skeleton", "SkeletonFormatError", "__version__", "load"]
