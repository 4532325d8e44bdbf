"""Where a reproduction number was computed: the code version and the machine.

Every unit result records :func:`unit_provenance` when it finishes (``"trained_with"`` in
``unit.json``), so a report merged from units trained at different times, on different machines or
from different commits says so (:func:`summarize`; the report's line is the template
``templates/provenance.md.j2``). The record is provenance only: it is not part
of a unit's cache fingerprint (a new commit does not retrain finished units). The commit and the
machine are probed by :mod:`skelact.machine`, as for ``skelact train``'s ``metrics.json``.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .._version import __version__
from ..machine import code_version, hardware

__all__ = ["code_version", "summarize", "time_by_device", "unit_provenance"]

def unit_provenance() -> dict[str, Any]:
    """What a finished unit records: skelact version and commit, torch, device and threads, time."""
    hw = hardware()
    return {
        "skelact": __version__,
        "code": code_version(),
        "torch": hw["torch"],
        "device": hw.get("gpu") or hw["cpu"],
        "threads": hw["torch_threads"],
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def summarize(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Units per (skelact version, commit, torch, device), most units first.

    Units finished before the record existed count under ``"recorded": False``.
    """
    counts: Counter[tuple[Any, ...]] = Counter()
    for r in results:
        p = r.get("trained_with")
        if p:
            key: tuple[Any, ...] = (True, p.get("skelact"), p.get("code"), p.get("torch"), p.get("device"))
        else:
            key = (False, None, None, None, None)
        counts[key] += 1
    return [
        {"recorded": k[0], "skelact": k[1], "code": k[2], "torch": k[3], "device": k[4], "units": n}
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], not kv[0][0], str(kv[0])))
    ]


def time_by_device(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Training time (``wall_time_s``) and units per (device, torch threads), most time first.

    The devices are those the units were trained on (their ``trained_with``), not the machine that
    merges them into a report; units finished before the record existed count under device None.
    """
    seconds: Counter[tuple[Any, Any]] = Counter()
    units: Counter[tuple[Any, Any]] = Counter()
    for r in results:
        p = r.get("trained_with") or {}
        key = (p.get("device"), p.get("threads"))
        seconds[key] += float(r.get("wall_time_s") or 0.0)
        units[key] += 1
    return [
        {"device": k[0], "threads": k[1], "wall_time_s": s, "units": units[k]}
        for k, s in sorted(seconds.items(), key=lambda kv: (-kv[1], str(kv[0])))
    ]
