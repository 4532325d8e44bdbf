"""``from_official``: official AS-GCN state dicts (limaosen0/AS-GCN) <-> skelact, without the official code.

The official key names and shapes are a committed fixture (``tests/fixtures/official_asgcn_keys.json``:
names and shapes only, generated once from the official code's ``state_dict()``). What the official
tensors *mean* is re-stated here from the official forward's equations (the ``_reference_*``
functions: 1x1 convolution with bias then column-form kernels, NRI encoder, NRI recurrent decoder,
the tiled readout), independently of the converter's rules, and run on distinct random values: a
swapped pair of equal-shape keys, a missing transpose or a wrong kernel order changes the outputs.
The comparison with the official code itself is ``scripts/check_official_parity.py``
(``benchmarks/results/official_parity.md``).
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_asgcn import TINY_OFFICIAL as TINY  # the official architecture at a tiny size

from skelact.data.layouts import get_layout
from skelact.errors import ConfigError
from skelact.models import build, from_official
from skelact.models.asgcn.aim import AIMDecoder, RecurrentDecoder
from skelact.models.asgcn.config import IgnoredOptionWarning, resolve_config
from skelact.models.asgcn.links import ASGC, actional_kernels
from skelact.models.asgcn.official import (
    OFFICIAL_AIM_ARGS,
    OFFICIAL_MODEL_ARGS,
    _mismatch,
    official_rules,
    pairs_from_official,
    pairs_to_official,
    to_official_state_dicts,
    unused_official_keys,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "official_asgcn_keys.json"
CLASSES = 5
# observed frames: 12 -> 12 -> 6 (backbone) -> 3 (collapse), so the unpadded last collapse block sees
# exactly its kernel, as the official head needs
T_OBS = 12


@pytest.fixture(scope="module")
def fixture_keys() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def ntu_official():
    torch.manual_seed(0)
    return build("asgcn", num_classes=60, layout="ntu25", preset="official").eval()


def _tiny():
    torch.manual_seed(0)
    return build("asgcn", num_classes=CLASSES, layout="ntu25", preset="official", **TINY).eval()


def _random_official(model, seed: int = 0) -> tuple[dict, dict]:
    """Official state dicts for ``model``'s size with distinct random values (BN variances positive,
    BN scales and edge importance near 1), ``A`` kept."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for state in to_official_state_dicts(model):
        new = {}
        for key, t in state.items():
            if key == "A" or not t.is_floating_point():
                new[key] = t.clone()
                continue
            noise = torch.randn(t.shape, generator=gen)
            if key.endswith("running_var"):
                new[key] = 0.5 + torch.rand(t.shape, generator=gen)
            elif "edge_importance" in key or (key.endswith(".weight") and t.dim() == 1):
                new[key] = 1.0 + 0.2 * noise
            elif t.dim() >= 2:
                new[key] = noise / (t[0].numel() ** 0.5)
            else:
                new[key] = 0.1 * noise
        out.append(new)
    return out[0], out[1]


# ------------------------------------------------------------------- references (official math) ---
def _bn(sd, p, x):
    """Eval-mode batch-norm with the official tensors at ``p``, channels on axis 1."""
    return F.batch_norm(
        x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"], sd[f"{p}.bias"]
    )


def _reference_block(sd, p, x, imp, act, lam, kernel, stride, *, residual, pad=True, deconv=False, relu=True):
    """The official ``StgcnBlock`` (``StgcnReconBlock`` when ``deconv``) in eval mode: a 1x1 convolution
    with bias to ``K d_out`` channels (kernel-major), the S-link kernels ``A o M`` (column form,
    ``einsum('nkctv,kvw->nctw')``) on the first ones and ``lambda`` times the A-link kernels on the
    last ones, BN, ReLU, temporal convolution, BN, residual, ReLU."""
    gcn, tcn = ("gcn_recon.deconv", "tcn_recon") if deconv else ("gcn.conv", "tcn")
    conv = F.conv_transpose2d if deconv else F.conv2d
    y = conv(x, sd[f"{p}.{gcn}.weight"], sd[f"{p}.{gcn}.bias"])
    a = sd["A"] * imp
    k = a.shape[0] + act.shape[1]
    n, kc, t, v = y.shape
    y = y.view(n, k, kc // k, t, v)
    z = torch.einsum("nkctv,kvw->nctw", y[:, : a.shape[0]], a)
    z = z + lam * torch.einsum("nkctv,nkvw->nctw", y[:, a.shape[0] :], act)
    z = F.relu(_bn(sd, f"{p}.{tcn}.0", z))
    padding = ((kernel - 1) // 2, 0) if pad else (0, 0)
    z = conv(z, sd[f"{p}.{tcn}.2.weight"], sd[f"{p}.{tcn}.2.bias"], stride=(stride, 1), padding=padding)
    z = _bn(sd, f"{p}.{tcn}.3", z)
    if f"{p}.residual.0.weight" in sd:
        res = F.conv2d(x, sd[f"{p}.residual.0.weight"], sd[f"{p}.residual.0.bias"], stride=(stride, 1))
        z = z + _bn(sd, f"{p}.residual.1", res)
    elif residual:
        z = z + x
    return F.relu(z) if relu else z


def _reference_actional(edges, num_joints, scale=0.1):
    """The official A-link kernels from sampled links ``(B, V (V-1), types)`` (sender-major): for each
    non-ghost type, ``A`` (column form) plus the identity, columns divided by their sums, times 0.1."""
    send, recv = (torch.ones(num_joints, num_joints) - torch.eye(num_joints)).nonzero().t()
    out = []
    for j in range(1, edges.shape[-1]):
        a = torch.zeros(edges.shape[0], num_joints, num_joints)
        a[:, send, recv] = edges[:, :, j]
        a = a + torch.eye(num_joints)
        out.append(a / a.sum(dim=1, keepdim=True) * scale)
    return torch.stack(out, dim=1)


def _reference_model(sd, x_obs, x_last, act, lam, cfg):
    """The official ``Model.forward`` (eval): logits and the predicted poses of body 0."""
    n, c, t, v, m = x_obs.shape
    h = F.batch_norm(
        x_obs.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t),
        sd["data_bn.running_mean"], sd["data_bn.running_var"], sd["data_bn.weight"], sd["data_bn.bias"],
    )  # fmt: skip
    h = h.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
    for i, stride in enumerate(cfg.strides):
        h = _reference_block(
            sd, f"class_layer_{i}", h, sd[f"edge_importance.{i}"], act, lam, cfg.temporal_kernel, stride,
            residual=i > 0,
        )  # fmt: skip
    logits = F.linear(
        h.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1), sd["fcn.weight"].flatten(1), sd["fcn.bias"]
    )
    r = h
    for i, (_, kernel, stride) in enumerate(cfg.pred_collapse):
        last = i == len(cfg.pred_collapse) - 1
        r = _reference_block(
            sd, f"recon_layer_{i}", r, sd[f"edge_importance_recon.{i}"], act, lam, kernel, stride,
            residual=not last, pad=not last,
        )  # fmt: skip
    i = len(cfg.pred_collapse)
    pose = x_last.permute(0, 4, 1, 2, 3).reshape(n * m, c, 1, v)
    r = _reference_block(
        sd, f"recon_layer_{i}", torch.cat([r, pose], dim=1), sd[f"edge_importance_recon.{i}"], act, lam, 1, 1,
        residual=False, pad=False, deconv=True, relu=False,
    )  # fmt: skip
    pred = pose.squeeze(2).repeat(1, cfg.horizon, 1) + r.squeeze(2)  # the code's tiled last pose
    return logits, pred.reshape(n * m, c, cfg.horizon, v)[::m]


def _pair_matrices(v):
    """The official receiver / sender one-hot matrices ``(V (V-1), V)`` (links row-major over the
    off-diagonal, the row index the sender)."""
    send, recv = (torch.ones(v, v) - torch.eye(v)).nonzero().t()
    return F.one_hot(recv, v).float(), F.one_hot(send, v).float()


def _reference_mlp(sd, p, h):
    h = F.elu(F.linear(h, sd[f"{p}.fc1.weight"], sd[f"{p}.fc1.bias"]))
    h = F.elu(F.linear(h, sd[f"{p}.fc2.weight"], sd[f"{p}.fc2.bias"]))
    return _bn(sd, f"{p}.bn", h.reshape(-1, h.shape[-1])).view(h.shape)


def _reference_encoder(sd, x):
    """The official NRI encoder: ``(B, V, F C)`` -> link logits ``(B, V (V-1), types)``."""
    rec, snd = _pair_matrices(x.shape[1])

    def node2edge(h):
        return torch.cat([rec @ h, snd @ h], dim=-1)

    e = _reference_mlp(sd, "encoder.mlp2", node2edge(_reference_mlp(sd, "encoder.mlp1", x)))
    h = _reference_mlp(sd, "encoder.mlp3", rec.t() @ e / x.shape[1])
    e = _reference_mlp(sd, "encoder.mlp4", torch.cat([node2edge(h), e], dim=-1))
    return F.linear(e, sd["encoder.fc_out.weight"], sd["encoder.fc_out.bias"])


def _reference_decoder(sd, x, edges):
    """The official NRI recurrent decoder: poses ``(B, F, V, C)``, links ``(B, V (V-1), types)`` ->
    ``(B, F - 1, V, C)``."""
    b, f, v, c = x.shape
    rec, snd = _pair_matrices(v)
    types = edges.shape[-1]

    def lin(name, h):
        return F.linear(h, sd[f"decoder.{name}.weight"], sd.get(f"decoder.{name}.bias"))

    hidden = torch.zeros(b, v, sd["decoder.hidden_r.weight"].shape[0])
    preds = []
    for t in range(f - 1):
        ins = x[:, t]
        pre = torch.cat([rec @ hidden, snd @ hidden], dim=-1)
        msgs = 0
        for k in range(1, types):  # the ghost type (0) sends nothing
            msg = torch.tanh(lin(f"msg_fc2.{k}", torch.tanh(lin(f"msg_fc1.{k}", pre))))
            msgs = msgs + msg * edges[:, :, k : k + 1] / (types - 1)
        agg = rec.t() @ msgs / c
        r = torch.sigmoid(lin("input_r", ins) + lin("hidden_r", agg))
        i = torch.sigmoid(lin("input_i", ins) + lin("hidden_i", agg))
        n = torch.tanh(lin("input_n", ins) + r * lin("hidden_n", agg))
        hidden = (1 - i) * n + i * hidden
        out = lin("out_fc3", F.relu(lin("out_fc2", F.relu(lin("out_fc1", hidden)))))
        preds.append(ins + out)
    return torch.stack(preds, dim=1)


def _converted(seed: int = 0):
    rec, aim = _random_official(_tiny(), seed)
    return rec, aim, from_official("asgcn", rec, aim, num_classes=CLASSES, layout="ntu25", **TINY)


def _inputs(model, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    n, m, v = 2, 2, model.num_joints
    x = torch.randn(n, 3, T_OBS + model.config.horizon, v, m, generator=gen)
    types = model.config.num_link_types + 1
    edges = F.one_hot(torch.randint(0, types, (n * m, v * (v - 1)), generator=gen), types).float()
    return x, edges


# ------------------------------------------------------------------------- keys and coverage ---
def test_official_state_dicts_have_the_official_keys_and_shapes(ntu_official, fixture_keys):
    assert fixture_keys["model1_args"] == OFFICIAL_MODEL_ARGS
    assert fixture_keys["model2_args"] == OFFICIAL_AIM_ARGS
    rec, aim = to_official_state_dicts(ntu_official)
    assert {k: list(v.shape) for k, v in rec.items()} == fixture_keys["recognition"]
    assert {k: list(v.shape) for k, v in aim.items()} == fixture_keys["aim"]


def test_every_key_is_mapped_exactly_once_both_ways(ntu_official, fixture_keys):
    rules = official_rules(ntu_official)
    official = [k for r in rules for k in r.official]
    ours = [k for r in rules for k in r.ours]
    assert len(official) == len(set(official)) and len(ours) == len(set(ours))
    assert set(ours) == set(ntu_official.state_dict())
    unused = unused_official_keys(ntu_official)
    assert unused == [
        "aim:decoder.msg_fc1.0.bias",
        "aim:decoder.msg_fc1.0.weight",
        "aim:decoder.msg_fc2.0.bias",
        "aim:decoder.msg_fc2.0.weight",
        "recognition:edge_importance_recon.7",
        "recognition:edge_importance_recon.8",
    ]
    every = {f"{file}:{k}" for file in ("recognition", "aim") for k in fixture_keys[file]}
    assert not set(official) & (set(unused) | {"recognition:A"})
    assert set(official) | set(unused) | {"recognition:A"} == every


def test_parameter_counts_equal_the_official_ones_less_the_never_read(ntu_official, fixture_keys):
    def params(keys):
        skip = ("running_mean", "running_var", "num_batches_tracked")
        return sum(int(np.prod(s)) for k, s in keys.items() if k != "A" and not k.endswith(skip))

    m1, m2 = params(fixture_keys["recognition"]), params(fixture_keys["aim"])
    assert (m1, m2) == (6_987_478, 417_798)
    never_read = 2 * 9 * 25 * 25 + (256 * 128 + 128) + (128 * 128 + 128)  # 11,250 + 49,408
    assert sum(p.numel() for p in ntu_official.parameters()) == m1 + m2 - never_read == 7_344_618
    # the official graph-convolution biases: 11 x 1,344 in recognition, 8,778 in prediction
    biases = {n: p.numel() for n, p in ntu_official.named_parameters() if n.endswith("gcn.bias")}
    assert sum(v for n, v in biases.items() if n.startswith("backbone.")) == 11 * 1344
    assert sum(v for n, v in biases.items() if n.startswith("predictor.")) == 8778


def test_official_kernel_order_is_st_gcns_root_close_then_further(ntu_official):
    """The official ``A`` the converter expects: per hop ``h >= 1`` kernel ``2h - 1`` carries messages
    from senders at least as far from the centre as the receiver (root + close), kernel ``2h`` the
    others (further); checked against the layout's hop distances, not against the converter."""
    a = to_official_state_dicts(ntu_official)[0]["A"].numpy()  # [k, sender, receiver]
    lay = get_layout("ntu25")
    hops = lay.hop_distance()
    hops[hops > 4] = np.inf  # the code's max_hop = 4 distances
    centre = hops[:, lay.center]
    for h in range(1, 5):
        for k, toward in ((2 * h - 1, True), (2 * h, False)):
            senders, receivers = np.nonzero(a[k])
            assert len(senders) > 0 and (hops[senders, receivers] == h).all()
            assert ((centre[senders] >= centre[receivers]) == toward).all(), (h, k)


# --------------------------------------------------------------------------------- round trips ---
def test_round_trip_ours_official_ours_is_identity():
    model = _tiny()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for t in model.state_dict().values():  # distinct values everywhere
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
    rec, aim = to_official_state_dicts(model)
    back = from_official("asgcn", rec, aim, num_classes=CLASSES, layout="ntu25", **TINY)
    for key, value in model.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key


def test_round_trip_official_ours_official_keeps_every_read_value():
    rec, aim, model = _converted()
    rec2, aim2 = to_official_state_dicts(model)
    unused = {k.split(":", 1)[1] for k in unused_official_keys(model)}
    for given, back in ((rec, rec2), (aim, aim2)):
        assert set(given) == set(back)
        for key in given:
            if key in unused:  # never read by the official forward: ones (importance), zeros
                assert torch.equal(
                    back[key], torch.ones_like(back[key]) if "importance" in key else back[key] * 0
                )
            else:
                assert torch.equal(back[key], given[key]), key


# -------------------------------------------------------------- outputs: the official meaning ---
def test_converted_model_computes_the_official_forward_given_the_same_links():
    rec, aim, model = _converted()
    x, edges = _inputs(model)
    cfg = model.config
    x_obs = x[:, :, :T_OBS]
    links = pairs_from_official(edges, model.num_joints)
    act = actional_kernels(model.aim.actional(links), cfg.act_self_loops, cfg.act_scale)
    ref_act = _reference_actional(edges, model.num_joints)
    torch.testing.assert_close(act.transpose(-1, -2), ref_act)
    model._actional = lambda _x: act
    with torch.no_grad():
        want_logits, want_pred = _reference_model(rec, x_obs, x_obs[:, :, -1:], ref_act, cfg.lambda_act, cfg)
        logits = model(x)
        pred = model.forecast(x_obs, steps=cfg.horizon)[..., 0]
    assert want_logits.abs().max() > 0.1 and want_pred.abs().max() > 0.1
    torch.testing.assert_close(logits, want_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pred, want_pred, rtol=1e-4, atol=1e-5)


def test_converted_aim_computes_the_official_encoder_and_decoder():
    _, aim, model = _converted()
    x, edges = _inputs(model)
    window = model.aim.window(x[:, :, :T_OBS])  # (N M, F, V, C)
    b, f, v, c = window.shape
    with torch.no_grad():
        logits = pairs_to_official(model.aim.logits(window))
        want = _reference_encoder(aim, window.permute(0, 2, 1, 3).reshape(b, v, f * c))
        links = pairs_from_official(edges, v)
        means = model.aim.decoder(window, links[..., 1:], model.aim.senders)
        want_means = _reference_decoder(aim, window, edges)
    torch.testing.assert_close(logits, want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(means, want_means, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pairs_from_official(pairs_to_official(links), v), links, rtol=0, atol=0)


def test_converted_model_outputs_equal_the_models_it_came_from():
    model = _tiny()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(
                    0.5 + torch.rand(t.shape, generator=gen)
                    if "running_var" in name
                    else t + 0.1 * torch.randn(t.shape, generator=gen)
                )
    rec, aim = to_official_state_dicts(model)
    converted = from_official("asgcn", rec, aim, num_classes=CLASSES, layout="ntu25", **TINY)
    x, _ = _inputs(model)
    with torch.no_grad():
        torch.testing.assert_close(converted(x), model(x), rtol=0, atol=0)
        torch.testing.assert_close(converted.infer_links(x), model.infer_links(x), rtol=0, atol=0)
        torch.testing.assert_close(converted.forecast(x, steps=4), model.forecast(x, steps=4), rtol=0, atol=0)
        torch.testing.assert_close(converted.aim_losses(x)["nll"], model.aim_losses(x)["nll"], rtol=0, atol=0)


# ---------------------------------------------------------------------------------- errors ---
def test_paths_load_with_weights_only_and_dataparallel_prefixes(tmp_path):
    rec, aim, model = _converted()
    p1, p2 = tmp_path / "epoch99_model1.pt", tmp_path / "epoch99_model2.pt"
    torch.save({f"module.{k}": v for k, v in rec.items()}, p1)  # as saved from nn.DataParallel
    torch.save(aim, p2)
    loaded = from_official("asgcn", p1, str(p2), num_classes=CLASSES, layout="ntu25", **TINY)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert not loaded.training


def test_mismatched_state_dicts_name_the_keys_and_the_file(tmp_path):
    rec, aim, _ = _converted()
    bad = dict(rec)
    del bad["class_layer_1.tcn.3.weight"]
    bad["class_layer_9.gcn.conv.weight"] = torch.zeros(1)
    path = tmp_path / "epoch9_model1.pt"
    torch.save(bad, path)
    with pytest.raises(ValueError) as err:
        from_official("asgcn", path, aim, num_classes=CLASSES, layout="ntu25", **TINY)
    msg = str(err.value)
    assert str(path) in msg and "missing keys (1): class_layer_1.tcn.3.weight" in msg
    assert "unexpected keys (1): class_layer_9.gcn.conv.weight" in msg
    with pytest.raises(
        ValueError,
        match=r"recognition \(model1\) state dict.*fcn\.weight is \(5, 16, 1, 1\), "
        r"expected \(7, 16, 1, 1\)",
    ):
        from_official("asgcn", rec, aim, num_classes=7, layout="ntu25", **TINY)
    with pytest.raises(
        ValueError, match=r"A-link \(model2\) state dict.*missing keys \(5\): decoder\.hidden_i"
    ):
        from_official(
            "asgcn",
            rec,
            {k: v for k, v in aim.items() if "hidden" not in k and "input_r" not in k},
            num_classes=CLASSES,
            layout="ntu25",
            **TINY,
        )
    with pytest.raises(ValueError, match="missing keys"):  # the two files swapped
        from_official("asgcn", aim, rec, num_classes=CLASSES, layout="ntu25", **TINY)
    with pytest.raises(ValueError, match="S-link buffer 'A'.*max_hop=2"):
        from_official(
            "asgcn", {**rec, "A": rec["A"].flip(0)}, aim, num_classes=CLASSES, layout="ntu25", **TINY
        )
    with pytest.raises(ValueError, match="family 'arrn_lstm'"):
        from_official("arrn_lstm", rec, aim, num_classes=CLASSES, layout="ntu25")
    with pytest.raises(ValueError, match="needs the official architecture.*aim_encoder='eq2'"):
        from_official("asgcn", rec, aim, num_classes=CLASSES, layout="ntu25", aim_encoder="eq2", **TINY)
    with pytest.raises(ValueError, match="s_links='powers'"):
        official_rules(build("asgcn", num_classes=CLASSES, layout="ntu25"))
    optional = {k: v for k, v in rec.items() if not k.endswith("num_batches_tracked")}  # PyTorch 0.4.0 files
    from_official("asgcn", optional, aim, num_classes=CLASSES, layout="ntu25", **TINY)


def test_a_mismatch_lists_each_kind_of_problem_with_the_keys_sorted():
    err = _mismatch("epoch1_model1.pt", ["b.weight", "a.weight"], ["z.bias", "y.bias"],
                    ["c is (1,), expected (2,)", "d is (3,), expected (4,)"])
    assert str(err) == (
        "epoch1_model1.pt does not fit the official AS-GCN architecture asked for: "
        "missing keys (2): a.weight, b.weight; unexpected keys (2): y.bias, z.bias; "
        "wrong shapes (2): c is (1,), expected (2,); d is (3,), expected (4,)"
    )
    only = _mismatch("model2", [], ["x"], [])
    assert str(only) == ("model2 does not fit the official AS-GCN architecture asked for: "
                         "unexpected keys (1): x")


def test_an_official_file_that_is_not_a_state_dict_is_named(tmp_path):
    rec, aim, _ = _converted()
    path = tmp_path / "epoch1_model1.pt"
    torch.save([rec], path)  # a list, not the state dict
    want = f"{path}: expected a state dict (the official code's torch.save of state_dict())"
    with pytest.raises(ValueError, match=f"^{re.escape(want)}$"):
        from_official("asgcn", path, aim, num_classes=CLASSES, layout="ntu25", **TINY)


class _Carried:
    """An object an official file could pickle (code that would run when loaded)."""


def test_official_files_are_read_as_plain_tensors_onto_the_cpu(tmp_path, torch_load_kwargs):
    rec, aim, _ = _converted()
    path = tmp_path / "epoch1_model2.pt"
    torch.save({**aim, "extra": _Carried()}, path)
    with pytest.raises(pickle.UnpicklingError):  # refused, not unpickled
        from_official("asgcn", rec, path, num_classes=CLASSES, layout="ntu25", **TINY)
    torch.save(aim, path)
    from_official("asgcn", rec, path, num_classes=CLASSES, layout="ntu25", **TINY)
    assert torch_load_kwargs == {"map_location": "cpu", "weights_only": True}


# ------------------------------------------------------------- the options the preset needs ---
def test_presets_set_the_new_options_only_for_official():
    paper, official = resolve_config("paper"), resolve_config("official")
    assert (paper.gcn_bias, paper.aim_encoder, paper.aim_decoder, paper.pred_readout) == (
        False, "eq2", "poses", "frame_major",
    )  # fmt: skip
    assert (official.gcn_bias, official.aim_encoder, official.aim_decoder, official.pred_readout) == (
        True, "nri", "recurrent", "official",
    )  # fmt: skip
    paper_model = build("asgcn", num_classes=CLASSES, layout="ntu25", **TINY)
    assert not any(n.endswith("gcn.bias") or ".skip." in n for n, _ in paper_model.named_parameters())
    assert isinstance(paper_model.aim.decoder, AIMDecoder)


@pytest.mark.parametrize(
    "bad",
    [dict(gcn_bias="yes"), dict(aim_encoder="gnn"), dict(aim_decoder="lstm"), dict(pred_readout="time")],
)
def test_new_options_are_validated(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        build("asgcn", num_classes=CLASSES, **bad)


def test_new_options_warn_where_ignored():
    small = dict(channels=(8, 16), strides=(1, 2), temporal_kernel=3)
    head = dict(pred_collapse=TINY["pred_collapse"], horizon=3)
    with pytest.warns(IgnoredOptionWarning, match="aim_decoder"):
        build("asgcn", num_classes=CLASSES, links="s", aim_decoder="recurrent", **small, **head)
    with pytest.warns(IgnoredOptionWarning, match="pred_readout"):
        build("asgcn", num_classes=CLASSES, pred=False, pred_readout="official", aim_hidden=8, **small)


def test_gcn_bias_is_each_kernels_bias_weighted_by_its_row_sums():
    """``gcn_bias``: ``ASGC(X) = sum_k K_k (X W_k + 1 b_k^T)``: the output at zero input is
    ``sum_k (K_k 1) b_k``, a per-joint offset (not a per-channel constant); without it ASGC is linear."""
    torch.manual_seed(0)
    structural = torch.rand(3, 6, 6)
    with_bias = ASGC(4, 5, structural, num_actional=2, bias=True)
    plain = ASGC(4, 5, structural, num_actional=2)
    plain.load_state_dict({k: v for k, v in with_bias.state_dict().items() if k != "bias"})
    act = torch.rand(2, 2, 6, 6)
    x = torch.randn(2, 4, 7, 6)
    kernels = torch.cat([structural.expand(2, -1, -1, -1), 0.5 * act], dim=1)  # (B, K, V, V)
    offset = torch.einsum("bkv,ko->bov", kernels.sum(-1), with_bias.bias)  # (B, d_out, V)
    torch.testing.assert_close(with_bias(x, act), plain(x, act) + offset[:, :, None, :])
    torch.testing.assert_close(
        with_bias(torch.zeros_like(x), act), offset[:, :, None, :].expand(-1, -1, 7, -1)
    )
    assert plain(torch.zeros_like(x), act).abs().max() == 0
    assert with_bias.bias.shape == (5, 5)
    # in the model: one (K, d_out) bias per block, zero under the official initialisation
    m = build("asgcn", num_classes=CLASSES, layout="ntu25", preset="official", **TINY)
    assert [tuple(b.gcn.bias.shape) for b in m.backbone] == [(7, 8), (7, 16)]
    assert all(float(b.gcn.bias.detach().abs().max()) == 0 for b in m.backbone)


def test_aim_encoder_nri_wiring():
    """``aim_encoder="nri"``: the second joint MLP reads the aggregated links alone (width H, not
    H + F C) and the second link MLP also reads the first links; logits change with that skip."""
    eq2 = build("asgcn", num_classes=CLASSES, layout="ntu25", preset="official", aim_encoder="eq2", **TINY)
    nri = build("asgcn", num_classes=CLASSES, layout="ntu25", preset="official", **TINY).eval()
    h, fc = TINY["aim_hidden"], TINY["aim_frames"] * 3
    assert eq2.aim.encoder.node_mlps[1][0].in_features == h + fc and eq2.aim.encoder.edge_mlps[1].skip is None
    assert (
        nri.aim.encoder.node_mlps[1][0].in_features == h
        and nri.aim.encoder.edge_mlps[1].skip.in_features == h
    )
    window = torch.randn(2, TINY["aim_frames"], 25, 3)
    with torch.no_grad():
        before = nri.aim.logits(window)
        nri.aim.encoder.edge_mlps[1].skip.weight.zero_()
        assert (nri.aim.logits(window) - before).abs().max() > 1e-3


def test_recurrent_decoder_messages_come_from_the_state():
    """``aim_decoder="recurrent"``: messages come from the recurrent state (zero at the start), so the
    first prediction of a joint does not see the other joints' poses; the paper's decoder sends
    messages computed from the poses, so it does."""
    torch.manual_seed(0)
    x = torch.randn(1, 5, 6, 3)
    links = torch.zeros(1, 6, 5, 2)
    links[..., 0] = 1.0  # every pair linked by type 1
    senders = torch.tensor([[j for j in range(6) if j != i] for i in range(6)])
    y = x.clone()
    y[:, 0, 1:] += 1.0  # move every joint but joint 0 in the first frame
    for cls, sees_others in ((RecurrentDecoder, False), (AIMDecoder, True)):
        dec = cls(3, 8, 2).eval()
        with torch.no_grad():
            first = dec(x, links, senders)[:, 0, 0], dec(y, links, senders)[:, 0, 0]
            later = dec(x, links, senders)[:, 1, 0], dec(y, links, senders)[:, 1, 0]
        assert torch.equal(*first) != sees_others, cls.__name__
        assert not torch.equal(*later)  # from the second step on, the state carries the others
    assert isinstance(
        build("asgcn", num_classes=CLASSES, preset="official", **TINY).aim.decoder, RecurrentDecoder
    )


@pytest.mark.parametrize("readout", ["frame_major", "official"])
def test_pred_readout(readout):
    """``pred_readout``: with a zero output block the head returns the last pose repeated
    (``"frame_major"``) or, as the official code, the last pose tiled frame-major and read
    channel-major: coordinate ``(c T' + t) mod C`` at ``(c, t)``."""
    m = build("asgcn", num_classes=CLASSES, layout="ntu25", pred_readout=readout, **TINY).eval()
    x = torch.randn(2, 3, T_OBS, 25, 2)
    with torch.no_grad():
        for p in m.predictor.out.parameters():
            p.zero_()
        m.predictor.out.tcn[1].running_mean.zero_()
        pred = m.forecast(x, steps=3)  # (N, C, T', V, M)
    last = x[:, :, -1]  # (N, C, V, M)
    if readout == "frame_major":
        want = last[:, :, None].expand(-1, -1, 3, -1, -1)
    else:
        h = 3
        want = torch.stack(
            [torch.stack([last[:, (c * h + t) % 3] for t in range(h)], 1) for c in range(3)], 1
        )
    torch.testing.assert_close(pred, want)


# ------------------------------------------------------------------------------- deployment ---
@pytest.mark.slow
def test_a_converted_model_exports_to_onnx_and_streams(sample_data, tmp_path):
    """A converted official model exports to ONNX (dynamic batch and length) and the exported file
    streams a real NTU sample with the PyTorch model's scores on every window."""
    import skelact
    from skelact.data.transforms import build_transforms
    from skelact.deploy.export import export_model, load_exported
    from skelact.deploy.sources import iter_jsonl, skeleton_to_jsonl
    from skelact.deploy.stream import StreamRecognizer

    _, _, model = _converted()
    sk = skelact.load(sample_data / "ntu_rgbd" / "S001C001P001R001A050.skeleton")  # 74 frames, 2 bodies
    data = np.ascontiguousarray(sk.data[:, :2, :, :3], dtype=np.float32)  # (T, M, V, C)
    example = torch.from_numpy(np.ascontiguousarray(data[:30].transpose(3, 0, 2, 1)))[None]
    path = tmp_path / "asgcn_official.onnx"
    result = export_model(model, path, example, "onnx")
    assert result.dynamic_batch and result.dynamic_time and result.max_abs_diff <= 1e-4, result.notes
    exported, meta = load_exported(path)
    assert meta["num_classes"] == CLASSES and meta["layout"] == "ntu25"

    window, stride = 20, 10
    transform = build_transforms([{"name": "PadTo", "frames": window + model.config.horizon}], layout="ntu25")
    live = tmp_path / "live.jsonl"
    with live.open("w") as f:
        skeleton_to_jsonl(data, f)
    preds = list(
        StreamRecognizer(exported, "ntu25", window, stride, transform).run(iter_jsonl(live, "ntu25"))
    )
    assert [p.frame for p in preds] == [9, 19, 29, 39, 49, 59, 69, 73]
    for p in preds:
        clip = data[max(0, p.frame - window + 1) : p.frame + 1].transpose(3, 0, 2, 1)
        x = torch.from_numpy(np.ascontiguousarray(transform(np.ascontiguousarray(clip)), dtype=np.float32))[
            None
        ]
        with torch.no_grad():
            want = torch.softmax(model(x)[0], 0).numpy()
        np.testing.assert_allclose(p.scores, want, rtol=1e-4, atol=1e-5)
