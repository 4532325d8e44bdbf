"""Choosing training settings by cross-validation, above the reproduction it configures.

* :mod:`~skelact.tune.recipe`: the small-data training recipe (schedule, weight averaging, epochs,
  readout, regularisers, augmentation strength) and the fusion weight of eq. 12, chosen one factor
  at a time by cross-validation over MSRAction3D training subjects only, on the reproduction's own
  unit configs (``scripts/choose_recipe.py``; ``reports/recipe.md``). Its choice lives in the
  presets; the reproduction reads its ``recipe.json`` only to explain a goal not met.
"""
