"""Published numbers the reproduction is compared with, quoted from the papers' tables.

The numbers live in ``paper.yaml`` beside this module, with their sources: ARRN-LSTM (Li et al.,
Tables 2 and 3: NTU RGB+D, with the attention ablation; Table 4: Florence 3D, leave-one-subject-out
on the 15-joint world coordinates; Table 5: MSRAction3D, mean of the AS1 / AS2 / AS3 cross-subject
accuracies) and AS-GCN (Li et al., CVPR 2019, Table 4: NTU RGB+D; Table 5: Kinetics-skeleton,
top-1 and top-5). The presets' ``reference:`` blocks quote the same numbers for ``skelact train``
(``tests/test_paper_numbers.py`` checks that they agree).

The papers report no per-subset (MSR) or per-fold (Florence) numbers and no ablation rows outside
NTU RGB+D; :func:`paper_result` returns None there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .templating import load_data

__all__ = ["PAPER_RESULTS", "PaperResult", "paper_result"]

_NAMES = {"arrn-lstm": "ARRN-LSTM", "as-gcn": "AS-GCN"}


@dataclass(frozen=True)
class PaperResult:
    """One published accuracy (percent)."""

    paper: str
    table: str
    value: float
    metric: str = "top1"
    note: str = ""
    top5: float | None = None

    @property
    def source(self) -> str:
        return f"{_NAMES[self.paper]} Table {self.table}"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        out["source"] = self.source
        return out


#: ``(dataset target, row key) -> PaperResult``; row keys as in :mod:`skelact.repro.targets`.
PAPER_RESULTS: dict[tuple[str, str], PaperResult] = {
    (target, row): PaperResult(**number)
    for target, rows in load_data("paper.yaml").items()
    for row, number in rows.items()
}


def paper_result(target: str, row: str) -> PaperResult | None:
    """The published number for ``row`` on ``target``, or None when the papers give none."""
    return PAPER_RESULTS.get((target, row))
