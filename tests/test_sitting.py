"""The report's one-sitting section: what the timed trainings of the unit records cost and, where
they do not fit the 2.5-hour sitting, how many cores would close the gap (skelact.repro.sitting)."""

from __future__ import annotations

import pytest

from skelact.repro.sitting import cores_for, sitting


def _timed(target: str, training: str, seconds: float | None) -> dict:
    return {"target": target, "training": training, "wall_time_s": seconds}


def test_trainings_that_fit_the_sitting_read_reached_with_their_medians():
    records = [_timed("msr3d", "arrn", s) for s in (3000.0, 3600.0, 4200.0)]
    records.append(_timed("msr3d", "asgcn", 1800.0))
    s = sitting(records)
    assert s["trainings"] == 4 and s["core_s"] == pytest.approx(12600.0)
    assert s["wall_s"] == pytest.approx(6300.0) and s["reached"]  # 1.75 h with 2 at a time
    assert s["times"] == pytest.approx(6300.0 / 9000.0)
    assert s["longest_s"] == 4200.0 and s["cores"] == 2  # 3.5 core-hours / 2.5 h, rounded up
    assert s["runs"] == [
        {"target": "msr3d", "training": "arrn", "trainings": 3, "median_s": 3600.0},
        {"target": "msr3d", "training": "asgcn", "trainings": 1, "median_s": 1800.0},
    ]


def test_a_run_past_the_sitting_names_the_cores_that_would_close_it():
    records = [_timed("florence3d", "rrn", 9000.0)] * 4 + [_timed("florence3d", "rrn", None)]  # one untimed
    s = sitting(records, jobs=2)
    assert s["trainings"] == 4 and not s["reached"]
    assert s["wall_s"] == pytest.approx(18000.0) and s["times"] == pytest.approx(2.0)
    assert s["cores"] == 4  # 10 core-hours in 2.5-hour sittings
    assert sitting(records, jobs=4)["reached"]  # the same trainings on 4 cores fit
    assert sitting([_timed("msr3d", "arrn", 0.0)]) is None  # nothing timed: no section


def test_cores_round_up_and_never_read_zero():
    assert cores_for(9000.0) == 1 and cores_for(9000.1) == 2 and cores_for(0.0) == 1
    assert cores_for(7200.0, limit_h=1.0) == 2
