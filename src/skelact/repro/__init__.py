"""Reproducing the papers' results: the protocol and the report.

* :func:`reproduce` (``skelact reproduce``): prepare the data, run every unit (MSRAction3D
  subset, Florence3D fold, NTU / Kinetics split), seed and model, write
  ``reports/reproduction.md`` and ``reports/reproduction.json``.
* :mod:`~skelact.repro.targets`: what each target runs (units, model runs, table rows).
* :mod:`~skelact.repro.protocol`: one training per unit and seed, its last epoch tested once;
  caching and unit records.
* The small-data recipe these runs use was chosen beforehand by cross-validation over training
  subjects (:mod:`skelact.tune.recipe`, ``scripts/choose_recipe.py``), and lives in the presets.
* :mod:`~skelact.repro.entries`, :mod:`~skelact.repro.report`, :mod:`~skelact.repro.figures`: the
  report's numbers, its Markdown (a template) and its figures; :mod:`~skelact.repro.paper` and
  :mod:`~skelact.repro.goals`: the published numbers and our targets beside them (and what the
  recipe's cross-validation says limits a target not met).
"""

from typing import Any

from .paper import PAPER_RESULTS, PaperResult, paper_result
from .targets import MODELS, TARGETS, get_target

__all__ = ["MODELS", "PAPER_RESULTS", "TARGETS", "PaperResult", "get_target", "paper_result", "reproduce"]


def __getattr__(name: str) -> Any:
    # reproduce() needs the training engine (Lightning): imported on first use, so the CLI's parser
    # (skelact reproduce --help, and every other verb) builds without it.
    if name == "reproduce":
        from .runner import reproduce

        return reproduce
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
