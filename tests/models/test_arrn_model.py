"""ARRN-LSTM streams, switches, presets, multi-body handling, fusion (eqs. 1-12)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skelact.errors import ConfigError
from skelact.evaluation import collect_scores, fit_fusion_alpha
from skelact.models import MODELS, build
from skelact.models.arrn import ARRNLSTM, ARRNOptions, arrn_lstm, build_arrn_lstm, resolve_config

TINY = {"embed_dim": 6, "attention_dim": 8, "lstm_sizes": (8, 6), "iterations": 2}


def tiny(stream="two_stream", layout="ntu25", num_classes=5, **kw):
    return build("arrn_lstm", num_classes=num_classes, layout=layout, stream=stream, **{**TINY, **kw})


def test_hook_two_stream_ntu_defaults():
    m = build("arrn_lstm", num_classes=60, layout="ntu25", stream="two_stream")
    assert isinstance(m, ARRNLSTM)
    x = torch.randn(2, 3, 24, 25, 2)
    with torch.no_grad():
        assert m(x).shape == (2, 60)
    att = m.attention_weights()
    assert set(att) == {"joint", "line"} and all(a.shape == (25,) for a in att.values())
    # Sec. 4.1 NTU settings
    hp = m.hparams
    assert (hp["embed_dim"], hp["iterations"], hp["attention_dim"], hp["frames"]) == (50, 5, 256, None)
    assert hp["lstm_sizes"] == [512, 512, 512] and hp["preset"] == "ntu"
    assert m.streams["line"].embed.in_features == 3 * 24  # 3 (J-1), eq. 3
    assert m.streams["joint"].embed.in_features == 3  # eq. 1


@pytest.mark.parametrize("layout, preset, embed, sizes", [
    ("ntu25", "ntu", 50, (512, 512, 512)),
    ("openpose18", "ntu", 50, (512, 512, 512)),
    ("kinect20", "msr3d", 20, (512, 256, 512)),
    ("florence15", "florence3d", 20, (512, 256, 512)),
    ("florence8", "florence3d", 20, (512, 256, 512)),
])
def test_preset_follows_layout(layout, preset, embed, sizes):
    hp = build("arrn_lstm", num_classes=3, layout=layout, stream="joint").hparams
    got = (hp["preset"], hp["embed_dim"], tuple(hp["lstm_sizes"]))
    assert got == (preset, embed, sizes)


def test_explicit_preset_and_options_override():
    hp = build("arrn_lstm", num_classes=3, layout="ntu25", preset="msr3d", stream="joint").hparams
    assert (hp["embed_dim"], hp["mid_size"]) == (20, 256)
    m = build("arrn_lstm", num_classes=3, layout="kinect20", stream="line", embed_dim=7, mid_size=9,
              hidden_size=11, lstm_layers=4, attention=False, iterations=3, attention_dim=13, dropout=0.2)
    hp = m.hparams
    assert hp["lstm_sizes"] == [11, 9, 9, 11] and hp["embed_dim"] == 7 and hp["message_hidden"] == 7
    s = m.streams["line"]
    assert [layer.hidden_size for layer in s.temporal.layers] == [11, 9, 9, 11]
    assert s.rrn.iterations == 3 and s.attention.fc.out_features == 13 and s.attention.mask is None
    assert s.classifier.in_features == 11


def test_resolve_config_is_what_the_builder_builds_with():
    """One resolver (``skelact.models.arrn.config``): the preset (named, or the layout's) filled in,
    then the derived sizes; the builder's hparams are the resolved options."""
    opts = resolve_config(layout="kinect20", mid_size=9)
    assert isinstance(opts, ARRNOptions)
    got = (opts.preset, opts.embed_dim, opts.message_hidden, opts.lstm_sizes)
    assert got == ("msr3d", 20, 20, (512, 9, 512))
    assert resolve_config("ntu", layout="kinect20").preset == "ntu"
    assert resolve_config().preset == "ntu"
    hp = build("arrn_lstm", num_classes=3, layout="kinect20", stream="joint", mid_size=9).hparams
    assert {k: hp[k] for k in ("preset", "embed_dim", "mid_size", "lstm_sizes")} == {
        "preset": "msr3d", "embed_dim": 20, "mid_size": 9, "lstm_sizes": [512, 9, 512]}
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve_config("kinetics")
    with pytest.raises(ConfigError, match="unknown option"):
        resolve_config(nope=1)


@pytest.mark.parametrize(("options", "ignored"), [
    ({"attention": False, "attention_init": "random"}, "attention_init"),
    ({"lstm_sizes": [8, 8], "hidden_size": 64}, "hidden_size"),
    ({"lstm_sizes": [8, 8], "mid_size": 64}, "mid_size"),
    ({"lstm_layers": 2, "mid_size": 64}, "mid_size"),
])
def test_an_option_that_another_option_makes_ineffective_warns(options, ignored):
    with pytest.warns(UserWarning, match=f"option {ignored}=.* has no effect"):
        resolve_config(layout="kinect20", **options)


@pytest.mark.parametrize("options", [
    {"attention": True, "attention_init": "random"},
    {"attention": False, "attention_dim": 16},  # the FC of eq. 9 stays without the mask
    {"lstm_layers": 3, "mid_size": 64},
    {"lstm_sizes": [8, 8]},
])
def test_effective_options_do_not_warn(options, recwarn):
    resolve_config(layout="kinect20", **options)
    assert not [w for w in recwarn if "has no effect" in str(w.message)]


def test_label_smoothing_must_be_a_probability():
    with pytest.raises(ConfigError, match="label_smoothing"):
        resolve_config(label_smoothing=1.0)


def test_builder_name_and_its_alias():
    assert MODELS["arrn_lstm"] is build_arrn_lstm and arrn_lstm is build_arrn_lstm


@pytest.mark.parametrize("bad", [
    {"no_such_option": 1}, {"readout": "first"}, {"body_pool": "sum"}, {"iterations": 0},
    {"dropout": 1.5}, {"attention_init": "zeros"}, {"lstm_sizes": (8, 8), "lstm_layers": 3},
])
def test_bad_options_raise_config_error(bad):
    with pytest.raises(ConfigError):
        tiny(**bad)


def test_bad_stream_or_preset_raise_config_error():
    with pytest.raises(ConfigError):
        build("arrn_lstm", num_classes=3, stream="bone")
    with pytest.raises(ConfigError):
        build("arrn_lstm", num_classes=3, preset="kinetics")


def test_concat_readout_needs_the_clip_length():
    """T is the builder's uniform frames= (data.frames in a config), not a preset value."""
    with pytest.raises(ConfigError, match="readout='concat' needs frames="):
        tiny("joint", readout="concat")
    with pytest.raises(ConfigError, match="frames must be >= 1"):
        tiny("joint", frames=0)


@pytest.mark.parametrize("stream", ["joint", "line", "two_stream"])
@pytest.mark.parametrize("attention", [True, False])
def test_shapes_losses_and_gradients(stream, attention):
    m = tiny(stream, layout="kinect20", attention=attention)
    x = torch.randn(3, 3, 7, 20, 1)
    y = torch.tensor([0, 4, 2])
    assert m(x).shape == (3, 5)
    out = m.losses(x, y)
    extra = {"ce_joint", "ce_line", "ce_fused"} if stream == "two_stream" else set()
    assert set(out) == {"loss", "ce"} | extra and all(v.ndim == 0 for v in out.values())
    out["loss"].backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    has_mask = [s.attention.mask is not None for s in m.streams.values()]
    assert all(has_mask) if attention else not any(has_mask)


def test_two_stream_loss_is_sum_of_stream_cross_entropies():
    m = tiny()
    x, y = torch.randn(4, 3, 5, 25, 2), torch.tensor([0, 1, 2, 3])
    out = m.losses(x, y)
    logits = m.stream_logits(x)
    ce_j, ce_l = F.cross_entropy(logits["joint"], y), F.cross_entropy(logits["line"], y)
    torch.testing.assert_close(out["ce_joint"], ce_j)
    torch.testing.assert_close(out["ce_line"], ce_l)
    torch.testing.assert_close(out["loss"], ce_j + ce_l)
    torch.testing.assert_close(out["ce_fused"], F.cross_entropy(m(x), y))


@pytest.mark.parametrize("readout", ["mean", "last"])
def test_any_number_of_frames(readout):
    m = tiny("joint", readout=readout)
    for t in (1, 9, 31):
        assert m(torch.randn(2, 3, t, 25, 2)).shape == (2, 5)


def test_concat_readout_uses_all_steps_and_fixes_t():
    m = tiny("joint", readout="concat", frames=6)
    assert m.hparams["frames"] == 6
    assert m.streams["joint"].classifier.in_features == 6 * 6
    assert m(torch.randn(2, 3, 6, 25, 1)).shape == (2, 5)
    with pytest.raises(ValueError, match="T=6"):
        m(torch.randn(2, 3, 7, 25, 1))


def test_readouts_differ():
    x = torch.randn(2, 3, 6, 25, 1)
    outs = []
    for readout in ("mean", "last"):
        torch.manual_seed(0)
        outs.append(tiny("joint", readout=readout)(x))
    assert not torch.allclose(outs[0], outs[1])


@pytest.mark.parametrize("body_pool", ["mean", "max"])
@pytest.mark.parametrize("skip", [True, False])
def test_missing_second_body_does_not_dilute(body_pool, skip):
    m = tiny(body_pool=body_pool, skip_empty_bodies=skip).eval()
    one = torch.randn(2, 3, 6, 25, 1)
    two = torch.cat([one, torch.zeros_like(one)], dim=-1)  # second person absent
    torch.testing.assert_close(m(two), m(one), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("body_pool", ["mean", "max"])
def test_bodies_are_pooled_symmetrically_and_skipping_is_exact(body_pool):
    x = torch.randn(2, 3, 8, 25, 2)
    x[0, :, 5:] = 0  # zero-padded frames (no body at all)
    x[1, :, :3, :, 1] = 0  # second body appears late
    torch.manual_seed(0)
    m = tiny(body_pool=body_pool).eval()
    torch.manual_seed(0)
    m_full = tiny(body_pool=body_pool, skip_empty_bodies=False).eval()
    out = m(x)
    torch.testing.assert_close(m_full(x), out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(m(x.flip(-1)), out, atol=1e-5, rtol=1e-5)
    # the second body does count where present
    assert not torch.allclose(m(x[..., :1]), out, atol=1e-4)


def test_line_stream_is_translation_invariant_joint_stream_is_not():
    x = torch.randn(2, 3, 6, 25, 1)
    shift = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1, 1)
    line, joint = tiny("line").eval(), tiny("joint").eval()
    torch.testing.assert_close(line(x + shift), line(x), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(joint(x + shift), joint(x), atol=1e-4)


def test_attention_mask_multiplies_every_node():
    m = tiny("joint").eval()
    with torch.no_grad():
        m.streams["joint"].attention.mask.zero_()  # m = 0 cuts the RRN off from the LSTM (eq. 9)
    a, b = torch.randn(2, 3, 6, 25, 1), torch.randn(2, 3, 6, 25, 1)
    torch.testing.assert_close(m(a), m(b))
    assert torch.equal(m.attention_weights()["joint"], torch.zeros(25))


def test_attention_weights_init_and_rrn_lstm_ones():
    assert torch.equal(tiny("joint").attention_weights()["joint"], torch.ones(25))
    w = tiny("line", attention_init="random").attention_weights()["line"]
    assert w.shape == (25,) and ((w >= 0) & (w <= 1)).all() and w.std() > 0
    assert torch.equal(tiny("line", attention=False).attention_weights()["line"], torch.ones(25))


def test_checkpointing_gives_the_same_loss_and_gradients():
    x, y = torch.randn(2, 3, 5, 25, 2), torch.tensor([1, 3])
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        m = tiny(checkpoint=ckpt)
        assert m.streams["joint"].rrn.checkpoint is ckpt
        m.losses(x, y)["loss"].backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def test_dropout_only_in_training():
    m = tiny("joint", dropout=0.5)
    x = torch.randn(2, 3, 6, 25, 1)
    m.eval()
    torch.testing.assert_close(m(x), m(x))
    m.train()
    assert not torch.allclose(m(x), m(x))


# ---------------------------------------------------------------- fusion (eq. 12) ----------------


def test_fusion_alpha_one_is_the_joint_stream_and_zero_the_line_stream():
    m = tiny().eval()
    x = torch.randn(3, 3, 6, 25, 2)
    s = m.stream_logits(x)
    m.fusion_alpha.fill_(1.0)
    torch.testing.assert_close(torch.softmax(m(x), -1), torch.softmax(s["joint"], -1))
    assert m(x).argmax(-1).equal(s["joint"].argmax(-1))
    m.fusion_alpha.fill_(0.0)
    torch.testing.assert_close(torch.softmax(m(x), -1), torch.softmax(s["line"], -1))
    m.fusion_alpha.fill_(0.3)
    fused = 0.3 * torch.softmax(s["joint"], -1) + 0.7 * torch.softmax(s["line"], -1)
    torch.testing.assert_close(torch.softmax(m(x), -1), fused)
    torch.testing.assert_close(m(x).exp().sum(-1), torch.ones(3))  # logits = log y


def test_fusion_alpha_is_saved_in_the_state_dict():
    m = tiny()
    assert float(m.fusion_alpha) == 0.5
    m.fusion_alpha.fill_(0.85)
    m2 = tiny()
    m2.load_state_dict(m.state_dict())
    assert float(m2.fusion_alpha) == pytest.approx(0.85)


def test_fit_fusion_maximises_validation_accuracy_over_the_grid():
    rng = np.random.default_rng(0)
    n, k = 200, 6
    labels = rng.integers(0, k, n)
    joint = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[labels] * rng.random((n, 1))
    line = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[labels] * rng.random((n, 1))
    grid = np.linspace(0, 1, 21)
    pj, pl = torch.softmax(torch.tensor(joint), -1).numpy(), torch.softmax(torch.tensor(line), -1).numpy()
    brute = [((a * pj + (1 - a) * pl).argmax(1) == labels).mean() for a in grid]  # brute force
    m = tiny(num_classes=k)
    alpha = m.fit_fusion(joint, line, labels, grid)
    assert brute[int(np.argmin(np.abs(grid - alpha)))] == max(brute)
    assert float(m.fusion_alpha) == pytest.approx(alpha)
    best = [a for a, acc in zip(grid, brute, strict=True) if acc == max(brute)]
    assert alpha == pytest.approx(min(best, key=lambda a: (abs(a - 0.5), -a)))
    # the accuracies it reports are the brute-force ones; torch inputs and probabilities work too
    _, accs = fit_fusion_alpha(torch.tensor(pj), torch.tensor(pl), torch.tensor(labels), grid, logits=False)
    np.testing.assert_allclose(accs, brute)


def test_fit_fusion_ties_go_to_the_alpha_closest_to_half():
    labels = np.array([0, 1, 2])
    scores = np.eye(3) * 5.0  # both streams perfect: every alpha has accuracy 1
    m = tiny(num_classes=3)
    assert m.fit_fusion(scores, scores, labels) == 0.5
    assert m.fit_fusion(scores, scores, labels, grid=[0.0, 0.3, 0.7, 1.0]) == pytest.approx(0.7)
    # only the joint stream is right: alpha must exceed 0.5, and the closest such grid value wins
    wrong = np.roll(scores, 1, axis=1)
    assert m.fit_fusion(scores, wrong, labels) == pytest.approx(0.55)


def test_fit_fusion_needs_two_streams_and_matching_shapes():
    with pytest.raises(RuntimeError):
        tiny("joint").fit_fusion(np.zeros((2, 5)), np.zeros((2, 5)), [0, 1])
    with pytest.raises(ValueError):
        fit_fusion_alpha(np.zeros((2, 5)), np.zeros((3, 5)), [0, 1])


def test_collect_scores_over_a_loader():
    m = tiny(dropout=0.3)
    ds = torch.utils.data.TensorDataset(torch.randn(5, 3, 4, 25, 2), torch.tensor([0, 1, 2, 3, 4]))
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    scores, labels = collect_scores(m, loader)
    assert m.training  # restored
    assert set(scores) == {"joint", "line"}  # a two-stream model gives its streams
    assert scores["joint"].shape == (5, 5) and scores["line"].shape == (5, 5)
    np.testing.assert_array_equal(labels, np.arange(5))
    m.eval()
    with torch.no_grad():
        direct = m.stream_logits(ds.tensors[0])
    np.testing.assert_allclose(scores["joint"], direct["joint"].numpy(), atol=1e-5)
    np.testing.assert_allclose(scores["line"], direct["line"].numpy(), atol=1e-5)
    single, _ = collect_scores(tiny("joint").eval(), loader)
    assert set(single) == {"logits"}  # one stream: the model's own logits
    alpha = m.fit_fusion(scores["joint"], scores["line"], labels)
    assert 0.0 <= alpha <= 1.0
