"""The contract of the official AS-GCN converter (:mod:`skelact.models.asgcn.official`), beyond the
round trips and official-forward checks of ``test_from_official.py``:

* the exact error when a model is not the official architecture (every wrong option and a missing
  ghost link type named), and ``official_rules`` refusing a model without its prediction head / AIM;
* each :class:`~skelact.models.asgcn.official.Rule` mapping official tensors to *exactly* our tensors
  (values and shapes), for any backbone depth (one block included);
* the public defaults of ``from_official`` / ``from_official_state_dicts`` (``layout="ntu25"``, the
  ``sources`` named in errors) and ``layout`` / ``in_channels`` reaching the built model;
* the ``A`` check: the dtype it is given in, its tolerance (``atol=1e-6``), its message;
* the converter's guards against a faulty rule (a tensor dropped, a key no rule fills): errors, never
  a silently missing or randomly initialised weight;
* :func:`skelact.models.checkpoint.read_checkpoint_file` on a legacy (non-zip, pickle ``0x80``) file
  that holds a pickled class: refused as unsafe, not reported as "not a PyTorch file".
"""

from __future__ import annotations

import argparse
import re

import pytest
import torch
from tiny_asgcn import TINY_OFFICIAL as TINY  # the official architecture at a tiny size

from skelact.errors import ConfigError
from skelact.models import build, from_official
from skelact.models.asgcn import official
from skelact.models.asgcn.official import (
    Rule,
    from_official_state_dicts,
    official_rules,
    to_official_state_dicts,
)
from skelact.models.checkpoint import read_checkpoint_file

CLASSES = 5
WANTED = (
    "links='as', s_links='hops', edge_importance=True, gcn_bias=True, data_bn='vc', prediction_head=True, "
    "pred_readout='official', pred_refine=(), aim_encoder='nri', aim_decoder='recurrent', aim_iterations=2"
)


def _tiny(layout: str = "ntu25", seed: int = 0, **kw):
    """A tiny official-preset model with distinct random values in every floating tensor."""
    torch.manual_seed(seed)
    model = build("asgcn", num_classes=CLASSES, layout=layout, preset="official", **{**TINY, **kw}).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
    return model


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(sb)
    for key, value in sa.items():
        assert torch.equal(sb[key], value), key


# ------------------------------------------------------------------------- architecture check ---
def test_a_model_without_the_ghost_type_is_refused_with_the_exact_message():
    model = build("asgcn", num_classes=CLASSES, layout="ntu25", preset="official", ghost_prior=0.0, **TINY)
    message = (
        f"the official AS-GCN layout needs the official architecture ({WANTED}, ghost_prior > 0); "
        "this model has ghost_prior=0.0"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        official_rules(model)


def test_every_wrong_option_is_listed_comma_separated():
    model = build(
        "asgcn",
        num_classes=CLASSES,
        layout="ntu25",
        preset="official",
        ghost_prior=0.0,
        gcn_bias=False,
        **TINY,
    )
    message = (
        f"the official AS-GCN layout needs the official architecture ({WANTED}, ghost_prior > 0); "
        "this model has gcn_bias=False, ghost_prior=0.0"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        to_official_state_dicts(model)


@pytest.mark.parametrize("part", ["aim", "predictor"])
def test_official_rules_refuse_a_model_missing_its_aim_or_prediction_head(part):
    model = _tiny()
    setattr(model, part, None)
    with pytest.raises(AssertionError):
        official_rules(model)


# ------------------------------------------------------------------------------------- rules ---
def test_each_rule_maps_the_official_tensors_to_exactly_ours():
    """``to_ours`` gives our tensors themselves (values *and* shapes, no reshape needed) and
    ``to_official`` gives the official ones, rule by rule."""
    model = _tiny()
    rec, aim = to_official_state_dicts(model)
    given = {"recognition": rec, "aim": aim}
    ours = model.state_dict()
    rules = official_rules(model)
    assert all(isinstance(r, Rule) for r in rules)
    for rule in rules:
        tensors = [given[k.split(":", 1)[0]][k.split(":", 1)[1]] for k in rule.official]
        mapped = rule.to_ours(tensors)
        assert len(mapped) == len(rule.ours), rule.ours
        for key, t in zip(rule.ours, mapped, strict=True):
            assert t.shape == ours[key].shape, (key, t.shape, ours[key].shape)
            assert torch.equal(t, ours[key]), key
        back = rule.to_official(mapped)
        for key, t, want in zip(rule.official, back, tensors, strict=True):
            assert t.shape == want.shape and torch.equal(t, want), key
    # the classifier: official 1x1 conv (classes, C, 1, 1) <-> our Linear (classes, C)
    (fc,) = [r for r in rules if r.official == ("recognition:fcn.weight",)]
    assert fc.to_ours([rec["fcn.weight"]])[0].shape == (CLASSES, 16)
    assert rec["fcn.weight"].shape == (CLASSES, 16, 1, 1)


def test_a_one_block_backbone_converts_both_ways_with_the_layouts_A():
    one = _tiny(channels=(8,), strides=(1,))
    rec, aim = to_official_state_dicts(one)
    # ``A`` depends on the layout and max_hop only: the same as a deeper model's
    assert torch.equal(rec["A"], to_official_state_dicts(_tiny())[0]["A"])
    assert rec["A"].shape == (5, 25, 25)
    back = from_official_state_dicts(
        rec, aim, num_classes=CLASSES, layout="ntu25", **{**TINY, "channels": (8,), "strides": (1,)}
    )
    _assert_same_weights(one, back)


# ------------------------------------------------------------------- defaults and pass-through ---
def test_layout_defaults_to_ntu25():
    model = _tiny()
    rec, aim = to_official_state_dicts(model)
    a = from_official_state_dicts(rec, aim, num_classes=CLASSES, **TINY)
    b = from_official("asgcn", rec, aim, num_classes=CLASSES, **TINY)
    for converted in (a, b):
        assert converted.num_joints == 25
        assert not converted.training
        _assert_same_weights(model, converted)


@pytest.mark.parametrize(("layout", "in_channels", "joints"), [("kinect20", 3, 20), ("openpose18", 2, 18)])
def test_layout_and_in_channels_reach_the_built_model(layout, in_channels, joints):
    model = _tiny(layout, in_channels=in_channels)
    rec, aim = to_official_state_dicts(model)
    assert rec["data_bn.weight"].shape == (in_channels * joints,)
    kw = dict(num_classes=CLASSES, layout=layout, in_channels=in_channels, **TINY)
    a = from_official_state_dicts(rec, aim, **kw)
    b = from_official("asgcn", rec, aim, **kw)
    for converted in (a, b):
        assert converted.num_joints == joints
        _assert_same_weights(model, converted)


def test_in_channels_defaults_to_3():
    model = _tiny(in_channels=2)
    rec, aim = to_official_state_dicts(model)
    with pytest.raises(ValueError, match=r"data_bn\.weight is \(50,\), expected \(75,\)"):
        from_official_state_dicts(rec, aim, num_classes=CLASSES, **TINY)


# ------------------------------------------------------------------------------------ A check ---
def test_A_is_compared_in_the_models_dtype():
    model = _tiny()
    rec, aim = to_official_state_dicts(model)
    converted = from_official_state_dicts({**rec, "A": rec["A"].double()}, aim, num_classes=CLASSES, **TINY)
    _assert_same_weights(model, converted)


def test_A_tolerance_is_1e_6_and_the_error_names_the_recognition_source():
    model = _tiny()
    rec, aim = to_official_state_dicts(model)
    a = rec["A"].clone()
    zero = (a == 0).nonzero()[0].tolist()
    a[tuple(zero)] = 5e-7  # within atol=1e-6 of a zero entry
    converted = from_official_state_dicts({**rec, "A": a}, aim, num_classes=CLASSES, **TINY)
    _assert_same_weights(model, converted)
    a[tuple(zero)] = 5e-6
    message = (
        "recognition state dict (model1): its S-link buffer 'A' is not the official 'spatial' graph of "
        "layout 'ntu25' with max_hop=2 (pass layout= / order= as it was trained)"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        from_official_state_dicts({**rec, "A": a}, aim, num_classes=CLASSES, **TINY)
    with pytest.raises(ValueError, match=r"^my1\.pt: its S-link buffer 'A'"):
        from_official_state_dicts(
            {**rec, "A": a}, aim, num_classes=CLASSES, sources=("my1.pt", "my2.pt"), **TINY
        )


# ------------------------------------------------------------------------ faulty-rule guards ---
def _patch_rules(monkeypatch, change):
    original = official.official_rules

    def patched(model):
        return change(original(model))

    monkeypatch.setattr(official, "official_rules", patched)


def _drop_last_tensor(rule: Rule, direction: str) -> Rule:
    fn = getattr(rule, direction)
    return Rule(
        rule.official,
        rule.ours,
        **{"to_ours": rule.to_ours, "to_official": rule.to_official, direction: lambda t: fn(t)[:-1]},
    )


def test_a_rule_giving_too_few_official_tensors_is_an_error(monkeypatch):
    model = _tiny()
    _patch_rules(monkeypatch, lambda rules: [_drop_last_tensor(rules[0], "to_official"), *rules[1:]])
    with pytest.raises(ValueError, match=r"zip\(\) argument 2 is shorter than argument 1"):
        to_official_state_dicts(model)


def test_a_rule_giving_too_few_of_our_tensors_is_an_error(monkeypatch):
    rec, aim = to_official_state_dicts(_tiny())
    _patch_rules(monkeypatch, lambda rules: [_drop_last_tensor(rules[0], "to_ours"), *rules[1:]])
    with pytest.raises(ValueError, match=r"zip\(\) argument 2 is shorter than argument 1"):
        from_official_state_dicts(rec, aim, num_classes=CLASSES, **TINY)


def test_a_weight_no_rule_fills_is_an_error_not_left_at_its_initial_value(monkeypatch):
    rec, aim = to_official_state_dicts(_tiny())
    del rec["fcn.bias"]
    _patch_rules(monkeypatch, lambda rules: [r for r in rules if r.ours != ("fc.bias",)])
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "fc\.bias"'):
        from_official_state_dicts(rec, aim, num_classes=CLASSES, **TINY)


# ------------------------------------------------------------------------- checkpoint reading ---
def test_a_legacy_checkpoint_with_a_pickled_class_is_refused_as_unsafe(tmp_path):
    path = tmp_path / "legacy.pt"
    state = {"args": argparse.Namespace(lr=0.1), "w": torch.ones(2)}
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:2] == b"\x80\x02"  # the legacy format: a pickle, not a zip archive
    refused = f"{path}: refused: the checkpoint holds more than tensors and plain data"
    with pytest.raises(ConfigError, match="^" + re.escape(refused)):
        read_checkpoint_file(path)
