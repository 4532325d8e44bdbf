"""Deployment needs no training engine: in a process where Lightning (and ``skelact.train``) cannot be
imported, ``skelact.deploy`` imports, ``skelact export`` writes an ONNX file from a saved checkpoint
and ``skelact stream`` runs both the checkpoint and the export, with the window and the test-time
transforms the checkpoint's input spec gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skelact.data import iter_samples
from skelact.data.bundled import bundled_path
from skelact.deploy.sources import skeleton_to_jsonl

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"

#: Runs in a fresh interpreter: blocks the imports, then exports and streams through the CLI.
SCRIPT = r"""
import contextlib, importlib.abc, io, json, sys

BLOCKED = ("lightning", "pytorch_lightning", "lightning_fabric", "torchmetrics", "skelact.train")


def blocked(name):
    return any(name == b or name.startswith(b + ".") for b in BLOCKED)


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if blocked(name):
            raise ImportError(f"{name} is blocked in this test")
        return None


sys.meta_path.insert(0, Blocker())
try:
    import pytorch_lightning  # noqa: F401
    block_works = False
except ImportError:
    block_works = True

import skelact.deploy
from skelact.cli import main

checkpoint, onnx_path, live = sys.argv[1:4]


def cli(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(list(argv))
    return rc, out.getvalue()


result = {"block_works": block_works, "streams": []}
result["export"], _ = cli("export", checkpoint, "--format", "onnx", "--out", onnx_path)
for model in (checkpoint, onnx_path):
    rc, out = cli("stream", model, "--source", live, "--stride", "4", "--top", "3", "--json")
    predictions = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    result["streams"].append({"rc": rc, "predictions": predictions})
loaded = skelact.deploy.load_stream_model(checkpoint)
result["window"] = loaded.frames
result["loaded_modules"] = sorted(m for m in sys.modules if blocked(m))
print("RESULT " + json.dumps(result))
"""


@pytest.fixture(scope="module")
def live_jsonl(tmp_path_factory):
    """The first bundled Florence3D sequence as a live JSON-lines stream."""
    florence = next(bundled_path("florence3d").glob("Florence_dataset_Features.txt*"))
    path = tmp_path_factory.mktemp("live") / "live.jsonl"
    with path.open("w") as f:
        skeleton_to_jsonl(next(iter(iter_samples(florence))).data, f)
    return path


@pytest.mark.parametrize("family, window", [("arrn_lstm", 8), ("asgcn", 12)])
def test_export_and_stream_without_lightning(family, window, live_jsonl, tmp_path):
    onnx_path = tmp_path / f"{family}.onnx"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(FIXTURES / f"{family}.ckpt"), str(onnx_path), str(live_jsonl)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["block_works"]
    assert result["loaded_modules"] == []
    assert result["export"] == 0 and onnx_path.is_file()
    assert result["window"] == window  # the checkpoint's spec: data.frames at training time
    ckpt_run, onnx_run = result["streams"]
    assert ckpt_run["rc"] == onnx_run["rc"] == 0
    assert len(ckpt_run["predictions"]) == len(onnx_run["predictions"]) >= 2
    for a, b in zip(ckpt_run["predictions"], onnx_run["predictions"], strict=True):
        assert a["window"] == b["window"] <= window
        assert [t["class"] for t in a["top"]] == [t["class"] for t in b["top"]]
        np.testing.assert_allclose([t["score"] for t in a["top"]], [t["score"] for t in b["top"]], atol=1e-4)
