"""The model registry: builders by name, the name recorded on what they build, the training recipe
each model declares (``register_model(name, training=...)``)."""

from __future__ import annotations

import pytest
import torch

from skelact.models import MODELS, build, register_model
from skelact.models.arrn import build_arrn_lstm
from skelact.models.asgcn import build_asgcn
from skelact.models.registry import TRAINING, accepts_frames, training_recipe

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


@pytest.fixture
def registry():
    """The registry as it is; names registered in the test are removed afterwards."""
    models, training = dict(MODELS), dict(TRAINING)
    yield
    MODELS.clear()
    MODELS.update(models)
    TRAINING.clear()
    TRAINING.update(training)


def test_register_model_records_the_builder_and_its_recipe(registry):
    assert register_model("_reg_named", training="aim_warmup")(_Plain) is _Plain  # the decorator returns it
    assert MODELS["_reg_named"] is _Plain and TRAINING["_reg_named"] == "aim_warmup"
    assert register_model("_reg_function", training=_recipe_by_option)(_ByOption) is _ByOption
    assert TRAINING["_reg_function"] is _recipe_by_option
    register_model("_reg_default")(_Plain)
    assert TRAINING["_reg_default"] == "standard"
    assert build("_reg_named", num_classes=2).fc.out_features == 2


def test_a_name_is_registered_once_but_the_same_builder_may_register_again(registry):
    register_model("_reg_twice")(_Plain)
    register_model("_reg_twice")(_Plain)  # e.g. a module imported twice: no error
    assert MODELS["_reg_twice"] is _Plain
    with pytest.raises(ValueError, match=r"^model '_reg_twice' registered twice$"):
        register_model("_reg_twice")(_WarmedUp)
    assert MODELS["_reg_twice"] is _Plain


def test_a_model_in_the_table_without_a_declared_recipe_trains_standard(monkeypatch):
    monkeypatch.setitem(MODELS, "_reg_undeclared", _Plain)  # put there by hand, not registered
    assert "_reg_undeclared" not in TRAINING
    assert training_recipe("_reg_undeclared") == "standard"


def test_a_recipe_function_must_answer_a_recipe_name(monkeypatch):
    monkeypatch.setitem(MODELS, "_reg_bad_answer", _Plain)
    monkeypatch.setitem(TRAINING, "_reg_bad_answer", lambda model: 3)
    with pytest.raises(TypeError, match=r"^model '_reg_bad_answer': the training recipe is 3, not a recipe "
                                        r"name$"):
        training_recipe("_reg_bad_answer", build("_reg_bad_answer", num_classes=2))


def test_a_builder_without_a_signature_is_not_given_frames(monkeypatch):
    monkeypatch.setitem(MODELS, "_reg_builtin", dict)  # a builtin: inspect cannot read its signature
    assert not accepts_frames("_reg_builtin")


def test_the_asgcn_recipe_needs_an_asgcn_model():
    with pytest.raises(TypeError, match=r"^the asgcn training recipe needs an ASGCN model, got _Plain$"):
        training_recipe("asgcn", _Plain(3))


def test_an_unknown_name_lists_the_known_models(monkeypatch):
    from skelact.models import registry

    monkeypatch.setattr(registry, "MODELS", {"b_model": _Plain, "a_model": _Plain})
    with pytest.raises(KeyError) as err:
        build("nope", num_classes=3)
    assert err.value.args[0] == "unknown model 'nope'; known: a_model, b_model"
    monkeypatch.setattr(registry, "MODELS", {})
    with pytest.raises(KeyError) as err:
        training_recipe("nope")
    assert err.value.args[0] == "unknown model 'nope'; known: (none)"
