"""The model registry: builders by name, the name recorded on what they build, the training recipe
each model declares (``register_model(name, training=...)``)."""

from __future__ import annotations

import pytest
import torch

from skelact.models import MODELS, build, register_model
from skelact.models.arrn import build_arrn_lstm
from skelact.models.asgcn import build_asgcn
from skelact.models.registry import TRAINING, training_recipe

TINY_ASGCN = dict(channels=(8,), strides=(1,), pred=False, temporal_kernel=3)


class _Plain(torch.nn.Module):
    def __init__(self, num_classes, layout="ntu25", in_channels=3):
        super().__init__()
        self.fc = torch.nn.Linear(in_channels, num_classes)


class _WarmedUp(_Plain):
    """Declares the AIM warm-up recipe, has none of AS-GCN's methods."""


def _recipe_by_option(model):
    return model.recipe


class _ByOption(_Plain):
    def __init__(self, num_classes, layout="ntu25", in_channels=3, recipe="standard"):
        super().__init__(num_classes, layout, in_channels)
        self.recipe = recipe


for _name, _cls, _training in (
    ("_registry_plain", _Plain, None),
    ("_registry_warmed_up", _WarmedUp, "aim_warmup"),
    ("_registry_by_option", _ByOption, _recipe_by_option),
):
    if _name not in MODELS:
        register_model(_name, **({} if _training is None else {"training": _training}))(_cls)


def test_both_families_register_a_build_function_under_their_name():
    assert MODELS["asgcn"] is build_asgcn and MODELS["arrn_lstm"] is build_arrn_lstm


def test_build_records_the_registered_name_on_the_model():
    assert build("_registry_plain", num_classes=3).registry_name == "_registry_plain"
    assert build("asgcn", num_classes=3, **TINY_ASGCN).registry_name == "asgcn"
    assert "registry_name" not in build("_registry_plain", num_classes=3).state_dict()


def test_the_training_recipe_is_declared_at_registration():
    assert training_recipe("_registry_plain", build("_registry_plain", num_classes=3)) == "standard"
    assert training_recipe("_registry_plain") == "standard"  # a fixed recipe needs no model
    assert training_recipe("_registry_warmed_up") == "aim_warmup"
    by_option = build("_registry_by_option", num_classes=3, recipe="something")
    assert training_recipe("_registry_by_option", by_option) == "something"
    with pytest.raises(ValueError, match="depends on the built model"):
        training_recipe("_registry_by_option")
    with pytest.raises(KeyError, match="unknown model"):
        training_recipe("_no_such_model")
    with pytest.raises(TypeError, match="recipe name or a function"):
        register_model("_registry_bad", training=3)  # type: ignore[arg-type]
    assert "_registry_bad" not in MODELS and "_registry_bad" not in TRAINING


@pytest.mark.parametrize("links, recipe", [("s", "standard"), ("a", "aim_warmup"), ("as", "aim_warmup")])
def test_asgcn_declares_the_aim_warmup_when_it_has_an_aim(links, recipe):
    model = build("asgcn", num_classes=3, links=links, **TINY_ASGCN)
    assert training_recipe("asgcn", model) == recipe


def test_arrn_lstm_trains_with_the_standard_recipe():
    model = build("arrn_lstm", num_classes=3, stream="joint", embed_dim=4, attention_dim=4, lstm_sizes=(4,))
    assert training_recipe("arrn_lstm", model) == "standard"
