"""Frame-by-frame ARRN-LSTM (:class:`~skelact.models.arrn.incremental.IncrementalARRN`), unit level.

Tiny models on random input: the incremental wrapper reproduces the windowed model's outputs on the
frames so far (and, past the window, the LSTM run over every frame read out over the last ``T``
outputs), uses the model's own submodules (dropout included), handles batches, ``reset()`` and the
readouts, and refuses what it cannot serve with the reason. The deploy tests
(``tests/deploy/test_incremental_stream.py``) run it on real clips through the stream recognizer.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from skelact.models import build
from skelact.models.arrn.fusion import fused_log_scores
from skelact.models.arrn.incremental import IncrementalARRN, _lstm_step

LAYOUT, V = "florence8", 8  # the smallest layout: 8 joints
TINY = {"embed_dim": 4, "iterations": 1, "attention_dim": 6, "lstm_sizes": (5, 7)}


def tiny(stream="two_stream", num_classes=4, frames=4, **kw):
    torch.manual_seed(0)
    model = build("arrn_lstm", num_classes=num_classes, layout=LAYOUT, stream=stream, frames=frames,
                  **{**TINY, **kw})
    return model.eval()


def clip(n=2, t=6, m=2, seed=1):
    """``(N, C, T, V, M)`` random joints; the second body is absent in the first frames."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, t, V, m, generator=g)
    if m > 1:
        x[:, :, :2, :, 1] = 0
    return x


def windowed(model, x):
    with torch.no_grad():
        return model(x)


def by_hand(model, x, window):
    """Each stream's LSTM over all frames of ``x``, the last ``window`` outputs read out, classified,
    fused with the model's alpha (one stream: its logits)."""
    with torch.no_grad():
        out = {name: s.classify(s.features(x)[:, -window:]) for name, s in model.streams.items()}
        if len(out) == 1:
            return next(iter(out.values()))
        return fused_log_scores(out["joint"], out["line"], model.fusion_alpha)


def feed(inc, x):
    """Step every frame of ``x (N, C, T, V, M)``; the list of what each step returned."""
    return [inc.step(x[:, :, t]) for t in range(x.shape[2])]


# ------------------------------------------------------------------ one LSTM step ------------------


@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_step_is_one_time_step_of_the_layer(with_state):
    torch.manual_seed(0)
    layer = nn.LSTM(5, 3, batch_first=True)
    with torch.no_grad():  # distinct biases, so a swapped or dropped bias shows
        layer.bias_ih_l0.uniform_(-1, 1)
        layer.bias_hh_l0.uniform_(-1, 1)
    x = torch.randn(4, 5)
    state = (torch.randn(4, 3), torch.randn(4, 3)) if with_state else None
    h, c = _lstm_step(layer, x, state)
    with torch.no_grad():
        hx = None if state is None else (state[0][None], state[1][None])
        out, (h_ref, c_ref) = layer(x[:, None], hx)
    assert h.shape == c.shape == (4, 3)
    torch.testing.assert_close(h, h_ref[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(c, c_ref[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(h, out[:, 0], atol=1e-6, rtol=1e-5)


def test_lstm_steps_chain_like_the_layer_over_a_sequence():
    torch.manual_seed(0)
    layer = nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    state = None
    hs = []
    for t in range(5):
        state = _lstm_step(layer, x[:, t], state)
        hs.append(state[0])
    with torch.no_grad():
        ref, _ = layer(x)
    torch.testing.assert_close(torch.stack(hs, 1), ref, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------- agreement with the model -----------


@pytest.mark.parametrize("readout", ["mean", "last"])
@pytest.mark.parametrize("stream", ["two_stream", "joint", "line"])
def test_the_first_frames_give_the_model_on_the_frames_so_far(readout, stream):
    model = tiny(stream, readout=readout, frames=4)
    if stream == "two_stream":
        model.fusion_alpha.fill_(0.3)  # off 0.5: the fusion weight is the model's
    x = clip(t=4)
    inc = IncrementalARRN(model)
    outs = feed(inc, x)
    for t, got in enumerate(outs, start=1):
        assert got is not None and got.shape == (2, 4)
        torch.testing.assert_close(got, windowed(model, x[:, :, :t]), atol=1e-5, rtol=1e-5)


def test_concat_gives_nothing_before_T_frames_then_the_windowed_logits():
    model = tiny(readout="concat", frames=4)
    model.fusion_alpha.fill_(0.8)
    x = clip(t=4)
    inc = IncrementalARRN(model)
    outs = feed(inc, x)
    assert outs[:3] == [None, None, None]
    torch.testing.assert_close(outs[3], windowed(model, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("readout", ["mean", "last", "concat"])
def test_past_the_window_the_lstm_carries_on_over_every_frame(readout):
    model = tiny(readout=readout, frames=3)
    model.fusion_alpha.fill_(0.3)
    x = clip(t=8)
    inc = IncrementalARRN(model)
    outs = feed(inc, x)
    for t in range(3, 9):
        torch.testing.assert_close(outs[t - 1], by_hand(model, x[:, :, :t], 3), atol=1e-5, rtol=1e-5)
    # the readout window is the last T outputs: not all of them, not a restarted LSTM
    if readout == "mean":
        assert not torch.allclose(outs[-1], by_hand(model, x, 8), atol=1e-4)
    assert not torch.allclose(outs[-1], windowed(model, x[:, :, -3:]), atol=1e-4)
    assert inc.frames_seen == 8 and inc.held == 3


def test_a_window_other_than_the_clip_length_reads_that_many_outputs():
    model = tiny("joint", readout="mean", frames=6)
    x = clip(t=7)
    inc = IncrementalARRN(model, window=2)
    assert inc.window == 2
    outs = feed(inc, x)
    for t in range(2, 8):
        torch.testing.assert_close(outs[t - 1], by_hand(model, x[:, :, :t], 2), atol=1e-5, rtol=1e-5)
    assert inc.held == 2


def test_window_one_reads_the_newest_output_only():
    model = tiny("joint", readout="mean")
    x = clip(t=4)
    inc = IncrementalARRN(model, window=1)
    outs = feed(inc, x)
    for t in range(1, 5):
        torch.testing.assert_close(outs[t - 1], by_hand(model, x[:, :, :t], 1), atol=1e-5, rtol=1e-5)


def test_the_window_can_be_given_as_a_number_string_or_float():
    model = tiny("joint", frames=5)
    assert IncrementalARRN(model, window=3.0).window == 3
    assert IncrementalARRN(model, window="2").window == 2
    assert IncrementalARRN(model).window == 5  # default: the model's clip length


class _Scale(nn.Module):
    """A deterministic stand-in for dropout: shows where the wrapper applies the model's dropout."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_it_runs_the_models_own_submodules_with_dropout_where_the_model_has_it():
    model = tiny("joint", readout="mean", lstm_sizes=(5, 6, 7))
    stream = model.streams["joint"]
    stream.input_dropout = _Scale(0.5)  # before the first LSTM layer
    stream.temporal.dropout = _Scale(3.0)  # between LSTM layers only
    x = clip(t=3)
    inc = IncrementalARRN(model)
    outs = feed(inc, x)
    for t in range(1, 4):
        torch.testing.assert_close(outs[t - 1], windowed(model, x[:, :, :t]), atol=1e-5, rtol=1e-5)


def test_weights_changed_after_wrapping_are_used():
    model = tiny("joint", readout="last")
    inc = IncrementalARRN(model)
    with torch.no_grad():
        model.streams["joint"].classifier.bias.add_(1.0)
    x = clip(t=2)
    torch.testing.assert_close(feed(inc, x)[-1], windowed(model, x), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------- readout pieces ----------------


def test_outputs_are_the_held_lstm_outputs_oldest_first():
    model = tiny(readout="mean", frames=3)
    x = clip(t=5)
    inc = IncrementalARRN(model)
    with pytest.raises(RuntimeError, match="^no frame advanced yet$"):
        inc.outputs("joint")
    for t in range(1, 6):
        inc.advance(x[:, :, t - 1])
        for name, stream in model.streams.items():
            with torch.no_grad():
                want = stream.features(x[:, :, :t])[:, -3:]
            got = inc.outputs(name)
            assert got.shape == (2, min(t, 3), 7)
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_advance_and_logits_are_the_two_halves_of_step():
    model = tiny(readout="mean", frames=3)
    model.fusion_alpha.fill_(0.7)
    x = clip(t=4)
    a, b = IncrementalARRN(model), IncrementalARRN(model)
    assert a.logits() is None and a.stream_logits() is None  # nothing held yet
    for t in range(4):
        a.advance(x[:, :, t])
        assert a.frames_seen == t + 1 and a.held == min(t + 1, 3) and a.ready
        stepped = b.step(x[:, :, t])
        torch.testing.assert_close(a.logits(), stepped)
    per_stream = a.stream_logits()
    assert set(per_stream) == {"joint", "line"}
    with torch.no_grad():
        for name, stream in model.streams.items():
            want = stream.classify(stream.features(x)[:, -3:])
            torch.testing.assert_close(per_stream[name], want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.logits(), fused_log_scores(per_stream["joint"], per_stream["line"],
                                                            model.fusion_alpha))


def test_one_stream_logits_are_that_streams_logits_unfused():
    model = tiny("line", readout="last")
    x = clip(t=2)
    inc = IncrementalARRN(model)
    feed(inc, x)
    assert set(inc.stream_logits()) == {"line"}
    torch.testing.assert_close(inc.logits(), inc.stream_logits()["line"])
    with torch.no_grad():
        torch.testing.assert_close(inc.logits(), model.streams["line"](x), atol=1e-5, rtol=1e-5)


def test_held_and_ready_count_the_outputs_in_the_window():
    model = tiny("joint", readout="concat", frames=3)
    inc = IncrementalARRN(model)
    x = clip(n=1, t=5)
    assert (inc.held, inc.ready, inc.frames_seen) == (0, False, 0)
    seen = []
    for t in range(5):
        inc.advance(x[:, :, t])
        seen.append((inc.held, inc.ready, inc.frames_seen))
    assert seen == [(1, False, 1), (2, False, 2), (3, True, 3), (3, True, 4), (3, True, 5)]
    mean = IncrementalARRN(tiny("joint", readout="mean", frames=3))
    assert not mean.ready
    mean.advance(x[:, :, 0])
    assert mean.ready


def test_the_output_ring_has_fixed_memory():
    model = tiny(readout="mean", frames=3)
    inc = IncrementalARRN(model)
    x = clip(t=7)
    inc.advance(x[:, :, 0])
    rings = {n: s.ring for n, s in inc._states.items()}
    assert all(r.shape == (2, 6, 7) for r in rings.values())
    for t in range(1, 7):
        inc.advance(x[:, :, t])
    assert all(inc._states[n].ring is rings[n] for n in rings)


# ------------------------------------------------------------------------- reset --------------------


def test_reset_starts_a_new_stream():
    model = tiny(readout="mean", frames=3)
    model.fusion_alpha.fill_(0.3)
    x, y = clip(t=5, seed=1), clip(t=3, seed=2)
    inc = IncrementalARRN(model)
    feed(inc, x)
    inc.reset()
    assert (inc.held, inc.ready, inc.frames_seen) == (0, False, 0)
    assert inc.logits() is None
    with pytest.raises(RuntimeError, match="^no frame advanced yet$"):
        inc.outputs("line")
    outs = feed(inc, y)
    for t in range(1, 4):  # as a fresh wrapper: zero LSTM state, the new frames only
        torch.testing.assert_close(outs[t - 1], windowed(model, y[:, :, :t]), atol=1e-5, rtol=1e-5)


def test_reset_allows_another_batch_size():
    model = tiny("joint")
    inc = IncrementalARRN(model)
    inc.step(clip(n=2, t=1)[:, :, 0])
    with pytest.raises(ValueError, match=r"batch size 2, got a frame of 3 \(reset\(\) to start"):
        inc.step(clip(n=3, t=1)[:, :, 0])
    inc.reset()
    x = clip(n=3, t=2)
    assert feed(inc, x)[-1].shape == (3, 4)
    torch.testing.assert_close(inc.logits(), windowed(model, x), atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------- batches ------------------


def test_a_batch_advances_independent_streams():
    model = tiny(readout="mean", frames=3)
    x = clip(n=3, t=4)
    batch = feed(IncrementalARRN(model), x)[-1]
    for i in range(3):
        single = feed(IncrementalARRN(model), x[i : i + 1])[-1]
        torch.testing.assert_close(batch[i : i + 1], single, atol=1e-5, rtol=1e-5)


def test_a_single_frame_without_batch_axis_is_a_batch_of_one():
    model = tiny(readout="mean", frames=3)
    x = clip(n=1, t=3)
    inc = IncrementalARRN(model)
    outs = [inc.step(x[0, :, t]) for t in range(3)]  # (C, V, M) frames
    assert outs[-1].shape == (1, 4)
    torch.testing.assert_close(outs[-1], windowed(model, x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="batch size 1, got a frame of 2"):
        inc.step(clip(n=2, t=1)[:, :, 0])


def test_numpy_and_float64_frames_are_converted_to_the_models_dtype():
    model = tiny("joint", readout="last")
    x = clip(n=1, t=2)
    inc = IncrementalARRN(model)
    for t in range(2):
        out = inc.step(x[0, :, t].double().numpy())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, windowed(model, x), atol=1e-5, rtol=1e-5)
    model64 = tiny("joint", readout="last").double()
    out64 = IncrementalARRN(model64).step(np.asarray(x[0, :, 0]))
    assert out64.dtype == torch.float64


def test_frames_are_moved_to_the_models_device():
    model = tiny(readout="mean", frames=3).to("meta")  # the meta device stands in for an accelerator
    inc = IncrementalARRN(model)
    x = inc._as_batch(clip(n=1, t=1, m=1)[0, :, 0])  # a CPU frame (C, V, M), as advance() batches it
    assert x.device.type == "meta" and x.shape == (1, 3, V, 1)


@pytest.mark.parametrize("shape", [(3, V), (1, 1, 3, V, 2), (3,)])
def test_a_frame_of_the_wrong_rank_is_refused_with_its_shape(shape):
    inc = IncrementalARRN(tiny("joint"))
    want = f"a frame is (C, V, M) or (N, C, V, M), got shape {shape}"
    with pytest.raises(ValueError, match=re.escape(want)):
        inc.step(torch.zeros(shape))
    assert inc.frames_seen == 0 and inc._batch is None


# ------------------------------------------------------------------------ refusals -----------------


def test_only_an_arrn_lstm_model_in_eval_mode_is_accepted():
    with pytest.raises(TypeError, match=r"needs an ARRN-LSTM PyTorch model \(ARRNLSTM\), got Linear"):
        IncrementalARRN(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"^incremental inference needs the model in eval mode "
                                         r"\(call model.eval\(\)\)$"):
        IncrementalARRN(tiny("joint").train())


@pytest.mark.parametrize("layer", [
    nn.LSTM(6, 5, num_layers=2, batch_first=True),
    nn.LSTM(6, 5, bidirectional=True, batch_first=True),
    nn.LSTM(6, 5, proj_size=3, batch_first=True),
    nn.GRU(6, 5, batch_first=True),
])
def test_lstm_layers_it_cannot_step_are_refused(layer):
    model = tiny("joint")
    model.streams["joint"].temporal.layers[0] = layer
    with pytest.raises(TypeError, match="incremental inference steps one-layer one-way nn.LSTMs, got"):
        IncrementalARRN(model)


def test_a_bad_window_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"the readout window T is needed: the model does not know its "
                                         r"clip length \(pass window=T, the training frames\)"):
        IncrementalARRN(tiny("joint", frames=None))  # built without frames=
    assert IncrementalARRN(tiny("joint", frames=None), window=4).window == 4
    with pytest.raises(ValueError, match="window must be >= 1 frame, got 0"):
        IncrementalARRN(tiny("joint", frames=3), window=0)
    with pytest.raises(ValueError, match=r"readout='concat' reads exactly the model's T=3 outputs, "
                                         r"got window=2"):
        IncrementalARRN(tiny("joint", readout="concat", frames=3), window=2)
    assert IncrementalARRN(tiny("joint", readout="concat", frames=3), window=3).window == 3
