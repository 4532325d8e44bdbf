"""Reading skeleton files: :func:`load`, :func:`iter_samples`, :func:`detect_format`.

Formats (see :mod:`skelact.data.formats` for each reader's options and metadata):
``"ntu"``, ``"kinetics"``, ``"msr3d"``, ``"florence"``. Files may be gzip-compressed (``.gz``
suffix or gzip content); the format is then detected from the name without ``.gz``.

Detection (:func:`detect_format`) goes by file name first (``*.skeleton``, ``*.json``,
``aXX_sYY_eZZ*``, ``*florence*``), then by sniffing the first bytes of the content.

Multi-sequence files (Florence3D) are read with :func:`iter_samples`; :func:`load` on such a file
returns the sequence if there is exactly one and otherwise raises a
:class:`~skelact.SkeletonFormatError` that says to use :func:`iter_samples`.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SkeletonFormatError
from .formats import FORMATS, get_format
from .skeleton import Skeleton

PathArg = str | os.PathLike[str]
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 1 << 16
# Content sniffing order: cheap, unambiguous signatures first.
_SNIFF_ORDER = ("kinetics", "ntu", "florence", "msr3d")


def _display_name(path: PathArg) -> str:
    name = Path(path).name
    return name[:-3] if name.lower().endswith(".gz") else name


def read_bytes(path: PathArg, limit: int | None = None) -> bytes:
    """The content of ``path``, decompressed if it is gzip; at most ``limit`` bytes if given.

    Raises:
        SkeletonFormatError: a corrupt gzip stream.
        OSError: the file cannot be read (e.g. :class:`FileNotFoundError`).
    """
    with open(path, "rb") as f:
        raw = f.read() if limit is None else f.read(limit)
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        if limit is None:
            return gzip.decompress(raw)
        # Sniffing: the head of the stream is enough, even if the read cut it short.
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(raw, limit)
    except (OSError, EOFError, zlib.error) as e:
        raise SkeletonFormatError(path, f"corrupt gzip data ({e})") from None


def detect_format(path: PathArg) -> str:
    """The format name of ``path``: by file name, then by content.

    Raises:
        SkeletonFormatError: no format recognises the file.
    """
    name = _display_name(path)
    for fmt in FORMATS.values():
        if fmt.matches_name(name):
            return fmt.name
    head = read_bytes(path, limit=_SNIFF_BYTES)
    for fmt_name in _SNIFF_ORDER:
        module = import_module(f"{__package__}.formats.{FORMATS[fmt_name].module}")
        if module.sniff(head):
            return fmt_name
    raise SkeletonFormatError(
        path, f"cannot tell the format of this file; pass format= one of {', '.join(FORMATS)}", line=None
    )


def iter_samples(path: PathArg, format: str | None = None, **options: Any) -> Iterator[Skeleton]:  # noqa: A002
    """Iterate over every skeleton sequence in ``path`` (one for single-sequence formats).

    The file is read and the options are checked at the call; sequences are parsed as iterated.

    Args:
        path: the file (optionally gzip-compressed).
        format: one of ``"ntu"``, ``"kinetics"``, ``"msr3d"``, ``"florence"``; detected if None.
        **options: reader options (see the reader modules in :mod:`skelact.data.formats`).

    Raises:
        SkeletonFormatError: the content is malformed (names file and 1-based line).
        ConfigError: an unknown format or option, or a bad option value.
    """
    fmt = get_format(format if format is not None else detect_format(path))
    allowed = fmt.option_names()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for format {fmt.name!r}; "
            f"known: {', '.join(allowed) or 'none'}"
        )
    raw = read_bytes(path)
    return fmt.reader()(raw, os.fspath(path), _display_name(path), **options)


def load(path: PathArg, format: str | None = None, **options: Any) -> Skeleton:  # noqa: A002
    """Read the one skeleton sequence in ``path``.

    Same arguments as :func:`iter_samples`. A file with several sequences (Florence3D) returns its
    sequence if it holds exactly one, else raises :class:`~skelact.SkeletonFormatError` pointing to
    :func:`iter_samples`.
    """
    it = iter_samples(path, format=format, **options)
    first = next(it, None)
    if first is None:  # pragma: no cover - readers raise on files without sequences
        raise SkeletonFormatError(path, "the file holds no skeleton sequence")
    if next(it, None) is not None:
        count = 2 + sum(1 for _ in it)
        raise SkeletonFormatError(
            path,
            f"the file holds {count} sequences; use skelact.data.iter_samples(path) to read them one by one",
        )
    return first
