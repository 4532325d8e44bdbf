"""The small-data presets are the recipe that ``scripts/choose_recipe.py`` chose
(``reports/recipe.json``): every chosen setting, the fusion weight, and for AS-GCN the settings
that apply to every model (schedule, weight averaging, epochs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from skelact.train.config import load_config

REPO = Path(__file__).resolve().parents[1]
RECIPE = json.loads((REPO / "reports" / "recipe.json").read_text(encoding="utf-8"))
SHARED_BY_EVERY_MODEL = ("train.schedule.", "train.averaging.", "train.epochs")


def _value(cfg, dotted: str):
    if dotted.startswith("model.options.") and cfg.model.name == "arrn_lstm":
        from dataclasses import fields

        from skelact.models.arrn.model import ARRNOptions

        key = dotted.split(".")[-1]  # an option the preset leaves at the model's default
        defaults = {f.name: f.default for f in fields(ARRNOptions)}
        return cfg.model.options.get(key, defaults[key])
    node = cfg
    for part in dotted.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _chosen():
    return [(o.split("=", 1)[0], yaml.safe_load(o.split("=", 1)[1])) for o in RECIPE["chosen"]["overrides"]]


@pytest.mark.parametrize("preset", ["arrn_lstm/msr3d_as1", "arrn_lstm/msr3d_as2", "arrn_lstm/msr3d_as3",
                                    "arrn_lstm/florence3d_loso"])  # fmt: skip
def test_arrn_small_presets_are_the_chosen_recipe(preset):
    cfg = load_config(preset)
    for key, value in _chosen():
        assert _value(cfg, key) == value, (preset, key)
    assert cfg.fusion.alpha == RECIPE["alpha"]["value"]
    assert cfg.train.checkpoint.evaluate == "last" and cfg.data.validation.fraction == 0.0


@pytest.mark.parametrize("preset", ["asgcn/msr3d_as1", "asgcn/florence3d_loso"])
def test_asgcn_small_presets_share_the_recipe_of_every_model(preset):
    cfg = load_config(preset)
    shared = [(k, v) for k, v in _chosen() if k.startswith(SHARED_BY_EVERY_MODEL)]
    assert len(shared) >= 3
    for key, value in shared:
        assert _value(cfg, key) == value, (preset, key)


def test_the_reproduction_augments_as_the_recipe_chose():
    import argparse

    from skelact.commands import reproduce as command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    args = parser.parse_args(["reproduce", "msr3d"])
    assert args.augment == RECIPE["chosen"]["augment"]
