"""Reproducing the papers' results: the protocol, the recipe choice, and the report.

* :func:`reproduce` (``skelact reproduce``): prepare the data, run every unit (MSRAction3D
  subset, Florence3D fold, NTU / Kinetics split), seed and model, write
  ``reports/reproduction.md`` and ``reports/reproduction.json``.
* :mod:`~skelact.repro.targets`: what each target runs (units, model runs, table rows).
* :mod:`~skelact.repro.protocol`: one training per unit and seed, its last epoch tested once;
  caching and unit records.
* :mod:`~skelact.repro.recipe`: the small-data recipe chosen by cross-validation over training
  subjects (``scripts/choose_recipe.py``).
* :mod:`~skelact.repro.entries`, :mod:`~skelact.repro.report`, :mod:`~skelact.repro.figures`: the
  report's numbers, its Markdown (a template) and its figures; :mod:`~skelact.repro.paper` and
  :mod:`~skelact.repro.goals`: the published numbers and our targets beside them.
"""

from .paper import PAPER_RESULTS, PaperResult, paper_result
from .runner import reproduce
from .targets import MODELS, TARGETS, get_target

__all__ = ["MODELS", "PAPER_RESULTS", "TARGETS", "PaperResult", "get_target", "paper_result", "reproduce"]
