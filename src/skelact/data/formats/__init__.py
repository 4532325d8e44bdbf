"""One reader per skeleton file format, behind a small registry used by :mod:`skelact.data.io`.

Every reader module exposes

* ``samples(raw, path, name, **options) -> Iterator[Skeleton]``: ``raw`` is the (decompressed)
  file content, ``path`` the name used in error messages, ``name`` the file name without directory
  and compression suffix; the options are keyword-only (they are the options ``skelact.load``
  accepts for the format). Readers raise only :class:`~skelact.SkeletonFormatError` on bad content
  and :class:`~skelact.errors.ConfigError` on bad options, and are done with ``raw`` before their
  first ``yield``;
* ``sniff(head) -> bool``: whether the first bytes of a file look like the format;
* optionally ``REVISION`` (an int, default 1): bumped when the reader returns something else for the
  same file, so that stores prepared with an earlier revision are prepared again.

Formats:

* ``"ntu"``: NTU RGB+D ``*.skeleton`` (:mod:`.ntu`), layout ``ntu25``, one sequence per file;
* ``"kinetics"``: Kinetics-skeleton OpenPose JSON (:mod:`.kinetics`), ``openpose18``, one;
* ``"msr3d"``: MSRAction3D ``aXX_sYY_eZZ*`` text (:mod:`.msr`), ``kinect20``, one;
* ``"florence"``: Florence3D ``Florence_dataset_*.txt`` (:mod:`.florence`), ``florence8`` (features
  file) or ``florence15`` (world coordinates), many sequences per file.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import import_module

from ...errors import ConfigError
from ..skeleton import Skeleton


@dataclass(frozen=True)
class Format:
    """A registered file format.

    Attributes:
        name: the format name users pass as ``format=``.
        module: the reader module (imported lazily).
        multi: whether one file holds several sequences.
        name_pattern: regular expression matched (``search``) against the file name.
        description: one line for ``skelact info`` and error messages.
    """

    name: str
    module: str
    multi: bool
    name_pattern: str
    description: str

    def reader(self) -> Callable[..., Iterator[Skeleton]]:
        """The module's ``samples`` function (imports the module on first use)."""
        samples: Callable[..., Iterator[Skeleton]] = import_module(f"{__name__}.{self.module}").samples
        return samples

    @property
    def revision(self) -> int:
        """The reader's ``REVISION`` (1 where the module has none)."""
        return int(getattr(import_module(f"{__name__}.{self.module}"), "REVISION", 1))

    def option_names(self) -> tuple[str, ...]:
        """The reader's keyword-only options, in signature order."""
        return _option_names(self.reader())

    def matches_name(self, filename: str) -> bool:
        return re.search(self.name_pattern, filename) is not None


@cache
def _option_names(reader: Callable[..., Iterator[Skeleton]]) -> tuple[str, ...]:
    params = inspect.signature(reader).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("ntu", "ntu", False, r"\.skeleton$", "NTU RGB+D .skeleton (Kinect v2, 25 joints)"),
        Format("kinetics", "kinetics", False, r"\.json$", "Kinetics-skeleton OpenPose JSON (18 joints)"),
        Format("msr3d", "msr", False, r"(?i)a\d\d_s\d\d_e\d\d", "MSRAction3D skeleton text (20 joints)"),
        Format("florence", "florence", True, r"(?i)florence", "Florence3D actions (features or world file)"),
    )
}


def get_format(name: str) -> Format:
    """Look a format up by name."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"format: unknown format {name!r}; known: {', '.join(FORMATS)}") from None


__all__ = ["FORMATS", "Format", "get_format"]
