"""Published numbers the reproduction is compared with, quoted from the papers' tables.

Sources (plain text in the project's ``papers/`` folder):

* ARRN-LSTM: Li et al., "Skeleton-Based Action Recognition with Attentional Recurrent Relational
  Network-LSTM". Table 2 (ablation, NTU RGB+D), Table 3 (NTU RGB+D), Table 4 (Florence 3D,
  leave-one-subject-out on the 15-joint world coordinates), Table 5 (MSRAction3D, mean of the
  AS1 / AS2 / AS3 cross-subject accuracies).
* AS-GCN: Li et al., "Actional-Structural Graph Convolutional Networks for Skeleton-based Action
  Recognition", CVPR 2019. Table 4 (NTU RGB+D), Table 5 (Kinetics-skeleton, top-1 and top-5).

The papers report no per-subset (MSR) or per-fold (Florence) numbers and no ablation rows outside
NTU RGB+D; :func:`paper_result` returns None there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PAPER_RESULTS", "PaperResult", "paper_result"]


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
        return f"{'ARRN-LSTM' if self.paper == _ARRN else 'AS-GCN'} Table {self.table}"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        out["source"] = self.source
        return out


_ARRN = "arrn-lstm"
_ASGCN = "as-gcn"

#: ``(dataset target, row key) -> PaperResult``; row keys as in :mod:`skelact.repro.targets`.
PAPER_RESULTS: dict[tuple[str, str], PaperResult] = {
    ("msr3d", "arrn_two_stream"): PaperResult(
        _ARRN, "5", 95.0, note="mean of the AS1, AS2 and AS3 accuracies (odd subjects train, even test)"
    ),
    ("florence3d", "arrn_two_stream"): PaperResult(
        _ARRN, "4", 98.52, note="leave-one-subject-out on the 15-joint world-coordinates file"
    ),
    # NTU RGB+D (Tables 2 and 3)
    ("ntu60-xsub", "arrn_two_stream"): PaperResult(_ARRN, "2, 3", 81.8),
    ("ntu60-xsub", "arrn_joint"): PaperResult(_ARRN, "1, 2", 79.6),
    ("ntu60-xsub", "arrn_line"): PaperResult(_ARRN, "2", 76.4),
    ("ntu60-xsub", "rrn_two_stream"): PaperResult(_ARRN, "2", 77.6),
    ("ntu60-xsub", "rrn_joint"): PaperResult(_ARRN, "2", 74.6),
    ("ntu60-xsub", "rrn_line"): PaperResult(_ARRN, "2", 74.5),
    ("ntu60-xview", "arrn_two_stream"): PaperResult(_ARRN, "2, 3", 89.6),
    ("ntu60-xview", "arrn_joint"): PaperResult(_ARRN, "1, 2", 87.8),
    ("ntu60-xview", "arrn_line"): PaperResult(_ARRN, "2", 87.2),
    ("ntu60-xview", "rrn_two_stream"): PaperResult(_ARRN, "2", 84.2),
    ("ntu60-xview", "rrn_joint"): PaperResult(_ARRN, "2", 83.1),
    ("ntu60-xview", "rrn_line"): PaperResult(_ARRN, "2", 83.3),
    ("ntu60-xsub", "asgcn"): PaperResult(_ASGCN, "4", 86.8),
    ("ntu60-xview", "asgcn"): PaperResult(_ASGCN, "4", 94.2),
    ("kinetics", "asgcn"): PaperResult(_ASGCN, "5", 34.8, top5=56.5),
}


def paper_result(target: str, row: str) -> PaperResult | None:
    """The published number for ``row`` on ``target``, or None when the papers give none."""
    return PAPER_RESULTS.get((target, row))
