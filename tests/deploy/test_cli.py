"""The ``export`` and ``stream`` verbs, through a checkpoint in the engine's format."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from skelact.cli import main
from skelact.data.class_names import NTU60_CLASSES
from skelact.deploy.sources import skeleton_to_jsonl
from skelact.models import build

NTU_FILE = "S001C001P001R001A050.skeleton"

import skelact.train.checkpoint as checkpoint_mod  # noqa: E402
import skelact.train.config as config_mod  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A two-stream ARRN-LSTM checkpoint as ``skelact train`` writes it (config + spec + weights)."""
    cfg = config_mod.load_config("tiny/arrn_lstm_two_stream", ["data.frames=20", "data.dataset=ntu60"])
    spec = {
        "num_classes": 60, "layout": "ntu25", "in_channels": 3, "class_names": list(NTU60_CLASSES),
        "input_frames": 20, "dataset": "ntu60", "bodies": 2, "channels": ["x", "y", "z"], "normalize": None,
        "store_class_names": list(NTU60_CLASSES),
    }
    torch.manual_seed(0)
    model = build("arrn_lstm", num_classes=60, layout="ntu25", in_channels=3, **cfg.model.options)
    with torch.no_grad():
        model.fusion_alpha.fill_(0.7)
    ckpt = {
        "hyper_parameters": {"config": config_mod.config_to_dict(cfg), "spec": spec},
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
    }
    path = tmp_path_factory.mktemp("ckpt") / "best.ckpt"
    checkpoint_mod.atomic_torch_save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def live_jsonl(shared_data, tmp_path_factory):
    import skelact

    sk = skelact.load(shared_data / "ntu_rgbd" / NTU_FILE)
    path = tmp_path_factory.mktemp("live") / "live.jsonl"
    with path.open("w") as f:
        skeleton_to_jsonl(sk.data, f, confidence=True)
    return path


@pytest.fixture(scope="module")
def cli_onnx(checkpoint, tmp_path_factory):
    """``skelact export CHECKPOINT --format onnx``: the file and what the command printed."""
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(["export", str(checkpoint), "--format", "onnx", "--out", str(out)])
    assert rc == 0
    return out, printed.getvalue()


def stream_json(capsys, *argv):
    assert main(["stream", *argv, "--json"]) == 0
    out = capsys.readouterr()
    return [json.loads(line) for line in out.out.splitlines()], out.err


def test_export_onnx_from_a_checkpoint(checkpoint, cli_onnx, ntu_samples):
    out, text = cli_onnx
    assert "input x (N, 3, T, 25, 2) -> logits (N, 60)" in text and "verified against PyTorch" in text
    model, _ = checkpoint_mod.load_model(checkpoint)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for frames in (20, 57):  # the traced length and another one
        x = torch.from_numpy(np.stack([s[:frames].transpose(3, 0, 2, 1) for s in ntu_samples]))
        with torch.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], want, atol=1e-4, rtol=0)


def test_stream_a_checkpoint_and_its_export_agree_with_offline_predict(
    checkpoint, cli_onnx, live_jsonl, shared_data, capsys
):
    preds, err = stream_json(capsys, str(checkpoint), "--source", str(live_jsonl), "--window", "100",
                             "--stride", "25", "--top", "3")
    assert [p["frame"] for p in preds] == [24, 49, 73]  # every 25 frames, and at the end of the input
    assert "74 frames, 3 predictions, 0 bad input(s) skipped" in err
    last = preds[-1]
    assert last["window"] == 74 and len(last["top"]) == 3 and last["top"][0]["class"] in NTU60_CLASSES

    # the final window holds the whole sample: same answer as `skelact predict` on the raw file
    from skelact.train.inference import predict_files

    offline = predict_files(checkpoint, [shared_data / "ntu_rgbd" / NTU_FILE], top=3)[0]["top"]
    assert [(t["class"], t["label"]) for t in last["top"]] == [(o["class"], o["label"]) for o in offline]
    np.testing.assert_allclose([t["score"] for t in last["top"]], [o["score"] for o in offline], atol=1e-5)

    # the same stream through the exported ONNX file (metadata carries transforms and classes)
    from_onnx, _ = stream_json(capsys, str(cli_onnx[0]), "--source", str(live_jsonl), "--window", "100",
                               "--stride", "25", "--top", "3")
    assert [p["frame"] for p in from_onnx] == [24, 49, 73]
    for a, b in zip(preds, from_onnx, strict=True):
        assert [t["class"] for t in a["top"]] == [t["class"] for t in b["top"]]
        np.testing.assert_allclose([t["score"] for t in a["top"]], [t["score"] for t in b["top"]], atol=1e-5)


def test_stream_from_stdin_with_bad_lines(checkpoint, live_jsonl, monkeypatch, capsys):
    lines = live_jsonl.read_text().splitlines()[:30]
    lines[3] = "{oops"
    lines[17] = '{"bodies": [[[1, 2, 3]]]}'
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["stream", str(checkpoint), "--source", "-", "--stride", "10", "--top", "2"]) == 0
    out = capsys.readouterr()
    shown = out.out.splitlines()
    assert "<stdin>:4: invalid JSON" in out.err and "<stdin>:18: body 0: has 1 joints" in out.err
    # the two frame numbers the bad lines took are missing frames, filled by holding the last pose
    assert "30 frames, 3 predictions, 2 bad input(s) skipped" in out.err
    assert [line.split()[1] for line in shown] == ["9", "19", "29"]
    assert shown[0].startswith("frame      9  window   10  ")
    assert shown[2].split()[3] == "20"  # the default window: the training frames


def test_cli_errors(checkpoint, tmp_path, capsys):
    assert main(["export", str(checkpoint), "--format", "pt2", "--out", str(tmp_path / "m.pt2"),
                 "--opset", "17"]) == 2
    assert "--opset applies to ONNX only" in capsys.readouterr().err
    assert main(["stream", str(checkpoint), "--source", str(tmp_path / "none.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["stream", str(checkpoint), "--source", "-", "--stride", "0"]) == 2
    assert "--stride must be >= 1" in capsys.readouterr().err


def test_export_pt2_with_a_fixed_length_and_stream_it(checkpoint, live_jsonl, tmp_path, capsys):
    out = tmp_path / "model.pt2"
    assert main(["export", str(checkpoint), "--format", "pt2", "--out", str(out), "--static-time"]) == 0
    text = capsys.readouterr().out
    assert "input x (N, 3, 20, 25, 2)" in text and "time axis: fixed at T=20" in text
    from_pt2, _ = stream_json(capsys, str(out), "--source", str(live_jsonl), "--stride", "30")
    from_ckpt, _ = stream_json(capsys, str(checkpoint), "--source", str(live_jsonl), "--stride", "30")
    assert [p["frame"] for p in from_pt2] == [29, 59, 73]
    for a, b in zip(from_pt2, from_ckpt, strict=True):  # the test transforms resample every window to T=20
        np.testing.assert_allclose([t["score"] for t in a["top"]], [t["score"] for t in b["top"]], atol=1e-5)
