"""Whether the trainings behind a report fit one sitting, and what would make them fit.

The small-data reproduction is meant to run, finish and be committed in one sitting: at most
:data:`SITTING_H` hours of wall time with ``--jobs`` :data:`JOBS` on the 2-core machine it was
measured on. Each unit record times its one training (``wall_time_s``, 1 torch thread), so the
report can say, from the records themselves, what one training of each model run costs, what the
whole run costs, whether that fits, and, where it does not, how many cores (or how much cheaper a
training) would close the gap. The plan of resumable parts that a run too long for one sitting is
split into is ``scripts/reproduction_cost.py``'s (``reports/reproduction_cost.md``).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["JOBS", "SITTING_H", "cores_for", "sitting"]

#: One sitting, in hours of wall time (the reproduction's goal).
SITTING_H = 2.5
#: Trainings run at once on the 2-core machine (``--jobs 2``, 1 torch thread each).
JOBS = 2


def cores_for(core_seconds: float, limit_h: float = SITTING_H) -> int:
    """Cores (one training each, as fast as timed) that finish ``core_seconds`` of independent
    trainings within ``limit_h`` hours, ignoring how the trainings pack (so: at least this many)."""
    return max(1, math.ceil(core_seconds / (limit_h * 3600)))


def sitting(results: Iterable[Mapping[str, Any]], jobs: int = JOBS,
            limit_h: float = SITTING_H) -> dict[str, Any] | None:
    """The one-sitting summary of the timed trainings in ``results`` (unit records), or ``None``
    when none is timed.

    Returns ``runs`` (per target and model run: trainings and the median seconds of one), the number
    of ``trainings``, their ``core_s`` in all, ``wall_s`` (``core_s / jobs``: the wall time of the
    run with ``jobs`` trainings at a time, packing aside), ``times`` (``wall_s`` over the sitting),
    ``reached``, the ``cores`` that would finish within the sitting (:func:`cores_for`) and the
    ``longest_s`` training (no number of cores goes below it).
    """
    per: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in results:
        seconds = float(r.get("wall_time_s") or 0.0)
        if seconds > 0:
            per[(str(r.get("target")), str(r.get("training")))].append(seconds)
    if not per:
        return None
    every = [s for times in per.values() for s in times]
    core_s = sum(every)
    wall_s = core_s / jobs
    return {
        "runs": [{"target": t, "training": tr, "trainings": len(v), "median_s": statistics.median(v)}
                 for (t, tr), v in per.items()],  # fmt: skip
        "trainings": len(every),
        "core_s": core_s,
        "jobs": jobs,
        "limit_h": limit_h,
        "wall_s": wall_s,
        "times": wall_s / (limit_h * 3600),
        "reached": wall_s <= limit_h * 3600,
        "cores": cores_for(core_s, limit_h),
        "longest_s": max(every),
    }
