"""AS-GCN option validation (:func:`skelact.models.asgcn.config.resolve_config`).

Every check of the validator: the exact ``ConfigError`` (it names the option: ``asgcn option 'key':
...``) and the boundary values on both sides. Then the ``IgnoredOptionWarning`` about options that a
configuration makes irrelevant: the exact text of each, and silence when the option is at its preset's
value or in effect. Validation needs no model, so the tests resolve configurations only.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from typing import Any

import pytest

from skelact.errors import ConfigError
from skelact.models.asgcn.config import ASGCNConfig, IgnoredOptionWarning, resolve_config

INT_OPTIONS = (
    "order", "num_link_types", "aim_hidden", "aim_iterations", "aim_frames", "horizon", "temporal_kernel",
    "num_bodies",
)  # fmt: skip
BLOCK = "each block is (channels >= 1, odd kernel, stride >= 1), got"


def _error(options: dict[str, Any], preset: str | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_config(preset, **options)
    return str(info.value)


def _accepted(options: dict[str, Any], preset: str | None = None) -> ASGCNConfig:
    """Resolve ``options``, which must pass without any error or warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return resolve_config(preset, **options)


def _warnings(options: dict[str, Any], preset: str | None = None) -> list[tuple[type, str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolve_config(preset, **options)
    return [(w.category, str(w.message)) for w in caught]


# --- errors -----------------------------------------------------------------------------------------

REJECTED = [
    # one of a fixed set of choices
    ({"links": "sa"}, "links", "must be one of ('s', 'a', 'as'), got 'sa'"),
    ({"s_links": "hop"}, "s_links", "must be one of ('powers', 'hops'), got 'hop'"),
    ({"aim_aggregation": "sum"}, "aim_aggregation", "must be one of ('mean', 'nri'), got 'sum'"),
    ({"aim_encoder": "eq3"}, "aim_encoder", "must be one of ('eq2', 'nri'), got 'eq3'"),
    ({"aim_decoder": "rnn"}, "aim_decoder", "must be one of ('poses', 'recurrent'), got 'rnn'"),
    ({"pred_readout": "x"}, "pred_readout", "must be one of ('frame_major', 'official'), got 'x'"),
    ({"data_bn": None}, "data_bn", "must be one of ('mvc', 'vc', 'none'), got None"),
    ({"init": "xavier"}, "init", "must be one of ('default', 'official'), got 'xavier'"),
    ({"pred_bodies": "all"}, "pred_bodies", "must be one of ('present', 'first'), got 'all'"),
    # gcn_bias: a bool, not a truthy value
    ({"gcn_bias": 1}, "gcn_bias", "must be true or false, got 1"),
    ({"gcn_bias": 0}, "gcn_bias", "must be true or false, got 0"),
    ({"gcn_bias": "yes"}, "gcn_bias", "must be true or false, got 'yes'"),
    # integers >= 1: bools, floats and strings are not integers here
    *[
        ({k: v}, k, f"must be an integer >= 1, got {v!r}")
        for k in INT_OPTIONS
        for v in (0, -3, True, 2.0, "3")
    ],
    ({"aim_frames": False}, "aim_frames", "must be an integer >= 1, got False"),
    # aim_frames: the decoder predicts frame t+1 from frame t
    ({"aim_frames": 1}, "aim_frames", "the AIM decoder needs at least 2 frames"),
    # ghost prior in [0, 1)
    *[({"P0": v}, "ghost_prior", f"must be in [0, 1), got {v!r}") for v in (1.0, 1, 1.5, -0.01)],
    # strictly positive
    *[
        ({k: v}, k, f"must be > 0, got {v!r}")
        for k in ("tau", "aim_variance", "act_scale")
        for v in (0, 0.0, -0.5)
    ],
    # dropout probabilities in [0, 1)
    *[
        ({k: v}, k, f"must be in [0, 1), got {v!r}")
        for k in ("dropout", "aim_dropout")
        for v in (1.0, 1.5, -0.1)
    ],
    # non-negative weights; the prediction weight is named first when both are negative
    ({"pred_weight": -0.1}, "pred_weight", "must be >= 0"),
    ({"lambda_act": -0.1}, "lambda_act", "must be >= 0"),
    ({"pred_weight": 0.0, "lambda_act": -0.1}, "lambda_act", "must be >= 0"),
    ({"pred_weight": 0.5, "lambda_act": -0.1}, "lambda_act", "must be >= 0"),
    ({"pred_weight": -1.0, "lambda_act": -1.0}, "pred_weight", "must be >= 0"),
    # odd temporal kernel (symmetric padding)
    *[({"temporal_kernel": v}, "temporal_kernel", f"must be odd, got {v}") for v in (2, 4, 8)],
    # one stride per backbone block, at least one block
    ({"channels": (64, 64), "strides": (1,)}, "strides", "needs one stride per block: 2 channels, 1 strides"),
    ({"channels": (64,), "strides": (1, 2)}, "strides", "needs one stride per block: 1 channels, 2 strides"),
    ({"channels": (), "strides": ()}, "strides", "needs one stride per block: 0 channels, 0 strides"),
    ({"channels": (0,), "strides": (1,)}, "channels", "channels and strides must be >= 1"),
    ({"channels": (8, -1), "strides": (1, 1)}, "channels", "channels and strides must be >= 1"),
    ({"channels": (8,), "strides": (0,)}, "channels", "channels and strides must be >= 1"),
    # prediction head collapse stage: (channels >= 1, odd kernel >= 1, stride >= 1) per block
    ({"pred_collapse": ()}, "pred_collapse", "needs at least one block"),
    ({"pred_collapse": ((8, 3, 1), (8, 4, 2))}, "pred_collapse", f"{BLOCK} (8, 4, 2)"),
    ({"pred_collapse": ((8, 0, 1),)}, "pred_collapse", f"{BLOCK} (8, 0, 1)"),
    ({"pred_collapse": ((8, -1, 1),)}, "pred_collapse", f"{BLOCK} (8, -1, 1)"),
    ({"pred_collapse": ((0, 3, 1),)}, "pred_collapse", f"{BLOCK} (0, 3, 1)"),
    ({"pred_collapse": ((8, 3, 0),)}, "pred_collapse", f"{BLOCK} (8, 3, 0)"),
    ({"pred_collapse": ((8, 3),)}, "pred_collapse", f"{BLOCK} (8, 3)"),
    ({"pred_collapse": ((8, 3, 1, 1),)}, "pred_collapse", f"{BLOCK} (8, 3, 1, 1)"),
]


@pytest.mark.parametrize(("options", "key", "message"), REJECTED, ids=repr)
def test_a_bad_value_raises_a_config_error_naming_the_option(options, key, message):
    assert _error(options) == f"asgcn option {key!r}: {message}"


ACCEPTED = [
    {"links": "s"}, {"links": "a"}, {"links": "as"}, {"s_links": "powers"}, {"s_links": "hops"},
    {"aim_aggregation": "nri"}, {"aim_encoder": "nri"}, {"aim_decoder": "recurrent"},
    {"pred_readout": "official"}, {"data_bn": "none"}, {"init": "official"}, {"pred_bodies": "first"},
    {"gcn_bias": True}, {"gcn_bias": False},
    *[{k: 2 if k == "aim_frames" else 1} for k in INT_OPTIONS],  # the smallest accepted
    {"order": 4, "num_link_types": 5, "aim_hidden": 128, "horizon": 300, "num_bodies": 2},
    *[{"ghost_prior": v} for v in (0.0, 0, 0.5, 0.999)],
    *[{k: v} for k in ("tau", "aim_variance", "act_scale") for v in (1e-6, 1.0, 2.0)],
    *[{k: v} for k in ("dropout", "aim_dropout") for v in (0.0, 0.999)],
    {"pred_weight": 0.0}, {"lambda_act": 0.0}, {"pred_weight": 0.0, "lambda_act": 0.0},
    {"pred_weight": 2.0, "lambda_act": 3.0},
    *[{"temporal_kernel": v} for v in (1, 3, 5, 9, 11)],
    {"channels": (1,), "strides": (1,)}, {"channels": (1, 2, 3), "strides": (1, 3, 1)},
    {"pred_collapse": ((1, 1, 1),)}, {"pred_collapse": ((128, 9, 1), (128, 5, 2), (16, 3, 3))},
]  # fmt: skip


@pytest.mark.parametrize("options", ACCEPTED, ids=repr)
def test_a_value_at_or_inside_each_bound_is_accepted(options):
    cfg = _accepted(options)
    for key, value in options.items():
        assert getattr(cfg, key) == value


def test_the_presets_and_their_documented_combinations_pass_validation():
    assert _accepted({}) == ASGCNConfig()
    official = _accepted({}, "official")
    assert (official.temporal_kernel, official.pred_collapse[0], official.pred_refine) == (9, (128, 9, 1), ())
    assert _accepted({"links": "a"}).order == 1


def test_a_prediction_option_is_not_validated_without_the_prediction_head():
    for collapse in [(), ((8, 4, 2),)]:
        with pytest.warns(IgnoredOptionWarning, match="'pred_collapse' is ignored: prediction_head=False"):
            cfg = resolve_config(prediction_head=False, pred_collapse=collapse)
        assert cfg.pred_collapse == collapse


def test_a_config_error_is_a_value_error_whose_message_is_the_key_and_the_reason():
    with pytest.raises(ValueError) as info:
        resolve_config(tau=0)
    assert type(info.value) is ConfigError
    assert info.value.args == ("asgcn option 'tau': must be > 0, got 0",)


# --- options that the configuration ignores --------------------------------------------------------------

NO_AIM = "has no A-link inference module"
AIM_VALUES = {
    "num_link_types": 2, "ghost_prior": 0.5, "lambda_act": 0.1, "tau": 0.2, "hard_links": True,
    "act_self_loops": True, "act_scale": 0.1, "refine_links": False, "aim_hidden": 16, "aim_iterations": 1,
    "aim_frames": 16, "aim_dropout": 0.5, "aim_variance": 1e-3, "aim_aggregation": "nri",
    "aim_encoder": "nri", "aim_decoder": "recurrent",
}  # fmt: skip
PREDICTION_VALUES = {
    "horizon": 4, "pred_weight": 0.5, "pred_zero_init": True, "pred_bodies": "first",
    "pred_readout": "official", "pred_collapse": ((16, 3, 1),), "pred_refine": (),
}  # fmt: skip
W = IgnoredOptionWarning

WARNED = [
    *[(None, {"links": "s", k: v}, [(W, f"asgcn option {k!r} is ignored: links='s' {NO_AIM}")])
      for k, v in AIM_VALUES.items()],
    *[(None, {"prediction_head": False, k: v}, [(W, f"asgcn option {k!r} is ignored: prediction_head=False")])
      for k, v in PREDICTION_VALUES.items()],
    (None, {"pred": False, "w_pred": 0.5},
     [(W, "asgcn option 'pred_weight' is ignored: prediction_head=False")]),
    (None, {"data_bn": "vc", "num_bodies": 1},
     [(W, "asgcn option 'num_bodies' is ignored: data_bn='vc' does not normalise per body")]),
    ("official", {"num_bodies": 3},
     [(W, "asgcn option 'num_bodies' is ignored: data_bn='vc' does not normalise per body")]),
    (None, {"data_bn": "none", "num_bodies": 1},
     [(W, "asgcn option 'num_bodies' is ignored: data_bn='none' does not normalise per body")]),
    # every reason at once, in the order AIM, prediction head, input batch-norm
    (None, {"num_bodies": 1, "horizon": 4, "tau": 0.2, "links": "s", "pred": False, "data_bn": "vc"},
     [(W, f"asgcn option 'tau' is ignored: links='s' {NO_AIM}"),
      (W, "asgcn option 'horizon' is ignored: prediction_head=False"),
      (W, "asgcn option 'num_bodies' is ignored: data_bn='vc' does not normalise per body")]),
    (None, {"links": "s", "tau": 0.2, "aim_frames": 16},
     [(W, f"asgcn option 'tau' is ignored: links='s' {NO_AIM}"),
      (W, f"asgcn option 'aim_frames' is ignored: links='s' {NO_AIM}")]),
    # compared with the chosen preset's value: () is the official preset's pred_refine, not the paper's
    (None, {"prediction_head": False, "pred_refine": ()},
     [(W, "asgcn option 'pred_refine' is ignored: prediction_head=False")]),
    ("official", {"prediction_head": False, "pred_refine": ()}, []),
    # the option is given at its preset's value: it changes nothing either way
    (None, {"links": "s", "ghost_prior": 0.95, "tau": 0.5}, []),
    (None, {"prediction_head": False, "horizon": 10}, []),
    (None, {"data_bn": "vc", "num_bodies": 2}, []),
    # the option is in effect
    (None, {"tau": 0.2, "horizon": 4, "num_bodies": 1}, []),
    (None, {"links": "a", "tau": 0.2, "aim_frames": 16}, []),
    (None, {"data_bn": "mvc", "num_bodies": 1}, []),
    # options filled from the preset are not the user's
    ("official", {"links": "s"}, []),
    (None, {"links": "s", "prediction_head": False, "data_bn": "none"}, []),
]  # fmt: skip


@pytest.mark.parametrize(("preset", "options", "expected"), WARNED, ids=repr)
def test_an_option_set_where_it_does_nothing_is_warned_about_exactly_once(preset, options, expected):
    assert _warnings(options, preset) == expected


def test_the_ignored_option_warning_is_a_user_warning():
    assert issubclass(IgnoredOptionWarning, UserWarning)
    assert not issubclass(UserWarning, IgnoredOptionWarning)


def _warned_at(call) -> list[tuple[type, str, int]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.category, w.filename, w.lineno) for w in caught]


def test_the_warning_points_at_the_users_line_however_the_model_is_built():
    """Through ``skelact.models.build``, the builder, or ``resolve_config`` itself: the warning is
    attributed to the first frame outside the skelact package (the user's line), not to a skelact
    frame in between (``build`` used to be reported: ``registry.py``, ``model = builder(**kwargs)``)."""
    from skelact.models import build
    from skelact.models.asgcn import build_asgcn

    tiny = dict(links="s", tau=0.2, channels=(4,), strides=(1,), prediction_head=False)
    line = sys._getframe().f_lineno + 1
    assert _warned_at(lambda: build("asgcn", num_classes=3, layout="ntu25", **tiny)) == [(W, __file__, line)]
    line = sys._getframe().f_lineno + 1
    assert _warned_at(lambda: build_asgcn(3, **tiny)) == [(W, __file__, line)]
    line = sys._getframe().f_lineno + 1
    assert _warned_at(lambda: resolve_config(links="s", tau=0.2)) == [(W, __file__, line)]
    arrn = dict(num_classes=3, layout="kinect20", lstm_sizes=(8, 8, 8), hidden_size=8)
    line = sys._getframe().f_lineno + 1
    assert _warned_at(lambda: build("arrn_lstm", **arrn)) == [(UserWarning, __file__, line)]


def test_unknown_presets_and_options_are_refused_with_every_known_name():
    unknown_preset = "asgcn option 'preset': unknown preset 'nope' (known: paper, official)"
    assert _error({}, preset="nope") == unknown_preset
    message = _error({"foo": 1})
    head = "asgcn option 'foo': unknown option (known: "
    assert message.startswith(head) and message.endswith(")")
    listed = message[len(head) : -1].split(", ")
    fields = {f.name for f in dataclasses.fields(ASGCNConfig)}
    # every option and every alias, sorted; not 'preset', which is the function's own argument
    assert listed == sorted(listed) and "preset" not in listed
    aliases = {"C", "K", "L", "P0", "T_pred", "hidden", "lam", "lambda", "max_hop", "pred", "w_pred"}
    assert set(listed) == (fields - {"preset"}) | aliases


def test_an_option_given_twice_through_an_alias_is_refused():
    twice = "asgcn option 'lam': given twice (as 'lambda_act' and an alias)"
    assert _error({"lambda_act": 0.5, "lam": 0.4}) == twice


def test_block_and_head_lists_from_yaml_become_tuples_of_ints():
    cfg = resolve_config(channels=[16.0, 32], strides=["1", 2], pred_refine=[8.0],
                         pred_collapse=[[4.0, "3", 1]])  # fmt: skip
    assert cfg.channels == (16, 32) and cfg.strides == (1, 2)
    assert cfg.pred_refine == (8,) and cfg.pred_collapse == ((4, 3, 1),)
    for value in (*cfg.channels, *cfg.strides, *cfg.pred_refine, *cfg.pred_collapse[0]):
        assert type(value) is int


def test_a_links_only_refuse_a_polynomial_order_and_use_the_skeleton_graph():
    message = ("asgcn option 'order': links='a' uses the skeleton graph itself (order 1); "
               "use links='as' for S-links")
    assert _error({"links": "a", "order": 2}) == message
    assert resolve_config(links="a").order == 1  # the preset's order 4 is replaced
    assert resolve_config(links="a", order=1).order == 1
