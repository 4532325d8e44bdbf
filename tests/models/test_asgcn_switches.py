"""Every AS-GCN switch that a silent change could disable is proven by its effect on the output:
the encoder's skip concatenation and its K iterations (eq. 2), the recognition head reading every
body, ``hard_links``, ``act_self_loops`` / ``act_scale``, ``aim_aggregation``, ``tau``, ``lambda_act``
and ``edge_importance`` reaching the blocks. Each test fails when its option is ignored."""

from __future__ import annotations

import pytest
import torch

from skelact.models import build

TINY = dict(channels=[8, 8], strides=[1, 1], aim_hidden=8, aim_frames=6, order=2, horizon=2,
            pred_collapse=[[8, 3, 2], [8, 3, 1]], pred_refine=[8], dropout=0.0)  # fmt: skip


def _model(**options):
    torch.manual_seed(0)
    return build("asgcn", num_classes=5, layout="ntu25", **{**TINY, **options}).eval()


def _x(bodies=2, frames=14):
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, frames, 25, bodies, generator=g)


def test_encoder_follows_eq_2_with_its_skip_concatenation_and_every_iteration():
    enc = _model(aim_iterations=2).aim.encoder
    senders = _model().aim.senders
    x = torch.randn(3, 25, 6 * 3)
    with torch.no_grad():
        q1 = enc.edge_mlps[0](enc.node_mlps[0](x), senders)
        p1 = torch.cat([q1.mean(dim=-2), x], dim=-1)  # p^(2) = F(Q^(1)) (+) p^(1)
        q2 = enc.edge_mlps[1](enc.node_mlps[1](p1), senders)
        torch.testing.assert_close(enc(x, senders), enc.out(q2))
        # the skip part of p^(2) matters: without it the logits differ
        no_skip = torch.cat([q1.mean(dim=-2), torch.zeros_like(x)], dim=-1)
        without_skip = enc.out(enc.edge_mlps[1](enc.node_mlps[1](no_skip), senders))
        assert not torch.allclose(without_skip, enc(x, senders))
        assert not torch.allclose(enc.out(q1), enc(x, senders))  # the first iteration alone differs


def test_recognition_reads_every_body():
    model, x = _model(), _x()
    with torch.no_grad():
        before = model(x)
        x2 = x.clone()
        x2[..., 1] += 1.0
        assert not torch.allclose(model(x2), before)


def test_hard_links_are_one_hot_and_soft_links_are_not():
    logits = torch.randn(2, 25, 24, 4)
    for hard in (True, False):
        aim = _model(hard_links=hard).aim
        links = aim.sample(logits)
        torch.testing.assert_close(links.sum(-1), torch.ones(2, 25, 24))
        one_hot = bool(((links == 0) | (links == 1)).all())
        assert one_hot is hard


def test_tau_sharpens_the_links():
    logits = torch.randn(2, 25, 24, 4)
    sharp, smooth = _model(tau=0.1).aim.sample(logits), _model(tau=2.0).aim.sample(logits)
    assert sharp.max(-1).values.mean() > smooth.max(-1).values.mean() + 0.1


def test_act_self_loops_and_act_scale_reach_the_agc_kernels():
    x = _x()
    with torch.no_grad():
        plain = _model()._actional(x)
        scaled = _model(act_scale=0.1)._actional(x)
        looped = _model(act_self_loops=True)._actional(x)
    torch.testing.assert_close(scaled, 0.1 * plain)
    assert (looped.diagonal(dim1=-2, dim2=-1) > 0).all() and (plain.diagonal(dim1=-2, dim2=-1) == 0).all()


def test_aim_aggregation_changes_the_decoder():
    mean, nri = _model(aim_aggregation="mean").aim, _model(aim_aggregation="nri").aim
    nri.load_state_dict(mean.state_dict())
    window = torch.randn(2, 6, 25, 3)
    links = torch.softmax(torch.randn(2, 25, 24, 3), -1)
    with torch.no_grad():
        a = mean.decoder(window, links, mean.senders)
        b = nri.decoder(window, links, nri.senders)
    assert not torch.allclose(a, b)


def test_lambda_act_reaches_every_block_and_the_output():
    low, high = _model(lambda_act=0.5), _model(lambda_act=2.0)
    assert {blk.gcn.lambda_act for blk in low.backbone} == {0.5}
    assert {blk.gcn.lambda_act for blk in high.backbone} == {2.0}
    high.load_state_dict(low.state_dict())
    x = _x()
    with torch.no_grad():
        assert not torch.allclose(low(x), high(x))


def test_edge_importance_reaches_every_block():
    on, off = _model(edge_importance=True), _model(edge_importance=False)
    assert all(getattr(blk.gcn, "importance", None) is not None for blk in on.backbone)
    assert all(getattr(blk.gcn, "importance", None) is None for blk in off.backbone)
    x = _x()
    with torch.no_grad():
        before = on(x)
        on.backbone[0].gcn.importance.mul_(2.0)
        assert not torch.allclose(on(x), before)


@pytest.mark.parametrize("option", ["encoder", "decoder", "aggregation"])
def test_aim_refuses_an_unknown_wiring(option):
    from skelact.models.asgcn.aim import AIM

    other = {"encoder": "nri", "decoder": "recurrent", "aggregation": "nri"}[option]  # the non-default
    AIM(num_joints=5, channels=3, **{option: other})
    allowed = {"encoder": "'eq2', 'nri'", "decoder": "'poses', 'recurrent'", "aggregation": "'mean', 'nri'"}
    with pytest.raises(ValueError, match=f"^AIM {option} must be one of {allowed[option]}, got 'recurent'$"):
        AIM(num_joints=5, channels=3, **{option: "recurent"})
