"""The training module comes from the recipe the model declares in the registry
(``register_model(name, training=...)``), not from the methods the model happens to have."""

from __future__ import annotations

import pytest
import torch

from skelact.models import MODELS, build, register_model
from skelact.models.asgcn import build_asgcn
from skelact.train.module import RECIPE_MODULES, ActionModule, AIMScheduleModule, module_class

TINY_ASGCN = dict(channels=(8,), strides=(1,), pred=False, temporal_kernel=3)


class _Dummy(torch.nn.Module):
    """No ``aim_losses``, no ``parameter_groups``: only the registry says how it trains."""

    def __init__(self, num_classes, layout="ntu25", in_channels=3):
        super().__init__()
        self.fc = torch.nn.Linear(in_channels, num_classes)


class _Unknown(_Dummy):
    pass


for _name, _cls, _training in (
    ("_recipe_dummy_warmup", _Dummy, "aim_warmup"),
    ("_recipe_dummy_standard", _Dummy, "standard"),
    ("_recipe_unknown", _Unknown, "no_such_recipe"),
):
    if _name not in MODELS:
        register_model(_name, training=_training)(_cls)


def test_the_recipe_names_map_to_the_training_modules():
    assert RECIPE_MODULES == {"standard": ActionModule, "aim_warmup": AIMScheduleModule}


def test_a_model_registered_with_the_aim_warmup_gets_the_aim_schedule_module():
    model = build("_recipe_dummy_warmup", num_classes=3)
    assert not hasattr(model, "aim_losses") and not hasattr(model, "parameter_groups")
    assert module_class(model) is AIMScheduleModule
    assert module_class(build("_recipe_dummy_standard", num_classes=3)) is ActionModule


@pytest.mark.parametrize(
    "links, module", [("s", ActionModule), ("a", AIMScheduleModule), ("as", AIMScheduleModule)]
)
def test_asgcn_gets_the_aim_schedule_exactly_when_it_has_an_aim(links, module):
    model = build("asgcn", num_classes=3, links=links, **TINY_ASGCN)
    assert module_class(model) is module
    assert module_class(model, "asgcn") is module


def test_arrn_lstm_gets_the_action_module():
    model = build("arrn_lstm", num_classes=3, stream="joint", embed_dim=4, attention_dim=4, lstm_sizes=(4,))
    assert module_class(model) is ActionModule


def test_the_name_is_given_when_the_model_was_built_outside_the_registry():
    model = build_asgcn(num_classes=3, links="as", **TINY_ASGCN)  # the builder itself: no registry_name
    with pytest.raises(ValueError, match="no registered model name.*pass name="):
        module_class(model)
    assert module_class(model, name="asgcn") is AIMScheduleModule


def test_an_unknown_recipe_or_model_is_a_clear_error():
    with pytest.raises(ValueError, match="'no_such_recipe', which has no training module.*known recipes"):
        module_class(build("_recipe_unknown", num_classes=3))
    with pytest.raises(ValueError, match="unknown model '_nope'"):
        module_class(_Dummy(3), name="_nope")
