"""Every ARRN-LSTM option (:class:`~skelact.models.arrn.ARRNOptions`) not proven elsewhere is proven
here by what it changes in the output, against the behaviour its docstring states.

Mutation check: each test was run against a scratch copy of ``src`` with the one-line mutation
below (``PYTHONPATH=<copy>/src``, ``skelact.__file__`` checked) and failed; the copy was discarded.

* attention: NodeAttention.forward ``w = w * self.mask.unsqueeze(-1)`` -> ``w = w * 1.0``.
* iterations: RecurrentRelationalNetwork.forward ``range(self.iterations)`` ->
  ``range(min(self.iterations, 2))``.
* embed_dim / message_hidden / lstm sizes: ARRNStream ``RecurrentRelationalNetwork(embed_dim, iterations,
  message_hidden, checkpoint)`` -> ``(embed_dim, iterations, None, checkpoint)``.
* readout: ARRNStream.forward ``z = q.mean(dim=1)`` -> ``z = q[:, -1]``.
* body_pool: ARRNStream.relate ``.amax(dim=2)`` -> ``.amin(dim=2)``; and, separately, the mean's
  ``/ mask.sum(dim=2)`` -> ``/ m`` (absent bodies counted).
* frames: ARRNStream ``lstm_sizes[-1] * (frames if readout == "concat" else 1)`` -> ``* (frames or 1)``.
* dropout: ARRNStream ``self.input_dropout = nn.Dropout(dropout)`` -> ``nn.Dropout(0.0)``.
* label_smoothing: ARRNLSTM.losses ``label_smoothing=smooth`` -> dropped on the line stream.
* coverage registry: (not a mutation test) fails when an ARRNOptions field is added without a test.
"""

from __future__ import annotations

import dataclasses
import pathlib

import pytest
import torch

from skelact.models import build
from skelact.models.arrn import ARRNOptions

V = 8  # florence8: the smallest layout
TINY = {"embed_dim": 4, "attention_dim": 6, "lstm_sizes": (5,), "iterations": 2}
MASK = "streams.joint.attention.mask"


def _model(seed=0, **options):
    torch.manual_seed(seed)
    return build("arrn_lstm", num_classes=3, layout="florence8", stream="joint", **{**TINY, **options})


def _x(t=5, m=1, n=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, V, m, generator=g)


def _same_weights(a, b, skip=()):
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) - set(skip) == set(sb) - set(skip)
    return all(torch.equal(sa[k], sb[k]) for k in sa if k not in skip)


def test_attention_mask_of_ones_is_no_mask_and_the_mask_scales_each_node_into_the_fc():
    """Eq. 9: ``p = Fc(m_1 w_1, ..., m_J w_J)``. The mask starts at ones (the RRN-LSTM); a mask
    ``m`` equals the RRN-LSTM whose FC columns of node ``i`` are multiplied by ``m_i``."""
    x = _x()
    on, off = _model(attention=True).eval(), _model(attention=False).eval()
    assert set(on.state_dict()) - set(off.state_dict()) == {MASK}
    assert _same_weights(on, off, skip={MASK})  # the ones mask draws no random numbers
    with torch.no_grad():
        torch.testing.assert_close(on(x), off(x))
        before = off(x)
        mask = torch.rand(V) + 0.5
        on.streams["joint"].attention.mask.copy_(mask)
        fc = off.streams["joint"].attention.fc
        fc.weight.copy_((fc.weight.view(6, V, 4) * mask[None, :, None]).view(6, V * 4))
        torch.testing.assert_close(on(x), off(x))
        assert not torch.allclose(on(x), before, atol=1e-4)


def _literal_rrn(rrn, v, iterations):
    """Eqs. 4-8 node by node: ``h^0 = v``; per iteration ``m_i = sum_{j != i} f(h_i, h_j)``,
    ``h_i = g([v_i; m_i], h_i)``."""
    h = v
    for _ in range(iterations):
        m = torch.stack(
            [sum(rrn.message.pairwise(h[:, i], h[:, j]) for j in range(V) if j != i) for i in range(V)], dim=1
        )
        h = torch.stack([rrn.node(torch.cat([v[:, i], m[:, i]], dim=-1), h[:, i]) for i in range(V)], dim=1)
    return h


def test_iterations_is_the_number_of_message_passes():
    x = _x(t=3)
    out = {}
    models = {e: _model(iterations=e).eval() for e in (1, 3)}
    assert _same_weights(models[1], models[3])  # E adds no parameters: f and g are shared
    for e, m in models.items():
        s = m.streams["joint"]
        assert s.rrn.iterations == e
        with torch.no_grad():
            v = s.embed(x.permute(0, 2, 4, 3, 1)).reshape(-1, V, 4)  # one node set per frame (one body)
            torch.testing.assert_close(s.relate(x), _literal_rrn(s.rrn, v, e).view(2, 3, V, 4))
            out[e] = m(x)
    assert not torch.allclose(out[1], out[3], atol=1e-4)


def test_hidden_sizes_set_the_parameter_shapes():
    m = _model(
        embed_dim=4,
        message_hidden=7,
        attention_dim=6,
        lstm_sizes=None,
        lstm_layers=3,
        hidden_size=5,
        mid_size=3,
    )
    s = m.streams["joint"]
    assert s.embed.out_features == 4
    f = s.rrn.message
    assert [f.fc1.weight.shape, f.fc2.weight.shape, f.fc3.weight.shape] == [(7, 8), (7, 7), (4, 7)]
    assert s.rrn.node.weight_ih.shape == (3 * 4, 2 * 4) and s.rrn.node.weight_hh.shape == (3 * 4, 4)
    assert s.attention.fc.weight.shape == (6, V * 4)
    assert [(lstm.input_size, lstm.hidden_size) for lstm in s.temporal.layers] == [(6, 5), (5, 3), (3, 5)]
    assert s.classifier.in_features == 5
    assert _model(embed_dim=4).streams["joint"].rrn.message.fc1.out_features == 4  # default: M
    # explicit per-layer sizes override lstm_layers / hidden_size / mid_size (documented)
    hp = _model(lstm_sizes=(5, 6), hidden_size=99, mid_size=98).hparams
    assert (hp["lstm_sizes"], hp["lstm_layers"], hp["hidden_size"]) == ([5, 6], 2, 6)


def test_readout_feeds_the_classifier_the_documented_lstm_outputs():
    x = _x(t=6)
    models = {r: _model(readout=r, frames=6).eval() for r in ("mean", "last", "concat")}
    with torch.no_grad():
        q = models["mean"].streams["joint"].features(x)  # (N, T, h), eq. 10
        for r, m in models.items():
            s = m.streams["joint"]
            torch.testing.assert_close(s.features(x), q)  # the readout changes only the classifier
            z = {"mean": q.mean(1), "last": q[:, -1], "concat": q.flatten(1)}[r]
            torch.testing.assert_close(m(x), s.classifier(z))
            assert not torch.allclose(m(x.flip(2)), m(x), atol=1e-4)  # the LSTM reads the frame order
        mean = models["mean"].streams["joint"].classifier
        torch.testing.assert_close(models["mean"](x), mean(q).mean(1))  # = mean of the per-step scores
        # concat: block t of the classifier reads q_t; only the last block on = the "last" readout
        last, concat = (
            models["last"].streams["joint"].classifier,
            models["concat"].streams["joint"].classifier,
        )
        concat.weight.zero_()
        concat.weight[:, -5:] = last.weight
        concat.bias.copy_(last.bias)
        torch.testing.assert_close(models["concat"](x), models["last"](x))


@pytest.mark.parametrize("pool", ["mean", "max"])
def test_body_pool_is_the_node_wise_mean_or_max_over_the_present_bodies(pool):
    x = _x(t=5, m=2)
    x[0, :, 3:, :, 1] = 0  # body 1 leaves sample 0 after frame 2
    s = _model(body_pool=pool).eval().streams["joint"]
    with torch.no_grad():
        w0, w1 = s.relate(x[..., :1]), s.relate(x[..., 1:])  # each body alone: (N, T, V, D)
        got = s.relate(x)
    both = torch.stack([w0, w1])
    want = both.mean(0) if pool == "mean" else both.amax(0)
    want[0, 3:] = w0[0, 3:]  # only body 0 is present there
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got[1], w0[1], atol=1e-4)


def test_frames_only_matters_for_the_concat_readout():
    short, long = _model(frames=5).eval(), _model(frames=50).eval()  # readout "mean"
    assert _same_weights(short, long)
    for t in (5, 7):
        x = _x(t=t)
        with torch.no_grad():
            torch.testing.assert_close(short(x), long(x))
    concat = _model(readout="concat", frames=5).eval()
    assert concat.streams["joint"].classifier.in_features == 5 * 5
    with pytest.raises(ValueError, match="T=5"):
        concat(_x(t=7))


def test_dropout_acts_on_the_lstm_input_between_layers_and_before_the_classifier():
    x = _x()
    m = _model(dropout=0.5, lstm_sizes=(5,))
    s = m.streams["joint"]
    assert (s.input_dropout.p, s.temporal.dropout.p, s.dropout.p) == (0.5, 0.5, 0.5)
    with torch.no_grad():
        m.train()  # one LSTM layer: only the input dropout acts before the classifier
        assert not torch.allclose(s.features(x), s.features(x))
        m.eval()
        torch.testing.assert_close(s.features(x), s.features(x))
        torch.testing.assert_close(m(x), m(x))
        plain = _model(dropout=0.0).train()
        torch.testing.assert_close(plain(x), plain(x))


def test_label_smoothing_smooths_every_streams_targets_and_leaves_the_scores_alone():
    torch.manual_seed(0)
    kw = dict(num_classes=3, layout="florence8", **TINY)
    plain = build("arrn_lstm", **kw).eval()
    smooth = build("arrn_lstm", label_smoothing=0.2, **kw).eval()
    smooth.load_state_dict(plain.state_dict())
    x, y = _x(), torch.tensor([0, 2])
    with torch.no_grad():
        torch.testing.assert_close(smooth(x), plain(x))  # the scores: unchanged
        logits = plain.stream_logits(x)
        got, base = smooth.losses(x, y), plain.losses(x, y)
    for stream in ("joint", "line"):
        logp = torch.log_softmax(logits[stream], -1)
        target = torch.full_like(logp, 0.2 / 3) + 0.8 * torch.nn.functional.one_hot(y, 3)
        torch.testing.assert_close(got[f"ce_{stream}"], -(target * logp).sum(-1).mean())
        assert not torch.allclose(got[f"ce_{stream}"], base[f"ce_{stream}"])
    torch.testing.assert_close(got["loss"], got["ce_joint"] + got["ce_line"])
    with pytest.raises(ValueError, match="label_smoothing"):
        build("arrn_lstm", label_smoothing=1.0, **kw)


# ---------------------------------------------------------------------- coverage registry ---
#: Options proven by an effect test elsewhere: (file, test) that does it.
COVERED_ELSEWHERE = {
    "preset": ("test_arrn_model.py", "test_preset_follows_layout"),
    "attention_init": ("test_arrn_model.py", "test_attention_weights_init_and_rrn_lstm_ones"),
    "skip_empty_bodies": ("test_arrn_model.py", "test_bodies_are_pooled_symmetrically_and_skipping_is_exact"),
    "checkpoint": ("test_arrn_model.py", "test_checkpointing_gives_the_same_loss_and_gradients"),
}
COVERED_HERE = {
    "attention": "test_attention_mask_of_ones_is_no_mask_and_the_mask_scales_each_node_into_the_fc",
    "iterations": "test_iterations_is_the_number_of_message_passes",
    "embed_dim": "test_hidden_sizes_set_the_parameter_shapes",
    "message_hidden": "test_hidden_sizes_set_the_parameter_shapes",
    "attention_dim": "test_hidden_sizes_set_the_parameter_shapes",
    "lstm_layers": "test_hidden_sizes_set_the_parameter_shapes",
    "hidden_size": "test_hidden_sizes_set_the_parameter_shapes",
    "mid_size": "test_hidden_sizes_set_the_parameter_shapes",
    "lstm_sizes": "test_hidden_sizes_set_the_parameter_shapes",
    "readout": "test_readout_feeds_the_classifier_the_documented_lstm_outputs",
    "dropout": "test_dropout_acts_on_the_lstm_input_between_layers_and_before_the_classifier",
    "body_pool": "test_body_pool_is_the_node_wise_mean_or_max_over_the_present_bodies",
    "frames": "test_frames_only_matters_for_the_concat_readout",
    "label_smoothing": "test_label_smoothing_smooths_every_streams_targets_and_leaves_the_scores_alone",
}


def test_every_arrn_option_has_an_effect_test():
    missing = {f.name for f in dataclasses.fields(ARRNOptions)} - set(COVERED_HERE) - set(COVERED_ELSEWHERE)
    assert not missing, f"ARRN options without an effect test: {sorted(missing)}"
    here = pathlib.Path(__file__).parent
    for name in COVERED_HERE.values():
        assert callable(globals().get(name)), name
    for file, test in COVERED_ELSEWHERE.values():
        assert f"def {test}(" in (here / file).read_text(), (file, test)
