"""Train to deploy on real checkpoints: ``skelact train`` a few steps on the bundled Florence3D
sample, then ``skelact export`` (ONNX and torch.export), ``skelact predict`` and ``skelact stream``
on the checkpoint the engine wrote. The ONNX Runtime logits, the torch.export logits and the
predict scores agree to 1e-4; streaming the checkpoint and its ONNX export gives the same
predictions."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from skelact.cli import main
from skelact.data import iter_samples
from skelact.data.bundled import bundled_path
from skelact.deploy.sources import skeleton_to_jsonl
from skelact.train.inference import Predictor

PRESETS = {"arrn_lstm": "tiny/arrn_lstm_two_stream", "asgcn": "tiny/asgcn"}


def _cli(*argv) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def florence_file():
    return next(bundled_path("florence3d").glob("Florence_dataset_Features.txt*"))


@pytest.fixture(scope="module", params=list(PRESETS))
def trained(request, tmp_path_factory, florence_file):
    """``(checkpoint, ONNX file, pt2 file)`` of a model trained by ``skelact train``."""
    tmp = tmp_path_factory.mktemp(request.param)
    assert _cli("prepare", "florence3d", "--src", "bundled", "--out", tmp / "store", "--no-progress")[0] == 0
    rc, _ = _cli("train", PRESETS[request.param], f"data.store={tmp / 'store'}", "train.epochs=1",
                 "train.aim.warmup_epochs=1", "train.progress=false", "--out", tmp / "run")  # fmt: skip
    assert rc == 0
    ckpt = tmp / "run" / "checkpoints" / "last.ckpt"
    for fmt in ("onnx", "pt2"):
        rc, _ = _cli("export", ckpt, "--format", fmt, "--out", tmp / f"model.{fmt}")
        assert rc == 0 and (tmp / f"model.{fmt}").is_file()
    return ckpt, tmp / "model.onnx", tmp / "model.pt2"


def test_onnx_torch_export_and_predict_agree_on_the_trained_checkpoint(trained, florence_file):
    ckpt, onnx_path, pt2_path = trained
    predictor = Predictor(ckpt)
    samples = list(iter_samples(florence_file))[:3]
    x = torch.from_numpy(np.stack([predictor.prepare(s) for s in samples]))
    k = len(predictor.class_names)
    rc, out = _cli("predict", ckpt, florence_file, "--top", k, "--json")
    assert rc == 0
    results = json.loads(out)[:3]
    predicted = np.array([[dict((t["class"], t["score"]) for t in r["top"])[c] for c in predictor.class_names]
                          for r in results])  # fmt: skip
    onnx_logits = ort.InferenceSession(str(onnx_path)).run(None, {"x": x.numpy()})[0]
    program = torch.export.load(str(pt2_path)).module()
    with torch.no_grad():
        export_logits = program(x).numpy()
        eager = predictor.model(x).numpy()
    np.testing.assert_allclose(onnx_logits, eager, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(export_logits, eager, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(predicted, torch.softmax(torch.from_numpy(onnx_logits), -1).numpy(), atol=1e-4)
    assert predicted.shape == (3, k)


def test_stream_gives_the_same_predictions_from_the_checkpoint_and_its_onnx_export(
    trained, florence_file, tmp_path
):
    ckpt, onnx_path, _ = trained
    sample = next(iter(iter_samples(florence_file)))
    live = tmp_path / "live.jsonl"
    with live.open("w") as f:
        skeleton_to_jsonl(sample.data, f)
    runs = []
    for model in (ckpt, onnx_path):
        rc, out = _cli("stream", model, "--source", live, "--stride", 5, "--top", 3, "--json")
        assert rc == 0
        runs.append([json.loads(line) for line in out.splitlines() if line.startswith("{")])
    assert len(runs[0]) == len(runs[1]) >= 2
    for a, b in zip(*runs, strict=True):
        assert [t["class"] for t in a["top"]] == [t["class"] for t in b["top"]]
        np.testing.assert_allclose([t["score"] for t in a["top"]], [t["score"] for t in b["top"]], atol=1e-4)
