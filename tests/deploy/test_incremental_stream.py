"""The incremental ARRN-LSTM stream (issue #34 item 3): one frame of compute per frame.

On real samples fed frame by frame: after exactly T frames (a window on which the test transform
``UniformSample(T)`` is the identity in time) the incremental logits equal the windowed model's; after
T + k frames they equal the LSTM run over all T + k frames from zero state read out over the last T
outputs (and differ from the windowed model, which restarts the LSTM at the window); ``reset()``
restores the first-window equality; each frame costs one RRN call per stream on that frame's
bodies, whatever T; models and transforms the mode cannot serve are refused with the reason.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from deploy_helpers import tiny_arrn, tiny_asgcn

from skelact.cli import main
from skelact.data import iter_samples
from skelact.data.bundled import bundled_path
from skelact.data.transforms import build_transforms
from skelact.deploy.sources import skeleton_to_jsonl
from skelact.deploy.stream import (
    IncrementalStreamRecognizer,
    NotPerFrameError,
    StreamModel,
    StreamRecognizer,
    frame_transform,
    load_stream_model,
)
from skelact.evaluation.fusion import fused_log_scores
from skelact.models.arrn import incremental
from skelact.models.arrn.incremental import IncrementalARRN

CKPT = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"
T = 8


@pytest.fixture(scope="module")
def florence():
    """A real Florence3D sequence from the bundled file, ``(35, 1, 8, 3)``."""
    path = next(bundled_path("florence3d").glob("Florence_dataset_Features.txt*"))
    data = next(s.data for s in iter_samples(path) if s.data.shape[0] >= 35)
    return np.ascontiguousarray(data, dtype=np.float32)


def _case(name, ntu_samples, florence):
    """``(model, layout, specs, frames (T', M, V, C))`` for one test case.

    ``checkpoint``: the saved two-stream ARRN-LSTM (readout mean, T = 8, Florence3D, its own test
    transforms), alpha set off 0.5 so the fusion weight matters. ``mean`` / ``concat`` / ``last``:
    tiny two-stream models with that readout and three LSTM layers (dropout between them, off in
    eval) on the real two-person NTU clip A050 (CenterOnHip per frame, both bodies through the RRN
    and body pooling).
    """
    if name == "checkpoint":
        loaded = load_stream_model(CKPT / "arrn_lstm.ckpt")
        assert loaded.frames == T and loaded.model.streams["joint"].readout == "mean"
        loaded.model.fusion_alpha.fill_(0.3)
        return loaded.model, loaded.layout, loaded.transform_specs, florence
    model = tiny_arrn(readout=name, frames=T, lstm_sizes=(16, 12, 16), dropout=0.3)  # 3 layers, eval
    model.fusion_alpha.fill_(0.3)
    specs = [{"name": "CenterOnHip"}, {"name": "UniformSample", "frames": T}]
    return model, "ntu25", specs, ntu_samples[0]


def _windowed_logits(model, layout, specs, frames):
    """The windowed model on ``frames`` (one sample, its test transforms), ``(K,)``."""
    x = build_transforms(specs, layout=layout)(np.ascontiguousarray(frames.transpose(3, 0, 2, 1)))
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None])[0]


def _hand_logits(model, layout, frames, window):
    """By hand: hip-centre every frame, run each stream's LSTM over all the frames from zero state
    (``features``), read out the last ``window`` outputs, classify, fuse with the model's alpha."""
    x = build_transforms([{"name": "CenterOnHip"}], layout=layout)(frames.transpose(3, 0, 2, 1))
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]
    out = {}
    with torch.no_grad():
        for name, stream in model.streams.items():
            q = stream.features(x)[:, -window:]  # (1, window, h): the last window outputs
            z = {"mean": q.mean(1), "last": q[:, -1], "concat": q.flatten(1)}[stream.readout]
            out[name] = stream.classifier(z)[0]
        return fused_log_scores(out["joint"], out["line"], model.fusion_alpha)


def _incremental_logits(rec):
    return rec.incremental.logits()[0]


CASES = ["checkpoint", "mean", "concat", "last"]


@pytest.mark.parametrize("case", CASES)
def test_after_exactly_T_frames_it_gives_the_windowed_logits(case, ntu_samples, florence):
    model, layout, specs, data = _case(case, ntu_samples, florence)
    rec = IncrementalStreamRecognizer(model, layout, T, stride=1, transform=specs,
                                      num_bodies=data.shape[1], top_k=3)
    windowed = StreamRecognizer(model, layout, T, stride=1, transform=build_transforms(specs, layout=layout),
                                num_bodies=data.shape[1])
    preds = [rec.push(frame) for frame in data[:T]]
    wpred = [windowed.push(frame) for frame in data[:T]][-1]
    if case == "concat":
        assert preds[: T - 1] == [None] * (T - 1)  # the readout needs T outputs
    else:  # frames so far, not zero-padded: the model on frames[:t]
        for t in (1, T // 2):
            with torch.no_grad():
                x = torch.from_numpy(np.ascontiguousarray(data[:t].transpose(3, 0, 2, 1)))[None]
                x = torch.from_numpy(build_transforms(specs[:1], layout=layout)(x[0].numpy()))[None]
                want = model(x)[0]
            np.testing.assert_allclose(preds[t - 1].scores, torch.softmax(want, 0).numpy(), atol=1e-6)
    pred = preds[-1]
    assert pred is not None and pred.frame == T - 1 and pred.window == T
    want = _windowed_logits(model, layout, specs, data[:T])
    np.testing.assert_allclose(_incremental_logits(rec).numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pred.scores, wpred.scores, rtol=1e-5, atol=1e-6)
    assert pred.top[0][0] == wpred.top[0][0]
    # the same through IncrementalARRN alone on the hip-centred frames, batch of one
    inc = IncrementalARRN(model)
    x = build_transforms(specs[:1], layout=layout)(np.ascontiguousarray(data[:T].transpose(3, 0, 2, 1)))
    outs = [inc.step(torch.from_numpy(np.ascontiguousarray(x[:, t]))) for t in range(T)]
    np.testing.assert_allclose(outs[-1][0].numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_later_the_lstm_carries_its_state_and_reads_the_last_T_outputs(case, ntu_samples, florence):
    model, layout, specs, data = _case(case, ntu_samples, florence)
    rec = IncrementalStreamRecognizer(model, layout, T, stride=1, transform=specs, num_bodies=data.shape[1])
    k = 3 * T + 3  # several windows past the first, not a multiple of T
    assert data.shape[0] >= T + k
    for t in range(T + k):
        rec.push(data[t])
        if t + 1 < T or (t + 1) % 5 and t + 1 != T + k:
            continue
        got = _incremental_logits(rec)
        want = _hand_logits(model, layout, data[: t + 1], T)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    # not the windowed model on the last T frames (it restarts the LSTM at the window's first frame)
    windowed = _windowed_logits(model, layout, specs, data[k:T + k])
    assert (got - windowed).abs().max() > 1e-3
    if model.streams["joint"].readout == "mean":  # and not a readout over all T + k outputs
        over_all = _hand_logits(model, layout, data[: T + k], T + k)
        assert (got - over_all).abs().max() > 1e-3
    assert rec.steps == rec.frames_seen == T + k and rec.incremental.held == T


@pytest.mark.parametrize("case", ["checkpoint", "concat"])
def test_reset_restores_the_first_window_equality(case, ntu_samples, florence):
    model, layout, specs, data = _case(case, ntu_samples, florence)
    rec = IncrementalStreamRecognizer(model, layout, T, stride=1, transform=specs, num_bodies=data.shape[1])
    for frame in data[: T + 5]:
        rec.push(frame)
    rec.reset()
    assert rec.frames_seen == rec.steps == 0 and rec.incremental.held == 0
    start = T + 5  # a new stream: frames T + 5 .. 2T + 4 of the recording
    preds = [rec.push(frame) for frame in data[start : start + T]]
    assert preds[-1] is not None and preds[-1].frame == T - 1 and preds[-1].window == T
    want = _windowed_logits(model, layout, specs, data[start : start + T])
    np.testing.assert_allclose(_incremental_logits(rec).numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("window", [4, 16])
def test_a_frame_costs_one_rrn_call_per_stream_on_its_bodies_whatever_T(window, ntu_samples, monkeypatch):
    data = ntu_samples[0]  # two people in most frames
    model = tiny_arrn(readout="mean", frames=window, lstm_sizes=(16, 12))
    calls = []
    lstm_steps = []
    sequences = []
    hooks = [s.rrn.register_forward_hook(lambda m, args, out, n=n: calls.append((n, args[0].shape[0])))
             for n, s in model.streams.items()]
    hooks += [layer.register_forward_hook(lambda m, args, out: sequences.append(args[0].shape))
              for s in model.streams.values() for layer in s.temporal.layers]  # fmt: skip
    step = incremental._lstm_step

    def counted_step(layer, x, state):
        lstm_steps.append((layer.hidden_size, tuple(x.shape)))
        return step(layer, x, state)

    monkeypatch.setattr(incremental, "_lstm_step", counted_step)
    rec = IncrementalStreamRecognizer(model, "ntu25", window, stride=3, transform=[{"name": "CenterOnHip"}])
    rings = {n: None for n in model.streams}
    try:
        for t, frame in enumerate(data[:40]):
            calls.clear()
            lstm_steps.clear()
            pred = rec.push(frame)
            bodies = int(np.any(frame != 0, axis=(1, 2)).sum()) or 1
            assert sorted(calls) == [("joint", bodies), ("line", bodies)]  # this frame's bodies only
            # one time step of one sample per LSTM layer and stream, never a sequence
            assert sorted(lstm_steps) == [(12, (1, 16)), (12, (1, 16)), (16, (1, 16)), (16, (1, 16))]
            assert not sequences
            assert (pred is not None) == ((t + 1) % 3 == 0)  # stride spaces predictions, not steps
            for n in rings:
                ring = rec.incremental._states[n].ring
                assert rings[n] is None or ring is rings[n]  # fixed memory
                rings[n] = ring
    finally:
        for h in hooks:
            h.remove()
    assert rec.steps == 40 and rec.calls == 40 // 3
    assert rings["joint"].shape == (1, 2 * window, 12)


def test_gaps_in_the_stream_advance_the_lstm_once_per_filled_frame(ntu_samples):
    data = ntu_samples[1]
    model = tiny_arrn(stream="joint", readout="mean", frames=T)
    rec = IncrementalStreamRecognizer(model, "ntu25", T, stride=100)
    rec.push(data[0][:1], index=0)
    rec.push(data[4][:1], index=4)  # frames 1-3 missing: held, as the windowed mode does
    assert rec.steps == rec.frames_seen == 5
    frames = np.stack([data[0], data[0], data[0], data[0], data[4]])  # (5, M, V, C)
    frames[:, 1] = 0  # only body 0 was pushed
    inc = IncrementalARRN(model)
    for f in frames:
        inc.advance(torch.from_numpy(np.ascontiguousarray(f.transpose(2, 1, 0))))  # (C, V, M)
    np.testing.assert_allclose(rec.incremental.logits().numpy(), inc.logits().numpy(), atol=1e-6)


def test_models_and_transforms_it_cannot_serve_are_refused(ntu_samples, tmp_path, capsys):
    with pytest.raises(TypeError, match="ARRN-LSTM"):
        IncrementalStreamRecognizer(tiny_asgcn(), "ntu25", 16)
    with pytest.raises(TypeError, match="ARRN-LSTM"):
        IncrementalARRN(lambda x: x, 8)
    training = tiny_arrn(readout="mean", frames=T).train()
    with pytest.raises(ValueError, match="eval mode"):
        IncrementalARRN(training)
    with pytest.raises(ValueError, match="concat"):
        IncrementalARRN(tiny_arrn(readout="concat", frames=T), window=T + 1)
    model = tiny_arrn(readout="mean", frames=T)
    for specs, why in (
        ([{"name": "CenterOnHip"}, {"name": "UniformSample", "frames": T + 2}], "identity in time"),
        ([{"name": "PreNormalize3D"}], "first frame"),
        ([{"name": "DropEmptyFrames"}], "removes frames"),
        ([{"name": "RandomRotate"}], "random"),
        (build_transforms([{"name": "PadTo", "frames": T + 1}], layout="ntu25"), "identity in time"),
        (lambda x: x, "cannot tell"),
    ):
        with pytest.raises(NotPerFrameError, match=why):
            IncrementalStreamRecognizer(model, "ntu25", T, transform=specs)
    exported = StreamModel(model=lambda x: x, layout="ntu25", frames=T, bodies=2, transform=None,
                           labels=None, source="onnx")
    with pytest.raises(TypeError, match="exported onnx file"):
        exported.recognizer(incremental=True)
    assert type(exported.recognizer()) is StreamRecognizer  # the windowed mode stays the default
    # per frame or the identity on T frames: accepted, the temporal step dropped
    steps = frame_transform([{"name": "CenterOnHip"}, {"name": "UniformSample", "frames": T},
                             {"name": "PadTo", "frames": T}], T, "ntu25")
    assert [type(s).__name__ for s in steps.transforms] == ["CenterOnHip"]

    # the CLI: a clear error for an AS-GCN checkpoint, none for the ARRN-LSTM one
    live = tmp_path / "live.jsonl"
    with live.open("w") as f:
        skeleton_to_jsonl(np.zeros((3, 1, 8, 3), np.float32) + 1, f)
    assert main(["stream", str(CKPT / "asgcn.ckpt"), "--source", str(live), "--incremental"]) == 2
    err = capsys.readouterr().err
    assert "--incremental" in err and "ARRN-LSTM" in err and "windowed" in err
    assert main(["stream", str(CKPT / "asgcn.ckpt"), "--source", str(live), "--stride", "2"]) == 0


def test_the_cli_incremental_stream_agrees_with_the_windowed_one_on_the_first_window(florence, tmp_path):
    live = tmp_path / "live.jsonl"
    with live.open("w") as f:
        skeleton_to_jsonl(florence, f)
    runs = {}
    for mode in ("windowed", "incremental"):
        out = io.StringIO()
        argv = ["stream", str(CKPT / "arrn_lstm.ckpt"), "--source", str(live), "--stride", "1", "--top", "9",
                "--json"] + (["--incremental"] if mode == "incremental" else [])  # fmt: skip
        with contextlib.redirect_stdout(out):
            assert main(argv) == 0
        runs[mode] = [json.loads(line) for line in out.getvalue().splitlines()]
    inc, win = runs["incremental"], runs["windowed"]
    assert [p["frame"] for p in inc] == list(range(len(florence)))
    first_inc = {t["class"]: t["score"] for t in inc[T - 1]["top"]}
    first_win = {t["class"]: t["score"] for t in win[T - 1]["top"]}
    assert first_inc.keys() == first_win.keys() and len(first_inc) == 9
    for name, score in first_inc.items():
        assert abs(score - first_win[name]) <= 2e-6
