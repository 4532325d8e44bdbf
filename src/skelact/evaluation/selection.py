"""The guard of every choice made on data: nothing is chosen on test samples or test subjects."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["assert_disjoint"]


def assert_disjoint(
    selection_indices: Iterable[np.ndarray], test_indices: np.ndarray, subjects: np.ndarray | None = None
) -> None:
    """Raise ``AssertionError`` if a test sample (or, given ``subjects`` per store position, a
    test subject) is among the samples used to choose or train anything."""
    used = np.unique(np.concatenate([np.asarray(i, dtype=np.int64).reshape(-1) for i in selection_indices]))
    test = np.asarray(test_indices, dtype=np.int64).reshape(-1)
    shared = np.intersect1d(used, test)
    if shared.size:
        raise AssertionError(
            f"{shared.size} test sample(s) were used for selection, e.g. {shared[:5].tolist()}"
        )
    if subjects is not None and used.size and test.size:
        common = np.intersect1d(subjects[used], subjects[test])
        if common.size:
            raise AssertionError(f"test subject(s) {common.tolist()} were used for selection")
