"""ARRN-LSTM streams, switches, presets, multi-body handling, fusion (eqs. 1-12)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skelact.data.layouts import get_layout
from skelact.errors import ConfigError
from skelact.evaluation import collect_scores, fit_fusion_alpha
from skelact.models import MODELS, build
from skelact.models.arrn import ARRNLSTM, ARRNOptions, arrn_lstm, build_arrn_lstm, resolve_config
from skelact.models.arrn.fusion import fused_log_scores, fused_probabilities
from skelact.models.arrn.model import ARRNStream, NodeAttention, StackedLSTM, _bodies_to_compute

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


# ------------------------------------------------------- the modules built directly ----------------


def test_a_stream_built_directly_has_the_papers_ntu_settings():
    """ARRNStream's defaults are Sec. 4.1's NTU settings: M = 50, E = 5, FC 256, LSTM [512] x 3, a
    mask starting at ones, the mean readout and body pooling, no dropout."""
    s = ARRNStream(num_classes=4, num_joints=6)
    assert not s.line and (s.embed.in_features, s.embed.out_features) == (3, 50)
    assert (s.rrn.dim, s.rrn.iterations, s.rrn.message.hidden, s.rrn.checkpoint) == (50, 5, 50, False)
    assert s.attention.fc.out_features == 256 and s.attention.fc.in_features == 6 * 50
    assert torch.equal(s.attention.mask.detach(), torch.ones(6))
    assert [layer.hidden_size for layer in s.temporal.layers] == [512, 512, 512]
    assert (s.readout, s.frames, s.body_pool, s.skip_empty_bodies) == ("mean", None, "mean", True)
    assert s.input_dropout.p == s.temporal.dropout.p == s.dropout.p == 0.0
    assert (s.classifier.in_features, s.classifier.out_features) == (512, 4)


def test_node_attention_and_stacked_lstm_defaults():
    att = NodeAttention(num_nodes=4, dim=3)
    assert att.fc.out_features == 256 and torch.equal(att.mask.detach(), torch.ones(4))
    lstm = StackedLSTM(5, (7, 6))
    assert lstm.dropout.p == 0.0 and lstm.output_size == 6
    assert [(layer.input_size, layer.hidden_size) for layer in lstm.layers] == [(5, 7), (7, 6)]
    assert lstm(torch.randn(2, 3, 5)).shape == (2, 3, lstm.output_size)


@pytest.mark.parametrize("lead", [(), (2,), (2, 3)])
def test_node_attention_maps_any_leading_shape(lead):
    """``(..., J, D) -> (..., out_dim)``: one frame, a batch of frames, a batch of clips."""
    att = NodeAttention(num_nodes=4, dim=3, out_dim=5)
    with torch.no_grad():
        att.mask.copy_(torch.tensor([1.0, 0.0, 2.0, 0.5]))
    w = torch.randn(*lead, 4, 3)
    want = att.fc((w * att.mask[:, None]).reshape(*lead, 12))
    torch.testing.assert_close(att(w), want)


def test_a_two_stream_model_built_directly_defaults():
    m = ARRNLSTM(num_classes=4, num_joints=5, embed_dim=4, attention_dim=6, lstm_sizes=(5,), iterations=1)
    assert m.stream == "two_stream" and set(m.streams) == {"joint", "line"}
    assert m.label_smoothing == 0.0 and m.num_classes == 4 and m.hparams == {}
    assert m.streams["joint"].embed.in_features == 3 and m.streams["line"].embed.in_features == 3 * 4
    two_d = ARRNLSTM(4, 5, in_channels=2, stream="line", embed_dim=4, attention_dim=6, lstm_sizes=(5,))
    assert two_d.streams["line"].embed.in_features == 2 * 4 and two_d.num_classes == 4
    assert not hasattr(two_d, "fusion_alpha")


def test_bad_stream_arguments_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"^readout must be one of \('mean', 'last', 'concat'\), "
                                         r"got 'first'$"):
        ARRNStream(3, 5, readout="first")
    with pytest.raises(ValueError, match=r"^body_pool must be one of \('mean', 'max'\), got 'sum'$"):
        ARRNStream(3, 5, body_pool="sum")
    with pytest.raises(ValueError, match=r"^readout='concat' needs the number of input frames$"):
        ARRNStream(3, 5, readout="concat")
    with pytest.raises(ValueError, match=r"^stream must be 'joint', 'line' or 'two_stream', got 'bone'$"):
        ARRNLSTM(3, 5, stream="bone")


@pytest.mark.parametrize("smoothing", [-0.1, 1.0, 1.5])
def test_label_smoothing_outside_zero_to_one_is_refused(smoothing):
    with pytest.raises(ValueError, match=rf"^label_smoothing must lie in \[0, 1\), got {smoothing}$"):
        ARRNLSTM(3, 5, stream="joint", label_smoothing=smoothing)


def test_one_stream_loss_uses_the_label_smoothing():
    m = tiny("joint", label_smoothing=0.2)
    x, y = torch.randn(3, 3, 4, 25, 1), torch.tensor([0, 2, 4])
    out = m.losses(x, y)
    torch.testing.assert_close(out["loss"], F.cross_entropy(m(x), y, label_smoothing=0.2))
    assert not torch.allclose(out["loss"], F.cross_entropy(m(x), y))


def test_concat_readout_names_the_frames_it_got():
    m = tiny("joint", readout="concat", frames=6)
    with pytest.raises(ValueError, match=r"^readout='concat' needs T=6 input frames, got 7$"):
        m(torch.randn(2, 3, 7, 25, 1))


def test_fit_fusion_on_one_stream_says_it_needs_two():
    with pytest.raises(RuntimeError, match="^fit_fusion needs a two-stream model$"):
        tiny("line").fit_fusion(np.zeros((2, 5)), np.zeros((2, 5)), [0, 1])


def test_fit_fusion_passes_probabilities_through():
    """``logits=False``: the scores are probabilities (log taken), not logits."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 6)
    joint, line = rng.dirichlet([1, 1, 1], 6), rng.dirichlet([1, 1, 1], 6)
    m = tiny(num_classes=3)
    want, _ = fit_fusion_alpha(joint, line, labels, logits=False)
    assert m.fit_fusion(joint, line, labels, logits=False) == pytest.approx(want)
    as_logits, _ = fit_fusion_alpha(joint, line, labels)
    assert want != as_logits  # read as logits the same numbers pick another alpha
    assert float(m.fusion_alpha) == pytest.approx(want)


# ------------------------------------------------------------- which bodies are computed -----------


def _rrn_batches(m, x):
    """The number of node sets each call of each stream's RRN got on ``x``."""
    sizes = []
    hooks = [s.rrn.register_forward_hook(lambda mod, args, out: sizes.append(args[0].shape[0]))
             for s in m.streams.values()]
    try:
        with torch.no_grad():
            m(x)
    finally:
        for h in hooks:
            h.remove()
    return sizes


def test_the_rrn_runs_on_the_present_bodies_only_unless_told_otherwise():
    x = torch.randn(1, 3, 4, 25, 2)
    x[..., 1] = 0  # the second person is absent throughout
    x[:, :, 3] = 0  # and the last frame is zero padding: body 0 stands for it
    torch.manual_seed(0)
    m = tiny("joint").eval()
    assert _rrn_batches(m, x) == [4]  # 4 frames x body 0
    torch.manual_seed(0)
    full = tiny("joint", skip_empty_bodies=False).eval()
    assert _rrn_batches(full, x) == [8]  # every frame and body slot
    torch.testing.assert_close(full(x), m(x), atol=1e-5, rtol=1e-5)
    three = torch.cat([x, x[..., :1]], dim=-1)  # a third body slot, a copy of the first
    three[..., 2] = 0
    three[:, :, 1, :, 2] = 1.0  # present in frame 1 only
    assert _rrn_batches(m, three) == [5]


def test_bodies_to_compute_keeps_body_zero_of_an_empty_frame():
    x = torch.zeros(1, 3, 3, 4, 3)
    x[0, :, 0, :, 2] = 1.0  # frame 0: only the third body
    x[0, 0, 1, 1, 1] = 0.5  # frame 1: only the second body (one non-zero coordinate is enough)
    keep = _bodies_to_compute(x)
    assert keep.tolist() == [[[False, False, True], [False, True, False], [True, False, False]]]


def test_bodies_to_compute_works_on_the_inputs_device():
    x = torch.zeros(2, 3, 4, 5, 2, device="meta")  # the meta device stands in for an accelerator
    keep = _bodies_to_compute(x)
    assert keep.device.type == "meta" and keep.shape == (2, 4, 2)


# ---------------------------------------------------------------- resolve_config ------------------


def test_a_layout_without_a_preset_takes_the_ntu_one():
    custom = dataclasses.replace(get_layout("kinect20"), name="my_kinect")
    opts = resolve_config(layout=custom)
    assert opts.preset == "ntu" and opts.embed_dim == 50 and opts.lstm_sizes == (512, 512, 512)


def test_unknown_presets_and_options_list_what_is_known():
    with pytest.raises(ConfigError, match=r"^arrn_lstm: unknown preset 'kinetics'; known: ntu, florence3d, "
                                          r"msr3d$"):
        resolve_config("kinetics")
    known = ", ".join(sorted(f.name for f in dataclasses.fields(ARRNOptions) if f.name != "preset"))
    assert "preset" not in known.split(", ") and "attention" in known.split(", ")
    with pytest.raises(ConfigError, match=r"^arrn_lstm: unknown option\(s\) bar, foo; known: " + known + "$"):
        resolve_config(foo=1, bar=2)


def test_explicit_lstm_sizes_must_agree_with_an_explicit_layer_count():
    with pytest.raises(ConfigError, match=r"^arrn_lstm: lstm_sizes has 2 layers but lstm_layers=3$"):
        resolve_config(lstm_sizes=(8, 8), lstm_layers=3)
    opts = resolve_config(lstm_sizes=("8", 6.0), lstm_layers=2)
    assert opts.lstm_sizes == (8, 6) and (opts.lstm_layers, opts.hidden_size) == (2, 6)


@pytest.mark.parametrize("key", ["iterations", "embed_dim", "message_hidden", "attention_dim", "lstm_layers"])
def test_sizes_of_one_are_accepted_and_zero_is_refused_by_name(key):
    opts = resolve_config(**{key: 1})
    assert getattr(opts, key) == 1
    with pytest.raises(ConfigError, match=rf"^arrn_lstm: invalid value for {key}: 0$"):
        resolve_config(**{key: 0})


def test_explicit_lstm_sizes_must_all_be_positive():
    assert resolve_config(lstm_sizes=[1]).lstm_sizes == (1,)
    assert resolve_config(lstm_sizes=[4, 1, 4]).lstm_sizes == (4, 1, 4)
    with pytest.raises(ConfigError, match=r"^arrn_lstm: invalid value for lstm_sizes: \(4, 0, 4\)$"):
        resolve_config(lstm_sizes=[4, 0, 4])


@pytest.mark.parametrize("key, value, ok", [
    ("dropout", 0.0, True), ("dropout", 0.99, True), ("dropout", 1.0, False), ("dropout", -0.1, False),
    ("label_smoothing", 0.0, True), ("label_smoothing", 0.5, True), ("label_smoothing", 1.0, False),
])
def test_probabilities_lie_in_zero_to_one_excluding_one(key, value, ok):
    if ok:
        assert getattr(resolve_config(**{key: value}), key) == value
    else:
        with pytest.raises(ConfigError, match=rf"^arrn_lstm: invalid value for {key}: {value}$"):
            resolve_config(**{key: value})


def test_the_ineffective_option_warnings_say_why():
    with pytest.warns(UserWarning) as got:
        resolve_config(attention=False, attention_init="random")
        resolve_config(lstm_sizes=[8, 8], hidden_size=64, mid_size=32)
        resolve_config(lstm_layers=2, mid_size=64)
    assert [str(w.message) for w in got] == [
        "arrn_lstm: option attention_init='random' has no effect: attention=False has no mask to "
        "initialise (eq. 9)",
        "arrn_lstm: option hidden_size=64 has no effect: lstm_sizes is given",
        "arrn_lstm: option mid_size=32 has no effect: lstm_sizes is given",
        "arrn_lstm: option mid_size=64 has no effect: lstm_layers=2 has no middle layer",
    ]
    assert all(w.category is UserWarning for w in got)
    # pointed at the code that called resolve_config, neither inside it nor beyond the caller
    assert not any(w.filename.endswith("config.py") or "_pytest" in w.filename for w in got)


def test_every_ineffective_option_warns_at_once():
    with pytest.warns(UserWarning) as got:
        resolve_config(attention=False, attention_init="ones", lstm_sizes=[8, 8], hidden_size=8)
    assert [str(w.message).split(":")[1] for w in got] == [" option attention_init='ones' has no effect",
                                                           " option hidden_size=8 has no effect"]


def test_the_mask_init_without_attention_given_is_effective(recwarn):
    """``attention`` defaults to on: a mask init alone does not warn."""
    assert resolve_config(attention_init="random").attention_init == "random"
    assert resolve_config(mid_size=64).lstm_sizes == (512, 64, 512)  # the default H = 3 has a middle
    assert not [w for w in recwarn if "has no effect" in str(w.message)]


def test_a_middle_size_with_one_layer_warns():
    with pytest.warns(UserWarning, match=r"mid_size=64 has no effect: lstm_layers=1 has no middle layer$"):
        assert resolve_config(lstm_layers=1, mid_size=64).lstm_sizes == (512,)


# --------------------------------------------------------------------- fusion (eq. 12) -------------


def test_fused_log_scores_fuse_along_the_last_axis_of_any_shape():
    joint, line = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    got = fused_log_scores(joint, line, 0.3)
    want = torch.log(0.3 * torch.softmax(joint, -1) + 0.7 * torch.softmax(line, -1))
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(fused_log_scores(joint[0, 0], line[0, 0], 0.3), want[0, 0])


def test_fused_log_scores_keep_the_logits_dtype_whatever_the_alphas():
    joint, line = torch.randn(3, 4), torch.randn(3, 4)
    alpha = torch.tensor([0.25], dtype=torch.float64)
    got = fused_log_scores(joint, line, alpha)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, fused_log_scores(joint, line, 0.25))


def test_fused_probabilities_are_float64_from_any_numeric_scores():
    labels = np.eye(3, dtype=np.int64) * 4  # integer logits
    got = fused_probabilities(labels, labels[::-1].copy(), 0.5)
    assert got.dtype == np.float64
    p = np.exp(labels) / np.exp(labels).sum(-1, keepdims=True)
    np.testing.assert_allclose(got, 0.5 * p + 0.5 * p[::-1], rtol=1e-12)
    j32 = np.array([[0.1, 0.2, 0.3]], dtype=np.float32)  # float32 in, computed in float64
    l32 = np.array([[0.3, -0.2, 0.05]], dtype=np.float32)
    j64, l64 = j32.astype(np.float64), l32.astype(np.float64)
    want = 0.3 * np.exp(j64) / np.exp(j64).sum() + 0.7 * np.exp(l64) / np.exp(l64).sum()
    np.testing.assert_allclose(fused_probabilities(j32, l32, 0.3), want, rtol=1e-13)


def test_fit_fusion_alpha_reads_logits_by_default():
    labels = np.array([0, 1])
    joint = np.array([[-1.0, -3.0], [-3.0, -1.0]])  # negative logits: log of them would be nan
    line = np.array([[-3.0, -1.0], [-1.0, -3.0]])
    alpha, accs = fit_fusion_alpha(joint, line, labels, grid=[0.0, 0.6, 1.0])
    assert alpha == 0.6 and accs.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("grid", [[], [0.0, 1.5], [-0.5, 0.5], [0.5, 2.0]])
def test_fit_fusion_alpha_refuses_a_grid_outside_zero_to_one(grid):
    with pytest.raises(ValueError, match=r"^grid must be a non-empty set of values in \[0, 1\]$"):
        fit_fusion_alpha(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], grid=grid)


def test_fit_fusion_alpha_with_a_one_value_grid_returns_it():
    labels = np.array([0, 1, 1])
    scores = np.eye(3)[[0, 1, 0]]
    alpha, accs = fit_fusion_alpha(scores, scores, labels, grid=[0.25])
    assert alpha == 0.25 and accs.tolist() == pytest.approx([2 / 3])


def test_fit_fusion_alpha_grid_values_may_be_given_as_text():
    """e.g. from a command line: the values are read as numbers."""
    scores, labels = np.eye(3), np.arange(3)
    alpha, _ = fit_fusion_alpha(scores, scores, labels, grid=["0.2", "0.9"])
    assert alpha == 0.2 and isinstance(alpha, float)


@pytest.mark.parametrize("shapes", [((4, 3), (4, 3), (5,)), ((4, 3), (4, 2), (4,)), ((4,), (4,), (4,))])
def test_fit_fusion_alpha_names_mismatched_shapes(shapes):
    js, ls, ys = shapes
    with pytest.raises(ValueError, match=r"^score shapes .* and labels .* do not match$"):
        fit_fusion_alpha(np.zeros(js), np.zeros(ls), np.zeros(ys, dtype=int))


def test_fit_fusion_alpha_accepts_labels_of_any_shape_with_n_entries():
    scores = np.eye(4)
    alpha, accs = fit_fusion_alpha(scores, scores, np.arange(4).reshape(2, 2), grid=[0.5])
    assert alpha == 0.5 and accs.tolist() == [1.0]


def test_fit_fusion_alpha_accuracy_is_per_grid_value():
    labels = np.array([0, 1, 2, 0, 1])
    joint = np.eye(3)[[0, 1, 2, 1, 2]] * 3.0  # right on the first 3
    line = np.eye(3)[[1, 1, 0, 0, 1]] * 3.0  # right on 1, 3, 4
    alpha, accs = fit_fusion_alpha(joint, line, labels, grid=[0.0, 1.0])
    assert accs.tolist() == [0.6, 0.6]
    assert alpha == 1.0  # tie: equally far from 0.5, the larger alpha


def test_fit_fusion_alpha_ties_are_broken_beyond_float_noise():
    """0.3 + 1e-10 and 0.7 are equally far from 0.5 at 9 decimals: a tie, which the larger wins."""
    scores, labels = np.eye(3), np.arange(3)
    alpha, _ = fit_fusion_alpha(scores, scores, labels, grid=[0.3 + 1e-10, 0.7])
    assert alpha == 0.7


def test_fit_fusion_alpha_on_one_sample_reports_its_accuracy():
    alpha, accs = fit_fusion_alpha(np.array([[2.0, 0.0]]), np.array([[0.0, 2.0]]), [0], grid=[0.0, 1.0])
    assert accs.tolist() == [0.0, 1.0] and alpha == 1.0


def test_stream_softmax_is_float64_over_the_last_axis():
    from skelact.models.arrn.fusion import softmax

    scores = np.arange(12, dtype=np.int64).reshape(2, 2, 3) % 4  # integer logits, leading axes kept
    got = softmax(scores)
    e = np.exp(scores.astype(np.float64))
    assert got.dtype == np.float64 and got.shape == (2, 2, 3)
    np.testing.assert_allclose(got, e / e.sum(-1, keepdims=True), rtol=1e-14)
    s32 = np.array([[0.1, 0.2, 0.35]], dtype=np.float32)
    e32 = np.exp(s32.astype(np.float64))
    np.testing.assert_allclose(softmax(s32), e32 / e32.sum(-1, keepdims=True), rtol=1e-14)


def test_an_empty_lstm_sizes_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match=r"^arrn_lstm: lstm_sizes must name at least one layer, got \[\]$"):
        resolve_config("ntu", lstm_sizes=[])


def test_fusion_takes_numpy_views_of_any_strides():
    """Reversed or strided NumPy views (``scores[::-1]``) are fused, softmaxed and fitted like
    their contiguous copies (``torch.as_tensor`` alone refuses negative strides)."""
    from skelact.models.arrn.fusion import softmax

    rng = np.random.default_rng(3)
    joint, line = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    labels = rng.integers(0, 4, 12)
    rev_j, rev_l, rev_y = joint[::-1], line[::-1], labels[::-1]
    np.testing.assert_array_equal(fused_probabilities(rev_j, rev_l, 0.3),
                                  fused_probabilities(rev_j.copy(), rev_l.copy(), 0.3))
    np.testing.assert_array_equal(softmax(joint[:, ::-1]), softmax(joint[:, ::-1].copy()))
    assert fit_fusion_alpha(rev_j, rev_l, rev_y)[0] == fit_fusion_alpha(joint, line, labels)[0]


def test_fusion_takes_torch_scores_as_float64_cpu_numbers():
    """Scores given as float32 torch tensors (what the engine collects) are fused in float64 on the
    CPU: the same numbers as from float64 NumPy, to float64 precision."""
    j32 = torch.tensor([[0.1, 0.2, 0.3], [2.0, -1.0, 0.5]], dtype=torch.float32)
    l32 = torch.tensor([[0.3, -0.2, 0.05], [0.0, 0.4, -0.3]], dtype=torch.float32)
    got = fused_probabilities(j32, l32, 0.3)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    j64, l64 = j32.numpy().astype(np.float64), l32.numpy().astype(np.float64)
    p = np.exp(j64) / np.exp(j64).sum(-1, keepdims=True)
    q = np.exp(l64) / np.exp(l64).sum(-1, keepdims=True)
    np.testing.assert_allclose(got, 0.3 * p + 0.7 * q, rtol=1e-13)
