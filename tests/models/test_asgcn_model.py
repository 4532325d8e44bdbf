"""AS-GCN model: the engine contract, presets and options, every ablation switch, heads, parameters."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from tiny_asgcn import TINY

from skelact.errors import ConfigError
from skelact.models import build, list_models
from skelact.models.asgcn import ASGCN, ASGCNConfig, resolve_config

LAYOUTS = {"ntu25": 25, "openpose18": 18}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"


def _x(n=2, t=12, v=25, m=2, c=3):
    torch.manual_seed(0)
    x = torch.randn(n, c, t, v, m)
    x[0, ..., 1] = 0  # a one-body sample: body 1 absent
    return x


def _grads_ok(params):
    return all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


# --------------------------------------------------------------------------------- contract ---
@pytest.mark.slow
def test_registered_full_size_model_hooks():
    assert "asgcn" in list_models()
    m = build("asgcn", num_classes=60, layout="ntu25")
    assert isinstance(m, ASGCN) and m.hparams["num_classes"] == 60 and m.hparams["order"] == 4
    x = torch.randn(2, 3, 24, 25, 2)
    assert m(x).shape == (2, 60)
    assert m.infer_links(x).shape == (2, 4, 25, 25)  # C + 1 = 4, ghost first
    assert m.forecast(x, steps=10).shape == (2, 3, 10, 25, 2)
    assert m.input_frames(300) == 310
    out = m.losses(x, torch.tensor([3, 7]))
    assert set(out) == {"loss", "ce", "pred"} and all(v.dim() == 0 for v in out.values())
    torch.testing.assert_close(out["loss"], out["ce"] + 0.01 * out["pred"])
    aim = m.aim_losses(x)
    assert set(aim) == {"loss", "nll", "kl"}
    torch.testing.assert_close(aim["loss"], aim["nll"] + aim["kl"])


def test_parameter_groups_cover_every_parameter_once():
    m = build("asgcn", num_classes=5, layout="ntu25", **TINY)
    groups = m.parameter_groups()
    ids = [id(p) for g in groups.values() for p in g]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))
    assert {id(p) for p in groups["aim_encoder"]} == {id(p) for p in m.aim.encoder.parameters()}
    assert {id(p) for p in groups["aim_decoder"]} == {id(p) for p in m.aim.decoder.parameters()}
    s_only = build("asgcn", num_classes=5, layout="ntu25", links="s", **TINY)
    assert s_only.parameter_groups()["aim_encoder"] == [] and not s_only.has_aim
    with pytest.raises(ConfigError, match="links"):
        s_only.aim_losses(_x(t=12))


def test_recognition_ignores_the_prediction_target_frames():
    m = build("asgcn", num_classes=5, layout="ntu25", **TINY).eval()
    x = _x(t=12)
    y = x.clone()
    y[:, :, -3:] = torch.randn_like(y[:, :, -3:])  # change only the target frames
    with torch.no_grad():
        torch.testing.assert_close(m(x), m(y))
        assert not torch.allclose(
            m.losses(x, torch.tensor([0, 1]))["pred"], m.losses(y, torch.tensor([0, 1]))["pred"]
        )
    no_head = build("asgcn", num_classes=5, layout="ntu25", pred=False, **TINY).eval()
    with torch.no_grad():
        assert not torch.allclose(no_head(x), no_head(y))
    assert no_head.input_frames(50) == 50 and set(no_head.losses(x, torch.tensor([0, 1]))) == {"loss", "ce"}


@pytest.mark.parametrize("frames", [4, 5, 9, 24, 61])
def test_any_number_of_frames(frames):
    m = build("asgcn", num_classes=4, layout="ntu25", **TINY).eval()
    x = _x(t=frames)
    with torch.no_grad():
        assert m(x).shape == (2, 4)
        assert m.forecast(x, steps=7).shape == (2, 3, 7, 25, 2)
    with pytest.raises(ValueError, match="horizon"):
        m(_x(t=3))


def test_eval_is_deterministic_and_training_samples_links():
    m = build("asgcn", num_classes=4, layout="ntu25", **TINY)
    x = _x(t=12)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m(x), m(x))
        torch.testing.assert_close(m.infer_links(x), m.infer_links(x))
    m.train()
    act1, act2 = m._actional(x[:, :, :-3]), m._actional(x[:, :, :-3])
    assert not torch.allclose(act1, act2)  # Gumbel noise


def test_infer_links_probabilities():
    m = build("asgcn", num_classes=4, layout="ntu25", **TINY).eval()
    x = _x(t=12)
    links = m.infer_links(x)
    torch.testing.assert_close(links.sum(1), torch.ones(2, 25, 25))
    assert (links[:, 0].diagonal(dim1=-2, dim2=-1) == 1).all()
    per_body = m.infer_links(x, per_body=True)
    assert per_body.shape == (2, 2, 4, 25, 25)
    torch.testing.assert_close(links[0], per_body[0, 0])  # sample 0 has one body: no averaging with body 1
    torch.testing.assert_close(links[1], per_body[1].mean(0))


# ----------------------------------------------------------------------------- every switch ---
def _combos():
    for layout, pred in itertools.product(LAYOUTS, (True, False)):
        for links, order in [("s", o) for o in range(1, 5)] + [("a", 1)] + [("as", o) for o in range(1, 5)]:
            yield dict(layout=layout, pred=pred, links=links, L=order)
        for c, p0 in itertools.product(range(1, 6), (0.95, 0.0)):
            yield dict(layout=layout, pred=pred, links="as", L=2, C=c, P0=p0)
        for preset_opts in (
            dict(preset="official"),
            dict(preset="official", links="s"),
            dict(edge_importance=False),
            dict(hard_links=True, act_self_loops=True),
            dict(s_links="hops", L=3),
            dict(data_bn="none", init="official"),
        ):
            yield dict(layout=layout, pred=pred, **preset_opts)
    yield dict(layout="ntu25", pred=True, bone_variant="pyskl")


@pytest.mark.parametrize("opts", list(_combos()), ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_every_switch_combination_shapes_and_gradients(opts):
    opts = dict(opts)
    layout = opts.pop("layout")
    v = LAYOUTS[layout]
    m = build("asgcn", num_classes=6, layout=layout, **{**TINY, **opts})
    x, y = _x(t=10, v=v), torch.tensor([1, 4])
    out = m.losses(x, y)
    assert torch.isfinite(out["loss"]) and ("pred" in out) == m.hparams["prediction_head"]
    out["loss"].backward()
    groups = m.parameter_groups()
    assert _grads_ok(groups["backbone"])
    if m.has_aim:
        asked = opts.get("L", TINY.get("order", 4))  # the order this case asked for (alias L)
        assert m.hparams["order"] == (1 if m.hparams["links"] == "a" else asked)
        enc_grads = [p.grad for p in groups["aim_encoder"]]
        if m.hparams["refine_links"]:  # paper: the recognition loss refines the A-links via the encoder
            assert all(g is not None and torch.isfinite(g).all() for g in enc_grads)
            if m.hparams["num_link_types"] + (m.hparams["ghost_prior"] > 0) > 1:  # else: one type, prob 1
                assert sum(float(g.abs().sum()) for g in enc_grads) > 0
        else:  # official: AIM frozen after warm-up
            assert all(g is None for g in enc_grads)
        assert all(p.grad is None for p in groups["aim_decoder"])  # the decoder learns in warm-up only
        m.zero_grad(set_to_none=True)
        m.aim_losses(x)["loss"].backward()
        assert _grads_ok(groups["aim_encoder"] + groups["aim_decoder"])
        assert all(p.grad is None for p in groups["backbone"])
        m.eval()
        with torch.no_grad():
            assert m.infer_links(x).shape == (2, m.hparams["num_link_types"] + 1, v, v)
    m.eval()
    with torch.no_grad():
        assert m(x).shape == (2, 6)
        if m.hparams["prediction_head"]:
            assert m.forecast(x, steps=4).shape == (2, 3, 4, v, 2)


# -------------------------------------------------------------------------- options, presets ---
def test_presets_and_aliases():
    paper, official = resolve_config("paper"), resolve_config("official")
    assert (paper.order, paper.num_link_types, paper.ghost_prior, paper.lambda_act, paper.tau) == (
        4,
        3,
        0.95,
        0.5,
        0.5,
    )
    assert (paper.temporal_kernel, paper.horizon, paper.aim_hidden, paper.s_links) == (7, 10, 128, "powers")
    assert paper.channels == (64, 64, 64, 128, 128, 128, 256, 256, 256) and paper.strides == (
        1,
        1,
        1,
        2,
        1,
        1,
        2,
        1,
        1,
    )
    assert (official.s_links, official.num_link_types, official.temporal_kernel, official.refine_links) == (
        "hops",
        2,
        9,
        False,
    )
    assert (official.act_scale, official.hard_links, official.act_self_loops) == (0.1, True, True)
    cfg = resolve_config("paper", L=2, C=5, P0=0.5, pred=False, K=3, **{"lambda": 0.25})
    assert (
        cfg.order,
        cfg.num_link_types,
        cfg.ghost_prior,
        cfg.prediction_head,
        cfg.aim_iterations,
        cfg.lambda_act,
    ) == (2, 5, 0.5, False, 3, 0.25)
    assert resolve_config("paper", links="a").order == 1
    m = build("asgcn", num_classes=3, layout="openpose18", preset="official", C=4, **TINY)
    assert (
        m.hparams["preset"] == "official"
        and m.hparams["num_link_types"] == 4
        and m.hparams["layout"] == "openpose18"
    )
    assert ASGCNConfig().to_dict() == resolve_config().to_dict()


def test_variant_is_the_deprecated_spelling_of_preset():
    """Configs and checkpoints from before the rename name the preset ``variant``: still built, with a
    ``DeprecationWarning`` naming the new key; both keys given and different is an error."""
    with pytest.warns(DeprecationWarning, match="'preset'"):
        m = build("asgcn", num_classes=3, layout="ntu25", variant="official", **TINY)
    assert m.config.preset == "official" and m.hparams["preset"] == "official" and "variant" not in m.hparams
    assert m.hparams == build("asgcn", num_classes=3, layout="ntu25", preset="official", **TINY).hparams
    with pytest.warns(DeprecationWarning, match="'preset'"):
        assert resolve_config(preset="official", variant="official").preset == "official"
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="variant.*preset"):
        resolve_config(preset="paper", variant="official")
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="variant.*preset"):
        build("asgcn", num_classes=3, preset="official", variant="paper", **TINY)


def test_a_checkpoint_saved_with_variant_still_loads():
    """``tests/fixtures/checkpoints/asgcn.ckpt`` was written with ``model.options.variant: paper``."""
    from skelact.models.checkpoint import read_saved_checkpoint

    saved = read_saved_checkpoint(FIXTURES / "asgcn.ckpt")
    assert saved.model_options.get("variant") == "paper" and "preset" not in saved.model_options
    with pytest.warns(DeprecationWarning, match="'preset'"):
        model = saved.build_model()
    assert model.config.preset == "paper"


@pytest.mark.parametrize(
    "bad,match",
    [
        (dict(links="x"), "links"),
        (dict(L=0), "order"),
        (dict(links="a", L=3), "order"),
        (dict(P0=1.0), "ghost_prior"),
        (dict(C=0), "num_link_types"),
        (dict(tau=0), "tau"),
        (dict(temporal_kernel=4), "temporal_kernel"),
        (dict(strides=(1,)), "strides"),
        (dict(wibble=1), "wibble"),
        (dict(preset="nope"), "preset"),
        pytest.param(
            dict(variant="nope"), "preset", marks=pytest.mark.filterwarnings("ignore::DeprecationWarning")
        ),
        (dict(L=2, order=3), "given twice"),
        (dict(pred_collapse=((8, 4, 1),)), "pred_collapse"),
    ],
)
def test_bad_options_raise_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        build("asgcn", num_classes=3, **bad)


def test_input_checks():
    m = build("asgcn", num_classes=3, layout="ntu25", **TINY)
    with pytest.raises(ValueError, match="num_bodies"):
        m(torch.randn(1, 3, 12, 25, 1))
    with pytest.raises(ValueError, match="joints"):
        m(torch.randn(1, 3, 12, 18, 2))
    one_body = build("asgcn", num_classes=3, layout="ntu25", num_bodies=1, **TINY)
    assert one_body(torch.randn(2, 3, 12, 25, 1)).shape == (2, 3)
    assert build("asgcn", num_classes=3, data_bn="vc", **TINY)(torch.randn(2, 3, 12, 25, 3)).shape == (2, 3)


# -------------------------------------------------------------------------------- the heads ---
def test_prediction_is_residual_to_the_last_observed_pose():
    m = build("asgcn", num_classes=3, layout="ntu25", **TINY).eval()
    x = _x(t=12)
    with torch.no_grad():
        for p in m.predictor.out.parameters():
            p.zero_()  # zero displacement: the forecast repeats the last pose
        m.predictor.out.tcn[1].running_mean.zero_()
        pred = m.forecast(x, steps=3)
    torch.testing.assert_close(pred, x[:, :, -1:].expand(-1, -1, 3, -1, -1))


def test_prediction_loss_bodies():
    x, y = _x(t=12), torch.tensor([0, 1])
    paper = build("asgcn", num_classes=3, layout="ntu25", **TINY).eval()
    official = build("asgcn", num_classes=3, layout="ntu25", preset="official", **TINY).eval()
    z = x.clone()
    z[1, :, -3:, :, 1] += 1.0  # move only body 1's target of the two-body sample
    with torch.no_grad():
        assert paper.losses(x, y)["pred"] != paper.losses(z, y)["pred"]
        torch.testing.assert_close(
            official.losses(x, y)["pred"], official.losses(z, y)["pred"]
        )  # body 0 only


def test_head_structure_follows_fig_7():
    m = build("asgcn", num_classes=60)
    head = m.predictor
    assert [b.tcn[0].kernel_size[0] for b in head.collapse] == [7, 7, 7, 3, 5]
    assert [b.tcn[0].stride[0] for b in head.collapse] == [2, 2, 2, 2, 1]
    assert [(b.gcn.in_channels, b.gcn.out_channels) for b in (*head.refine, head.out)] == [
        (131, 64),
        (67, 32),
        (35, 30),
    ]
    x = torch.randn(1, 256, 73, 25)  # backbone output for a 290-frame input: 290 -> 145 -> 73
    blocks = iter(head.collapse)
    frames = []
    with torch.no_grad():
        for blk in blocks:
            x = blk(
                x.contiguous(memory_format=torch.channels_last),
                None if not blk.gcn.num_actional else torch.zeros(1, blk.gcn.num_actional, 25, 25),
            )
            frames.append(x.shape[2])
    assert frames == [37, 19, 10, 5, 1]  # Fig. 7: T = 38, 19, 10, 5, 1 from T = 75


def test_parameter_counts_are_reported():
    counts = {}
    for preset, layout in itertools.product(("paper", "official"), LAYOUTS):
        m = build("asgcn", num_classes=60 if layout == "ntu25" else 400, layout=layout, preset=preset)
        groups = m.parameter_groups()
        counts[(preset, layout)] = {k: sum(p.numel() for p in g) for k, g in groups.items()}
    for key, c in counts.items():
        print(f"AS-GCN {key[0]:8s} {key[1]:10s} " + "  ".join(f"{k}={v:,}" for k, v in c.items()))
    # Backbone ASGC weights by hand (eq. 5 + eq. 4: one d_in x d_out matrix per kernel), paper on NTU:
    kernels = 3 * 4 + 3
    chans = [3, 64, 64, 64, 128, 128, 128, 256, 256, 256]
    asgc = sum(kernels * a * b + 12 * 25 * 25 for a, b in zip(chans, chans[1:], strict=False))
    m = build("asgcn", num_classes=60, pred=False, links="as")
    assert sum(blk.gcn.weight.numel() + blk.gcn.importance.numel() for blk in m.backbone) == asgc
    assert (
        counts[("paper", "ntu25")]["aim_encoder"] > 0
        and counts[("official", "ntu25")]["backbone"] > 1_000_000
    )


@pytest.mark.parametrize("init", ["default", "official"])
def test_pred_zero_init_starts_the_head_at_zero_velocity(init):
    """``pred_zero_init``: the untrained head repeats the last observed pose (train and eval mode) and
    still learns (its output BN scale gets a gradient); without it the head starts elsewhere."""
    x, y = _x(t=12), torch.tensor([1, 4])
    last = x[:, :, -1:].expand(-1, -1, 5, -1, -1)
    torch.manual_seed(0)
    m = build("asgcn", num_classes=6, layout="ntu25", pred_zero_init=True, init=init, **TINY)
    for mode in (m.train, m.eval):
        mode()
        with torch.no_grad():
            torch.testing.assert_close(m.forecast(x, steps=5), last)
    m.train()
    m.losses(x, y)["pred"].backward()
    scale = m.predictor.out.tcn[-1].weight
    assert float(scale.detach().abs().max()) == 0.0 and float(scale.grad.abs().sum()) > 0
    torch.manual_seed(0)
    plain = build("asgcn", num_classes=6, layout="ntu25", init=init, **TINY)  # train mode: batch stats
    with torch.no_grad():
        assert float((plain.forecast(x, steps=5) - last).abs().max()) > 0.5


def test_ntu_preset_fills_a_short_sample_by_repeating_it_so_no_target_is_zeros(sample_data):
    """A one-person NTU sample of 103 frames through the NTU presets' transforms (300 frames, the
    last 10 the forecast target): no target frame and not the last observed pose is all zeros
    (zero padding made both zeros), and the frames are the sequence's own, repeated."""
    import numpy as np

    import skelact
    from skelact.data.transforms import build_transforms
    from skelact.train.config import load_config
    from skelact.train.data import fill_frames

    sk = skelact.load(sample_data / "ntu_rgbd" / "S001C001P001R001A001.skeleton")
    assert sk.num_frames == 103 and not np.abs(sk.data[:, 1]).any()  # one person (slot 2 empty)
    x = np.ascontiguousarray(sk.data[:, :2].transpose(3, 0, 2, 1))  # (C, T, V, M), the store's layout
    for preset in ("asgcn/ntu60_xsub", "asgcn/ntu60_xview", "asgcn/ntu60_xsub_official"):
        cfg = load_config(preset)
        frames = cfg.data.frames + 10  # the recognition window and the 10 target frames
        for specs in (cfg.data.train_transforms, cfg.data.test_transforms):
            pipeline = build_transforms(fill_frames(list(specs), frames), layout="ntu25")
            out = pipeline(x, np.random.default_rng(0))
            assert out.shape[1] == frames
            body0 = np.abs(out[..., 0]).sum(axis=(0, 2))  # (T,)
            assert (body0[-11:] > 0).all(), preset  # last observed pose and every target frame
            assert (np.abs(out[..., 1]) == 0).all()  # the absent second person stays absent


def test_prediction_loss_leaves_out_padding_frame_by_frame():
    from skelact.models.asgcn.losses import prediction_loss

    pred = torch.zeros(1, 3, 4, 5, 2)
    target = torch.ones(1, 3, 4, 5, 2)
    target[:, :, 2:, :, 1] = 0.0  # the second body leaves after two future frames
    pred[:, :, 2:, :, 1] = 7.0  # whatever is predicted there must not count
    mask = target.ne(0).any(dim=1).any(dim=2)  # (N, T', M)
    assert prediction_loss(pred, target, mask).item() == pytest.approx(1.0)
    per_body = torch.tensor([[True, True]])
    assert prediction_loss(pred, target, per_body).item() > 1.0  # a per-sample mask counts it
