"""Every AS-GCN option not proven elsewhere is proven here by what it changes in the output, each
against the behaviour its docstring states (a hand computation where there is one).

Mutation check: each test was run against a scratch copy of ``src`` with the one-line mutation
below (``PYTHONPATH=<copy>/src``, ``skelact.__file__`` checked) and failed; the copy was discarded.

* links_s_and_as: ASGC.forward ``self.lambda_act * actional`` -> ``0.0 * actional``.
* links_a: resolve_config drops ``cfg.order = 1`` (links="a" keeps order 4).
* s_links: ASGCN.__init__ ``structural_kernels(..., cfg.order, cfg.s_links)`` -> ``(..., "powers")``.
* order: ASGCN.__init__ ``structural_kernels(..., cfg.order, cfg.s_links)`` -> ``(..., 1, cfg.s_links)``.
* bone_variant: ASGCN.__init__ ``structural_kernels(lay, cfg.bone_variant, ...)`` -> ``(lay, None, ...)``.
* num_link_types: AIM.actional ``links[..., int(self.ghost) :]`` -> ``links[..., : self.num_link_types]``.
* ghost_prior: link_prior ``[ghost_prior]`` -> ``[0.95]``.
* refine_links: ASGCN._actional ``is_grad_enabled() and cfg.refine_links`` -> ``is_grad_enabled()``.
* aim_hidden: ASGCN.__init__ ``hidden=cfg.aim_hidden`` -> ``hidden=8``.
* aim_frames: ASGCN.__init__ ``frames=cfg.aim_frames`` -> ``frames=8``.
* aim_dropout: ASGCN.__init__ ``dropout=cfg.aim_dropout`` -> ``dropout=0.0``.
* aim_variance: ASGCN.__init__ ``variance=cfg.aim_variance`` -> ``variance=5e-4``.
* channels / strides: ASGCN.__init__ ``block(prev, channels, ..., stride=stride, ...)`` -> ``stride=1``.
* temporal_kernel: ASGCN.__init__ ``kernel=cfg.temporal_kernel`` -> ``kernel=3``.
* dropout: ASGCN.__init__ ``dropout=cfg.dropout`` -> ``dropout=0.0``.
* data_bn / num_bodies: ASGCN._embed ``x.permute(0, 4, 3, 1, 2)`` -> ``x.permute(0, 3, 4, 1, 2)``.
* init: ASGCN._official_init conv/linear ``nn.init.normal_(mod.weight, 0.0, 0.02)`` ->
  ``nn.init.uniform_(mod.weight, -0.0346, 0.0346)`` (the same std, another distribution); and, separately,
  ``if mod in aim: continue`` dropped (the AIM re-initialised).
* horizon: ASGCN.observed ``return x[:, :, :-horizon]`` -> ``return x[:, :, :-2]``.
* pred_weight: ASGCN.losses ``self.config.pred_weight * pred`` -> ``0.01 * pred``.
* pred_bodies: ASGCN._pred_bodies ``mask[:, 0] = True`` -> ``mask[:, :] = True``.
* pred_collapse / pred_refine: PredictionHead collapse ``stride=stride`` -> ``stride=1``.
* gcn_bias: ASGC.forward ``y + matmul(kernels.sum(-1).transpose(-1, -2), self.bias)...`` ->
  ``y + self.bias.sum(0)`` (the bias not weighted by the row sums).
* aim_encoder: AIMEncoder.forward (nri) ``p = q.sum(dim=-2) / q.shape[-3]`` -> ``p = q.mean(dim=-2)``.
* aim_decoder: RecurrentDecoder.forward ``s = (1 - z) * n + z * s`` -> ``s = (1 - z) * n``.
* pred_readout: PredictionHead.forward ``last_pose.repeat(1, self.horizon, 1, 1)`` ->
  ``last_pose.repeat_interleave(self.horizon, dim=1)``.
* ignored options warn: config.AIM_OPTIONS without ``"aim_variance"``.
* coverage registry: (not a mutation test) fails when an ASGCNConfig field is added without a test.
"""

from __future__ import annotations

import dataclasses
import pathlib
import warnings

import pytest
import torch
import torch.nn as nn

from skelact.models import build
from skelact.models.asgcn import ASGC, ASGCNConfig, actional_kernels
from skelact.models.asgcn.aim import to_dense
from skelact.models.asgcn.config import AIM_OPTIONS, PREDICTION_OPTIONS, IgnoredOptionWarning, resolve_config
from skelact.models.graph import spatial_kernels, structural_kernels

LAYOUT, V = "florence8", 8  # the smallest layout: 8 joints
TINY = dict(
    channels=(4,),
    strides=(1,),
    aim_hidden=4,
    aim_frames=4,
    order=2,
    horizon=2,
    pred_collapse=((4, 3, 1),),
    pred_refine=(),
    temporal_kernel=3,
    dropout=0.0,
)


def _model(layout=LAYOUT, seed=0, **options):
    """A tiny model; TINY's options of a module that ``options`` turn off are left out (they would warn)."""
    base = dict(TINY)
    if options.get("links") == "s":
        base = {k: v for k, v in base.items() if k not in AIM_OPTIONS}
    if options.get("pred") is False:
        base = {k: v for k, v in base.items() if k not in PREDICTION_OPTIONS}
    torch.manual_seed(seed)
    return build("asgcn", num_classes=3, layout=layout, **{**base, **options})


def _x(t=8, v=V, m=2, n=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, v, m, generator=g)


def _asgcs(model):
    return [mod for mod in model.modules() if isinstance(mod, ASGC)]


# ------------------------------------------------------------------------------------ links ---
def test_links_s_is_the_sgc_alone_and_links_as_adds_the_agc():
    """``links="s"``: no AIM, SGC only; ``"as"``: the same SGC plus ``lambda`` AGC. With the AGC
    weights zeroed, an "as" model carrying the "s" model's weights gives its output exactly."""
    s = _model(links="s", pred=False).eval()
    a_s = _model(links="as", pred=False).eval()
    assert s.aim is None and {g.num_actional for g in _asgcs(s)} == {0}
    assert a_s.aim is not None and {g.num_actional for g in _asgcs(a_s)} == {3}
    ks = s.backbone[0].gcn.num_structural
    target = a_s.state_dict()
    with torch.no_grad():
        for name, value in s.state_dict().items():
            if name.endswith("gcn.weight"):
                target[name][:ks] = value
                target[name][ks:] = 0.0
            else:
                target[name].copy_(value)
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(a_s(x), s(x))
        a_s.backbone[0].gcn.weight[ks:].normal_()  # the AGC term back on
        assert not torch.allclose(a_s(x), s(x), atol=1e-4)


def test_links_a_uses_the_skeleton_graph_and_the_a_links():
    """``links="a"``: order forced to 1 (the 3 partition kernels of the skeleton) plus C A-links."""
    opts = {k: v for k, v in TINY.items() if k != "order"}
    torch.manual_seed(0)
    m = build("asgcn", num_classes=3, layout=LAYOUT, links="a", **opts)
    assert m.hparams["order"] == 1
    want = torch.from_numpy(spatial_kernels(LAYOUT, max_hop=1, normalize="partition"))
    for gcn in _asgcs(m):
        assert torch.equal(gcn.structural, want) and gcn.num_actional == 3


# ------------------------------------------------------------------------------- S-links ---
@pytest.mark.parametrize("order", [1, 3])
def test_s_links_powers_are_the_partition_powers_up_to_order(order):
    m = _model(links="s", order=order)
    base = torch.from_numpy(spatial_kernels(LAYOUT, max_hop=1, normalize="partition")).double()
    want = torch.stack(
        [torch.linalg.matrix_power(base[p], l) for l in range(1, order + 1) for p in range(3)]
    ).float()  # order-major: (l=1: root, centripetal, centrifugal), (l=2: ...)
    for gcn in _asgcs(m):  # backbone and prediction head share the kernels
        assert gcn.structural.shape == (3 * order, V, V)
        torch.testing.assert_close(gcn.structural, want)


def test_s_links_hops_are_the_official_hop_partition():
    m = _model(links="s", s_links="hops", order=2)
    want = torch.from_numpy(
        spatial_kernels(LAYOUT, max_hop=2, normalize="graph", truncate_centre_distance=True)
    )
    for gcn in _asgcs(m):
        assert gcn.structural.shape == (1 + 2 * 2, V, V)  # 1 + 2 L kernels, not 3 L
        torch.testing.assert_close(gcn.structural, want)
        torch.testing.assert_close(gcn.structural.sum(dim=(0, 2)), torch.ones(V))  # whole-graph rows
    powers = _model(links="s", s_links="powers", order=2).backbone[0].gcn.structural
    assert powers.shape[0] == 6


def test_bone_variant_changes_the_kernels_at_the_hand_joints_only():
    hand = {7, 11, 21, 22, 23, 24}  # NTU hands, tips, thumbs (0-based)
    default = _model("ntu25", links="s", order=1, pred=False).backbone[0].gcn.structural
    pyskl = _model("ntu25", links="s", order=1, pred=False, bone_variant="pyskl").backbone[0].gcn.structural
    torch.testing.assert_close(pyskl, torch.from_numpy(structural_kernels("ntu25", "pyskl", 1)))
    changed = (pyskl != default).any(dim=0).nonzero().tolist()
    assert changed and all(i in hand and j in hand for i, j in changed)


def test_gcn_bias_adds_each_kernels_bias_weighted_by_its_row_sums():
    """``gcn_bias``: ``sum_k K_k (X W_k + 1 b_k^T)`` = the linear ASGC plus ``sum_k (K_k 1) b_k^T``
    (lambda-scaled A-link kernels included): ASGC becomes affine."""
    on, off = _model(gcn_bias=True), _model(gcn_bias=False)
    assert all(g.bias is not None and g.bias.shape == (g.weight.shape[0], g.out_channels) for g in _asgcs(on))
    assert all(g.bias is None for g in _asgcs(off))
    gcn = on.backbone[0].gcn
    x = torch.randn(2, 3, 5, V).contiguous(memory_format=torch.channels_last)
    act = actional_kernels(torch.rand(2, 3, V, V) * (1 - torch.eye(V)))
    with torch.no_grad():
        got = gcn(x, act)
        bias = gcn.bias.clone()
        gcn.bias.zero_()
        linear = gcn(x, act)
        gcn.bias.copy_(bias)
        kernels = torch.cat([gcn.structural_kernels().expand(2, -1, -1, -1), gcn.lambda_act * act], dim=1)
        offset = torch.einsum("bkij,kd->bdi", kernels, bias)[:, :, None]  # (B, d_out, 1, V)
        torch.testing.assert_close(got, linear + offset)
        torch.testing.assert_close(gcn(torch.zeros_like(x), act), offset.expand_as(got))
    assert float(offset.abs().max()) > 0.01


# ------------------------------------------------------------------------------- A-links ---
@pytest.mark.parametrize("num_types", [1, 4])
def test_num_link_types_gives_one_agc_kernel_per_non_ghost_type(num_types):
    """The AGC kernels are eq. 4 on the C A-link types, the ghost type (first) dropped."""
    m = _model(C=num_types, pred=False).eval()
    x = _x()
    assert m.aim.encoder.out.out_features == num_types + 1
    assert all(
        g.num_actional == num_types and g.weight.shape[0] == g.num_structural + num_types for g in _asgcs(m)
    )
    with torch.no_grad():
        got = m._actional(x)
        probs = torch.softmax(m.aim.logits(m.aim.window(x)) / m.config.tau, dim=-1)  # eval: no noise
        want = actional_kernels(to_dense(probs[..., 1:], m.aim.senders))
    assert got.shape == (2 * 2, num_types, V, V)
    torch.testing.assert_close(got, want)


def test_ghost_prior_sets_the_kl_prior_and_zero_removes_the_ghost_type():
    x = _x()
    out = {}
    for p0 in (0.95, 0.5):
        m = _model(P0=p0, C=2, pred=False).eval()
        with torch.no_grad():
            out[p0] = m.aim_losses(x)
            q = torch.softmax(m.aim.logits(m.aim.window(x)), dim=-1)  # (B, V, V-1, 3)
        prior = torch.tensor([p0, (1 - p0) / 2, (1 - p0) / 2])
        kl = (q * (torch.log(q + 1e-16) - prior.log())).sum() / (q.shape[0] * V)
        torch.testing.assert_close(out[p0]["kl"], kl)
    torch.testing.assert_close(out[0.95]["nll"], out[0.5]["nll"])  # P0 is only the prior
    assert abs(float(out[0.95]["kl"] - out[0.5]["kl"])) > 1e-3
    none = _model(P0=0.0, C=2, pred=False).eval()
    assert none.aim.encoder.out.out_features == 2
    torch.testing.assert_close(none.aim.log_prior.exp(), torch.tensor([0.5, 0.5]))
    with torch.no_grad():
        links = none.aim.actional(none.aim.sample(none.aim.logits(none.aim.window(x))))
    torch.testing.assert_close(links.sum(1), (1 - torch.eye(V)).expand(4, V, V))  # all mass is A-links


def test_refine_links_only_stops_the_gradient_into_the_encoder():
    x, y = _x(), torch.tensor([0, 2])
    runs = {}
    for refine in (True, False):
        m = _model(refine_links=refine, pred=False).train()
        torch.manual_seed(5)  # the same Gumbel noise and window offset
        loss = m.losses(x, y)["loss"]
        loss.backward()
        groups = m.parameter_groups()
        runs[refine] = (
            loss.detach(),
            [p.grad for p in groups["backbone"]],
            [p.grad for p in groups["aim_encoder"]],
        )
    torch.testing.assert_close(runs[True][0], runs[False][0])  # the same forward pass
    for a, b in zip(runs[True][1], runs[False][1], strict=True):
        torch.testing.assert_close(a, b)  # the same backbone gradients
    assert sum(float(g.abs().sum()) for g in runs[True][2]) > 0
    assert all(g is None for g in runs[False][2])


def test_aim_hidden_sets_the_aim_widths():
    for hidden in (4, 6):
        aim = _model(aim_hidden=hidden, aim_iterations=2).aim
        assert [mlp[0].out_features for mlp in aim.encoder.node_mlps] == [hidden, hidden]
        assert [mlp.receiver.out_features for mlp in aim.encoder.edge_mlps] == [hidden, hidden]
        assert aim.encoder.node_mlps[1][0].in_features == hidden + 4 * 3  # F(Q) (+) p^(0)
        assert aim.encoder.out.in_features == hidden and aim.decoder.gru.hidden_size == hidden


def test_aim_frames_is_the_window_the_links_are_inferred_from():
    """Eval mode samples frames ``floor(j T / F)``: with F = 4 of T = 8 frames 0, 2, 4, 6 only."""
    x = _x(t=8)
    x_odd, x_even = x.clone(), x.clone()
    x_odd[:, :, 1] += 1.0
    x_even[:, :, 2] += 1.0
    four = _model(aim_frames=4, pred=False).eval()
    eight = _model(aim_frames=8, pred=False).eval()
    assert four.aim.encoder.node_mlps[0][0].in_features == 4 * 3
    assert eight.aim.encoder.node_mlps[0][0].in_features == 8 * 3
    with torch.no_grad():
        torch.testing.assert_close(four._actional(x_odd), four._actional(x))  # frame 1 not sampled
        assert not torch.allclose(four._actional(x_even), four._actional(x))
        assert not torch.allclose(eight._actional(x_odd), eight._actional(x))  # every frame sampled


def test_aim_dropout_randomises_the_training_links_only():
    window = torch.randn(4, 4, V, 3)
    for p, random in ((0.0, False), (0.5, True)):
        aim = _model(aim_dropout=p).aim
        assert {mod.p for mod in aim.modules() if isinstance(mod, nn.Dropout)} == {p}
        aim.train()
        with torch.no_grad():
            assert (not torch.allclose(aim.logits(window), aim.logits(window))) is random
            aim.eval()
            torch.testing.assert_close(aim.logits(window), aim.logits(window))


def test_aim_variance_scales_the_nll_exactly():
    x = _x()
    out = {}
    for var in (1e-3, 4e-3):
        m = _model(aim_variance=var, pred=False).eval()
        with torch.no_grad():
            out[var] = m.aim_losses(x)
            window = m.aim.window(x)
            links = m.aim.sample(m.aim.logits(window))
            mu = m.aim.decoder(window, links[..., 1:], m.aim.senders)
        want = (window[:, 1:] - mu).square().sum() / (2 * var) / (window.shape[0] * V)
        torch.testing.assert_close(out[var]["nll"], want)
    torch.testing.assert_close(out[1e-3]["nll"], 4 * out[4e-3]["nll"])
    torch.testing.assert_close(out[1e-3]["kl"], out[4e-3]["kl"])


def test_aim_encoder_nri_updates_joints_by_their_link_sum_over_v_and_feeds_the_links_forward():
    """``aim_encoder="nri"``: ``p^(k+1) = sum_j Q_ij^(k+1) / V`` (no concatenation with ``p^(k)``);
    from the second iteration on ``Q^(k+1) = f_e(f_v(p_i) (+) f_v(p_j) (+) Q^(k)_ij)``."""
    enc = _model(aim_encoder="nri", aim_iterations=2).aim.encoder.eval()
    eq2 = _model(aim_encoder="eq2", aim_iterations=2).aim.encoder
    assert enc.node_mlps[1][0].in_features == 4 and eq2.node_mlps[1][0].in_features == 4 + 4 * 3
    senders = _model().aim.senders
    x = torch.randn(3, V, 4 * 3)
    with torch.no_grad():
        q1 = enc.edge_mlps[0](enc.node_mlps[0](x), senders)  # (B, V, V-1, H)
        p1 = q1.sum(dim=-2) / V
        h = enc.node_mlps[1](p1)
        f_e = enc.edge_mlps[1]
        w = torch.cat([f_e.receiver.weight, f_e.sender.weight, f_e.skip.weight], dim=1)  # one Linear
        pairs = torch.cat([h[:, :, None].expand(-1, -1, V - 1, -1), h[:, senders], q1], dim=-1)
        q2 = f_e.rest(pairs @ w.T + f_e.receiver.bias)
        torch.testing.assert_close(enc(x, senders), enc.out(q2))


def _recurrent_decoder_reference(dec, x, links, senders):
    """The recurrent decoder's docstring, one frame, receiver, sender and link type at a time."""
    b, f, v, _ = x.shape
    hidden, types = dec.hidden, links.shape[-1]
    s, mus = x.new_zeros(b, v, hidden), []
    for t in range(f - 1):
        m = x.new_zeros(b, v, hidden)
        for i in range(v):
            for k, j in enumerate(senders[i].tolist()):
                for c in range(types):
                    pre = (
                        s[:, i] @ dec.pair_receiver.weight[c]
                        + dec.pair_receiver.bias[c]
                        + s[:, j] @ dec.pair_sender.weight[c]
                    )
                    msg = torch.tanh(torch.tanh(pre) @ dec.pair_out.weight[c] + dec.pair_out.bias[c])
                    m[:, i] += links[:, i, k, c, None] * msg  # (a)
        m = m / (v - 1)  # (b), aggregation "mean"
        gx, gm = dec.gates_input(x[:, t]), dec.gates_message(m)
        r = torch.sigmoid(gx[..., :hidden] + gm[..., :hidden])
        z = torch.sigmoid(gx[..., hidden : 2 * hidden] + gm[..., hidden : 2 * hidden])
        n = torch.tanh(gx[..., 2 * hidden :] + r * gm[..., 2 * hidden :])
        s = (1 - z) * n + z * s  # (c)
        mus.append(x[:, t] + dec.f_out(s))  # (d)
    return torch.stack(mus, dim=1)


def test_aim_decoder_recurrent_passes_messages_from_the_state_frame_by_frame():
    m = _model(aim_decoder="recurrent", pred=False).eval()
    x = _x()
    with torch.no_grad():
        window = m.aim.window(x)
        links = m.aim.sample(m.aim.logits(window))
        mu = _recurrent_decoder_reference(m.aim.decoder, window, links[..., 1:], m.aim.senders)
        want = (window[:, 1:] - mu).square().sum() / (2 * m.config.aim_variance) / (window.shape[0] * V)
        torch.testing.assert_close(m.aim_losses(x)["nll"], want)
        poses = _model(aim_decoder="poses", pred=False).eval()
        assert not torch.allclose(poses.aim_losses(x)["nll"], want)


# ------------------------------------------------------------------------------ backbone ---
def test_strides_subsample_the_block_output_and_channels_set_the_widths():
    x = _x(t=9)
    one = _model(links="s", pred=False, strides=(1,)).eval()
    two = _model(links="s", pred=False, strides=(2,)).eval()  # block 0: no residual, same weights
    with torch.no_grad():
        h1, _ = one.features(x)
        h2, _ = two.features(x)
    assert h1.shape == (4, 4, 9, V) and h2.shape == (4, 4, 5, V)
    torch.testing.assert_close(h2, h1[:, :, ::2])  # a stride-2 T-CN is the stride-1 one, every 2nd frame
    deep = _model(links="s", pred=False, channels=(4, 6), strides=(1, 2)).eval()
    assert [b.gcn.out_channels for b in deep.backbone] == [4, 6] and deep.fc.in_features == 6
    with torch.no_grad():
        assert deep.features(x)[0].shape == (4, 6, 5, V)


@pytest.mark.parametrize("kernel", [3, 5])
def test_temporal_kernel_spreads_an_impulse_over_exactly_k_frames(kernel):
    m = _model(links="s", pred=False, channels=(8,), temporal_kernel=kernel).eval()
    assert m.backbone[0].tcn[0].kernel_size == (kernel, 1)
    zero = torch.zeros(2, 3, 12, V, 2)
    impulse = zero.clone()
    impulse[:, :, 5] = _x(t=1)[:, :, 0]
    with torch.no_grad():
        diff = (m.features(impulse)[0] - m.features(zero)[0]).abs().amax(dim=(0, 1, 3))  # (T,)
    half = (kernel - 1) // 2
    assert (diff > 0).nonzero().flatten().tolist() == list(range(5 - half, 5 + half + 1))


def test_dropout_randomises_training_outputs_only():
    x = _x()
    for p, random in ((0.0, False), (0.5, True)):
        m = _model(links="s", pred=False, dropout=p)
        assert {blk.dropout.p for blk in m.backbone} == {p}
        m.train()
        with torch.no_grad():
            assert (not torch.allclose(m(x), m(x))) is random
            m.eval()
            torch.testing.assert_close(m(x), m(x))


def test_data_bn_normalises_over_the_stated_axes():
    """Running stats after one training batch (momentum 0.1): "mvc" one per (body, joint, coordinate)
    over samples and frames, "vc" one per (joint, coordinate) over samples, bodies and frames."""
    x = _x(t=6, m=3)
    x[..., 1] += 3.0  # bodies with different offsets
    cols = x.permute(0, 4, 3, 1, 2)  # (N, M, V, C, T): feature order m, v, c
    for mode, axes in (("mvc", (0, 4)), ("vc", (0, 1, 4))):
        bodies = {"num_bodies": 3} if mode == "mvc" else {}  # "vc" does not need (and warns about) it
        m = _model(links="s", pred=False, data_bn=mode, **bodies).train()
        with torch.no_grad():
            h = m._embed(x)  # (N M, C, T, V)
        bn = m.data_bn
        mean = cols.mean(dim=axes).reshape(-1)
        var = cols.var(dim=axes).reshape(-1)
        assert bn.running_mean.shape == ((3 if mode == "mvc" else 1) * V * 3,)
        torch.testing.assert_close(bn.running_mean, 0.1 * mean)
        torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * var)
        per_body = h.view(2, 3, 3, 6, V).mean(dim=(0, 3))  # (M, C, V)
        pooled = h.view(2, 3, 3, 6, V).mean(dim=(0, 1, 3))  # (C, V)
        torch.testing.assert_close(pooled, torch.zeros(3, V), atol=1e-5, rtol=0)
        assert bool(per_body.abs().max() < 1e-5) is (mode == "mvc")
    none = _model(links="s", pred=False, data_bn="none")
    assert isinstance(none.data_bn, nn.Identity)
    torch.testing.assert_close(none._embed(x), x.permute(0, 4, 1, 2, 3).reshape(6, 3, 6, V))


def test_init_official_draws_n_0_002_weights_and_n_1_002_bn_scales_outside_the_aim():
    opts = dict(channels=(16, 16), strides=(1, 1), pred_collapse=((16, 3, 1),), pred_refine=(8,))
    off, default = _model(init="official", **opts), _model(**opts)
    aim = set(off.aim.modules())
    mods = [mod for mod in off.modules() if mod not in aim]
    for kinds in ((nn.Conv2d, nn.Linear), (ASGC,)):  # each kind of weight on its own
        w = torch.cat([mod.weight.detach().flatten() for mod in mods if isinstance(mod, kinds)])
        assert w.numel() > 2000
        assert abs(float(w.mean())) < 0.002 and 0.019 < float(w.std()) < 0.021
        inside = float((w.abs() < 0.04).float().mean())  # a normal: 95.4 % within 2 sigma; a uniform: 100 %
        assert 0.94 < inside < 0.97, kinds
    bns = [mod for mod in mods if isinstance(mod, nn.modules.batchnorm._BatchNorm)]
    scales = torch.cat([bn.weight.detach() for bn in bns])
    assert abs(float(scales.mean()) - 1) < 0.01 and 0.01 < float(scales.std()) < 0.03
    biases = [
        mod.bias for mod in mods if isinstance(mod, (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d))
    ]
    assert all(float(b.detach().abs().max()) == 0 for b in biases if b is not None)
    # the default initialisation is another one; the AIM is left as it is (official model1 only)
    assert all(bool((bn.weight == 1).all()) for bn in default.modules() if isinstance(bn, nn.BatchNorm2d))
    assert float(default.backbone[1].gcn.weight.detach().std()) > 0.1
    for (name, a), b in zip(off.aim.state_dict().items(), default.aim.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


# ------------------------------------------------------------------------ prediction head ---
def test_horizon_is_the_number_of_target_frames_cut_and_forecast():
    x = _x(t=10)
    x7, x6 = x.clone(), x.clone()
    x7[:, :, 7] += 1.0
    x6[:, :, 6] += 1.0
    two, three = _model(horizon=2).eval(), _model(horizon=3).eval()
    with torch.no_grad():
        assert not torch.allclose(two(x7), two(x))  # frame 7 observed with 2 target frames
        torch.testing.assert_close(three(x7), three(x))  # ... a target frame with 3
        assert not torch.allclose(three(x6), three(x))
        for m, h in ((two, 2), (three, 3)):
            assert m.predictor.out.gcn.out_channels == h * 3 and m.input_frames(8) == 8 + h
            h_obs, act = m.features(m.observed(x))
            assert m._predict(h_obs, m.observed(x), act).shape == (2, 3, h, V, 2)


def test_pred_weight_scales_the_prediction_term_exactly():
    x, y = _x(t=10), torch.tensor([1, 2])
    out = {}
    for w in (0.0, 0.25, 2.0):
        m = _model(pred_weight=w).eval()
        with torch.no_grad():
            out[w] = m.losses(x, y)
        torch.testing.assert_close(out[w]["loss"], out[w]["ce"] + w * out[w]["pred"])
    torch.testing.assert_close(out[0.0]["loss"], out[0.0]["ce"])
    torch.testing.assert_close(out[2.0]["pred"], out[0.25]["pred"])
    torch.testing.assert_close(out[2.0]["loss"] - out[0.25]["loss"], 1.75 * out[0.25]["pred"])


def test_pred_bodies_first_counts_body_0_only_and_present_counts_every_body():
    x, y = _x(t=10), torch.tensor([1, 2])
    z = x.clone()
    z[:, :, 8:, :, 1] += 1.0  # only body 1's target moves
    for bodies in ("first", "present"):
        m = _model(pred_bodies=bodies).eval()
        with torch.no_grad():
            x_obs = m.observed(x)
            h, act = m.features(x_obs)
            sq = (m._predict(h, x_obs, act) - x[:, :, 8:]).square()  # (N, C, T', V, M)
            pred, moved = m.losses(x, y)["pred"], m.losses(z, y)["pred"]
        if bodies == "first":
            torch.testing.assert_close(pred, sq[..., 0].mean())
            torch.testing.assert_close(moved, pred)
        else:  # both bodies present in every frame
            torch.testing.assert_close(pred, sq.mean())
            assert float(moved) > float(pred) + 0.1


def test_pred_collapse_and_pred_refine_build_the_head_blocks():
    m = _model(pred_collapse=((4, 3, 2), (6, 5, 1)), pred_refine=(5, 7)).eval()
    head = m.predictor
    assert [(b.gcn.out_channels, b.tcn[0].kernel_size[0], b.tcn[0].stride[0]) for b in head.collapse] == [
        (4, 3, 2),
        (6, 5, 1),
    ]
    assert [b.collapse for b in head.collapse] == [False, True]
    # each refine block and the output block read the previous features with the last pose appended
    assert [(b.gcn.in_channels, b.gcn.out_channels) for b in (*head.refine, head.out)] == [
        (6 + 3, 5),
        (5 + 3, 7),
        (7 + 3, 2 * 3),
    ]
    for t in (7, 12):  # the last collapse block maps any length to one frame
        h = torch.randn(4, 4, t, V).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            frames = []
            for blk in head.collapse:
                h = blk(h, torch.zeros(4, 3, V, V))
                frames.append(h.shape[2])
        assert frames == [(t + 1) // 2, 1]


def test_pred_readout_official_reads_channel_major_and_tiles_the_last_pose_frame_major():
    """The output block's channel ``j`` (of ``T' C``): ``"frame_major"`` puts it at frame ``j // C``,
    coordinate ``j % C``, plus that coordinate of the last pose; ``"official"`` at coordinate
    ``j // T'``, frame ``j % T'``, plus coordinate ``j % C`` of the last pose."""
    x = _x(t=10)  # horizon 2: 8 observed frames, T' = 2
    out = {}
    for readout in ("frame_major", "official"):
        m = _model(pred_readout=readout).eval()
        with torch.no_grad():
            bn = m.predictor.out.tcn[1]  # the output block's last BN: scale 0, bias = 10 j on channel j
            bn.weight.zero_()
            bn.bias.copy_(10 * torch.arange(6.0))
            x_obs = m.observed(x)
            h, act = m.features(x_obs)
            out[readout] = m._predict(h, x_obs, act)  # (N, C, T', V, M)
    last = x[:, :, 7]  # (N, C, V, M)
    for c in range(3):
        for t in range(2):
            torch.testing.assert_close(out["frame_major"][:, c, t], last[:, c] + 10 * (t * 3 + c))
            j = c * 2 + t
            torch.testing.assert_close(out["official"][:, c, t], last[:, j % 3] + 10 * j)


# ------------------------------------------------------------------- ignored options warn ---
NON_DEFAULT = {
    "num_link_types": 2,
    "ghost_prior": 0.5,
    "lambda_act": 0.25,
    "tau": 0.2,
    "hard_links": True,
    "act_self_loops": True,
    "act_scale": 0.1,
    "refine_links": False,
    "aim_hidden": 16,
    "aim_iterations": 3,
    "aim_frames": 10,
    "aim_dropout": 0.1,
    "aim_variance": 1e-3,
    "aim_aggregation": "nri",
    "aim_encoder": "nri",
    "aim_decoder": "recurrent",
    "horizon": 4,
    "pred_weight": 0.5,
    "pred_zero_init": True,
    "pred_bodies": "first",
    "pred_readout": "official",
    "pred_collapse": ((8, 3, 1),),
    "pred_refine": (8,),
}


def test_the_ignored_option_lists_are_the_aim_and_prediction_options():
    fields = {f.name for f in dataclasses.fields(ASGCNConfig)}
    assert {k for k in NON_DEFAULT if k in fields} == set(AIM_OPTIONS) | set(PREDICTION_OPTIONS)


@pytest.mark.parametrize("key", sorted(NON_DEFAULT))
def test_every_aim_and_prediction_option_warns_when_its_module_is_off(key):
    off = {"links": "s"} if key in AIM_OPTIONS else {"prediction_head": False}
    with pytest.warns(IgnoredOptionWarning, match=f"'{key}' is ignored"):
        resolve_config(**off, **{key: NON_DEFAULT[key]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredOptionWarning)
        resolve_config(**{key: NON_DEFAULT[key]})  # used with both modules on: no warning


# ---------------------------------------------------------------------- coverage registry ---
#: Options proven by an effect test elsewhere: (file, test) that does it.
COVERED_ELSEWHERE = {
    "preset": ("test_asgcn_model.py", "test_presets_and_aliases"),
    "prediction_head": ("test_asgcn_model.py", "test_recognition_ignores_the_prediction_target_frames"),
    "pred_zero_init": ("test_asgcn_model.py", "test_pred_zero_init_starts_the_head_at_zero_velocity"),
    "edge_importance": ("test_asgcn_switches.py", "test_edge_importance_reaches_every_block"),
    "lambda_act": ("test_asgcn_switches.py", "test_lambda_act_reaches_every_block_and_the_output"),
    "tau": ("test_asgcn_switches.py", "test_tau_sharpens_the_links"),
    "hard_links": ("test_asgcn_switches.py", "test_hard_links_are_one_hot_and_soft_links_are_not"),
    "act_self_loops": ("test_asgcn_switches.py", "test_act_self_loops_and_act_scale_reach_the_agc_kernels"),
    "act_scale": ("test_asgcn_switches.py", "test_act_self_loops_and_act_scale_reach_the_agc_kernels"),
    "aim_iterations": (
        "test_asgcn_switches.py",
        "test_encoder_follows_eq_2_with_its_skip_concatenation_and_every_iteration",
    ),
    "aim_aggregation": ("test_asgcn_switches.py", "test_aim_aggregation_changes_the_decoder"),
}
COVERED_HERE = {
    "links": "test_links_s_is_the_sgc_alone_and_links_as_adds_the_agc",
    "s_links": "test_s_links_hops_are_the_official_hop_partition",
    "order": "test_s_links_powers_are_the_partition_powers_up_to_order",
    "bone_variant": "test_bone_variant_changes_the_kernels_at_the_hand_joints_only",
    "gcn_bias": "test_gcn_bias_adds_each_kernels_bias_weighted_by_its_row_sums",
    "num_link_types": "test_num_link_types_gives_one_agc_kernel_per_non_ghost_type",
    "ghost_prior": "test_ghost_prior_sets_the_kl_prior_and_zero_removes_the_ghost_type",
    "refine_links": "test_refine_links_only_stops_the_gradient_into_the_encoder",
    "aim_hidden": "test_aim_hidden_sets_the_aim_widths",
    "aim_frames": "test_aim_frames_is_the_window_the_links_are_inferred_from",
    "aim_dropout": "test_aim_dropout_randomises_the_training_links_only",
    "aim_variance": "test_aim_variance_scales_the_nll_exactly",
    "aim_encoder": "test_aim_encoder_nri_updates_joints_by_their_link_sum_over_v_and_feeds_the_links_forward",
    "aim_decoder": "test_aim_decoder_recurrent_passes_messages_from_the_state_frame_by_frame",
    "channels": "test_strides_subsample_the_block_output_and_channels_set_the_widths",
    "strides": "test_strides_subsample_the_block_output_and_channels_set_the_widths",
    "temporal_kernel": "test_temporal_kernel_spreads_an_impulse_over_exactly_k_frames",
    "dropout": "test_dropout_randomises_training_outputs_only",
    "data_bn": "test_data_bn_normalises_over_the_stated_axes",
    "num_bodies": "test_data_bn_normalises_over_the_stated_axes",
    "init": "test_init_official_draws_n_0_002_weights_and_n_1_002_bn_scales_outside_the_aim",
    "horizon": "test_horizon_is_the_number_of_target_frames_cut_and_forecast",
    "pred_weight": "test_pred_weight_scales_the_prediction_term_exactly",
    "pred_bodies": "test_pred_bodies_first_counts_body_0_only_and_present_counts_every_body",
    "pred_readout": "test_pred_readout_official_reads_channel_major_and_tiles_the_last_pose_frame_major",
    "pred_collapse": "test_pred_collapse_and_pred_refine_build_the_head_blocks",
    "pred_refine": "test_pred_collapse_and_pred_refine_build_the_head_blocks",
}


def test_every_asgcn_option_has_an_effect_test():
    fields = {f.name for f in dataclasses.fields(ASGCNConfig)}
    missing = fields - set(COVERED_HERE) - set(COVERED_ELSEWHERE)
    assert not missing, f"AS-GCN options without an effect test: {sorted(missing)}"
    assert not set(COVERED_HERE) & set(COVERED_ELSEWHERE)
    here = pathlib.Path(__file__).parent
    for name in COVERED_HERE.values():
        assert callable(globals().get(name)), name
    for file, test in COVERED_ELSEWHERE.values():
        assert f"def {test}(" in (here / file).read_text(), (file, test)
