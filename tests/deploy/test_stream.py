"""StreamRecognizer: offline equivalence on real data, fixed memory, missing data, bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from deploy_helpers import KINETICS_CLIP, H, W, tiny_arrn, tiny_asgcn, write_openpose_dir

from skelact.data.transforms import build_transforms
from skelact.deploy.sources import iter_jsonl, iter_openpose_dir, skeleton_to_jsonl
from skelact.deploy.stream import FrameAssembler, StreamRecognizer


class CountingModel(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = 0
        self.shapes = []

    def forward(self, x):
        self.calls += 1
        self.shapes.append(tuple(x.shape))
        return self.model(x)


def offline_scores(model, transform, data, end, window):
    """What the model says about frames ``end - window + 1 .. end`` run as one offline sample."""
    clip = data[max(0, end - window + 1) : end + 1].transpose(3, 0, 2, 1)
    x = transform(np.ascontiguousarray(clip))
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None])
    return torch.softmax(logits[0], 0).numpy()


@pytest.mark.parametrize("family", ["arrn", "asgcn"])
def test_stream_matches_offline_windows_on_a_real_sample(family, ntu_samples, tmp_path):
    data = ntu_samples[0]  # 74 frames, 2 bodies
    window, stride = 24, 10
    if family == "arrn":
        model = tiny_arrn()
        specs = [{"name": "CenterOnHip"}, {"name": "UniformSample", "frames": 16}]
    else:
        model = tiny_asgcn()
        specs = [{"name": "PreNormalize3D"}, {"name": "PadTo", "frames": window + 4}]  # + horizon
    transform = build_transforms(specs, layout="ntu25")
    path = tmp_path / "live.jsonl"
    with path.open("w") as f:
        skeleton_to_jsonl(data, f, confidence=True)
    counter = CountingModel(model)
    rec = StreamRecognizer(counter, "ntu25", window, stride, transform, top_k=3)
    preds = list(rec.run(iter_jsonl(path, "ntu25")))
    # predictions at frames 10, 20, ..., 70 (1-based) and a final one at EOF (frame 74)
    assert [p.frame for p in preds] == [9, 19, 29, 39, 49, 59, 69, 73]
    assert counter.calls == len(preds) == rec.calls
    for p in preds:
        want = offline_scores(model, transform, data, p.frame, window)
        assert p.window == min(window, p.frame + 1)
        np.testing.assert_allclose(p.scores, want, rtol=1e-5, atol=1e-6)
        assert p.top[0][0] == int(np.argmax(want))
        assert len(p.top) == 3 and p.top[0][1] >= p.top[1][1] >= p.top[2][1]


def test_buffer_stays_fixed_over_many_frames(ntu_samples):
    data = ntu_samples[0]
    counter = CountingModel(tiny_arrn())
    rec = StreamRecognizer(counter, "ntu25", window=16, stride=50)
    storage, nbytes = rec.buffer.storage, rec.buffer.nbytes
    state = rec.assembler.frame
    n = 0
    for _ in range(30):  # 30 x 74 = 2220 frames
        for frame in data:
            rec.push(frame)
            n += 1
            assert rec.buffer.storage is storage and rec.buffer.nbytes == nbytes
            assert len(rec.buffer) == min(n, 16)
    assert rec.assembler.frame is state
    assert rec.frames_seen == n == 2220
    assert counter.calls == n // 50  # every stride frames, never more than one call per frame
    assert all(shape == (1, 3, 16, 25, 2) for shape in counter.shapes)


def test_one_model_call_per_frame_at_most(ntu_samples):
    counter = CountingModel(tiny_arrn())
    rec = StreamRecognizer(counter, "ntu25", window=8, stride=1)
    for i, frame in enumerate(ntu_samples[1][:20]):
        before = counter.calls
        assert rec.push(frame[:1]) is not None  # stride 1: a prediction after every frame
        assert counter.calls == before + 1
        assert rec.buffer.window().shape == (min(i + 1, 8), 2, 25, 3)
    assert rec.flush() is None  # nothing new since the last prediction


def test_missing_joints_are_held_and_missing_bodies_zeroed(ntu_samples):
    data = ntu_samples[0]
    asm = FrameAssembler(2, 25, 3)  # defaults: hold joints, zero absent bodies
    asm.assemble(data[0], np.ones((2, 25), np.float32))
    conf = np.ones((2, 25), np.float32)
    conf[0, 7] = 0  # joint 7 of body 0 not detected in frame 1
    out = asm.assemble(data[1], conf).copy()
    np.testing.assert_array_equal(out[0, 7], data[0, 0, 7])  # held from frame 0
    np.testing.assert_array_equal(out[0, 6], data[1, 0, 6])
    out = asm.assemble(data[2][:1], np.ones((1, 25), np.float32)).copy()  # the second person vanished
    assert np.all(out[1] == 0)
    np.testing.assert_array_equal(out[0], data[2, 0])

    zeros = FrameAssembler(2, 25, 3, missing_joint="zeros", missing_body="hold", max_hold=1)
    zeros.assemble(data[0], np.ones((2, 25), np.float32))
    out = zeros.assemble(data[1][:1], conf[:1]).copy()
    assert np.all(out[0, 7] == 0)
    np.testing.assert_array_equal(out[1], data[0, 1])  # body 1 held one frame...
    out = zeros.assemble(data[2][:1], np.ones((1, 25), np.float32)).copy()
    assert np.all(out[1] == 0)  # ...then dropped (max_hold=1)


def test_extra_bodies_keep_the_most_confident():
    asm = FrameAssembler(2, 3, 3)
    coords = np.arange(4 * 3 * 3, dtype=np.float32).reshape(4, 3, 3) + 1
    conf = np.array([[0.1] * 3, [0.9] * 3, [0.2] * 3, [0.8] * 3], np.float32)
    out = asm.assemble(coords, conf)
    np.testing.assert_array_equal(out, coords[[1, 3]])  # top-2 by mean confidence, in their order


def test_missing_frames_are_filled_by_holding(ntu_samples):
    data = ntu_samples[1]
    rec = StreamRecognizer(tiny_arrn(), "ntu25", window=10, stride=100)
    rec.push(data[0][:1], index=0)
    rec.push(data[1][:1], index=1)
    rec.push(data[5][:1], index=5)  # frames 2, 3, 4 missing
    win = rec.buffer.window()
    assert len(win) == 6
    for k in (2, 3, 4):
        np.testing.assert_array_equal(win[k, 0], data[1, 0])
    np.testing.assert_array_equal(win[5, 0], data[5, 0])
    rec.push(data[6][:1], index=1000)  # a huge gap fills at most one window
    assert rec.frames_seen == 7 + 10


def test_bad_lines_do_not_stop_the_stream(ntu_samples, capsys):
    data = ntu_samples[1][:30]
    buf = io.StringIO()
    skeleton_to_jsonl(data, buf)
    lines = buf.getvalue().splitlines()
    lines.insert(5, "garbage")
    lines.insert(12, json.dumps({"bodies": [[[1, 2]] * 25]}))
    source = io.StringIO("\n".join(lines) + "\n")
    rec = StreamRecognizer(tiny_arrn(), "ntu25", window=10, stride=10)
    preds = list(rec.run(iter_jsonl(source, "ntu25")))  # default handler: warnings on stderr
    assert rec.frames_seen == 30 and [p.frame for p in preds] == [9, 19, 29]
    err = capsys.readouterr().err
    assert "<stream>:6: invalid JSON" in err and "<stream>:13:" in err and err.count("(skipped)") == 2


def test_openpose_folder_stream_from_a_real_kinetics_clip(shared_data, tmp_path):
    folder = tmp_path / "openpose"
    write_openpose_dir(shared_data / "kinetics_skeleton" / KINETICS_CLIP, folder, drop={40, 41})
    transform = build_transforms([{"name": "KineticsCentre"}], layout="openpose18")
    counter = CountingModel(tiny_arrn(num_classes=400, layout="openpose18", stream="joint"))
    rec = StreamRecognizer(counter, "openpose18", window=30, stride=25, transform=transform, top_k=5)
    preds = list(rec.run(iter_openpose_dir(folder, image_size=(W, H))))
    assert rec.frames_seen == 249  # the two dropped files were filled in by holding
    assert [p.frame for p in preds] == [24, 49, 74, 99, 124, 149, 174, 199, 224, 248]
    assert all(np.isfinite(p.scores).all() and abs(p.scores.sum() - 1) < 1e-5 for p in preds)
    assert rec.buffer.window().shape == (30, 2, 18, 3)
    win = rec.buffer.window()
    assert np.all((win[..., 0] >= 0) & (win[..., 0] <= 1.01))  # normalised x like Kinetics-skeleton


def test_argument_errors():
    model = tiny_arrn()
    for kw, match in ((dict(window=0), "window"), (dict(stride=0), "stride"), (dict(top_k=0), "top_k")):
        args = dict(window=4, stride=1)
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            StreamRecognizer(model, "ntu25", **args)
    with pytest.raises(ValueError, match="missing_joint"):
        StreamRecognizer(model, "ntu25", 4, missing_joint="drop")
    rec = StreamRecognizer(model, "ntu25", 4)
    with pytest.raises(ValueError, match=r"\(bodies, 25, 3\)"):
        rec.push(np.zeros((1, 20, 3), np.float32))
    with pytest.raises(RuntimeError, match="no frame"):
        rec.predict()
