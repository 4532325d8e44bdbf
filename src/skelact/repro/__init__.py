"""Reproducing the papers' results: protocols with honest model selection, and the report.

* :func:`reproduce` (``skelact reproduce``): prepare the data, run every unit (MSRAction3D
  subset, Florence3D fold, NTU / Kinetics split), seed and model, write
  ``reports/reproduction.md`` and ``reports/reproduction.json``.
* :mod:`~skelact.repro.targets`: what each target runs (units, model runs, table rows).
* :mod:`~skelact.repro.protocol`: cross-validation over training subjects, retraining, one test.
* :mod:`~skelact.repro.selection`: choosing epochs and the fusion weight from CV scores.
* :mod:`~skelact.repro.report`: the report; :mod:`~skelact.repro.paper`: the published numbers.
"""

from .paper import PAPER_RESULTS, PaperResult, paper_result
from .runner import reproduce
from .selection import ALPHA_GRID, Choice, FoldScores, assert_disjoint, pick_epoch, select
from .targets import MODELS, TARGETS, get_target

__all__ = [
    "ALPHA_GRID",
    "MODELS",
    "PAPER_RESULTS",
    "TARGETS",
    "Choice",
    "FoldScores",
    "PaperResult",
    "assert_disjoint",
    "get_target",
    "paper_result",
    "pick_epoch",
    "reproduce",
    "select",
]
