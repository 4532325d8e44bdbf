"""Loading a checkpoint never runs code: skelact reads checkpoints with ``weights_only=True``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from skelact.errors import ConfigError
from skelact.train.checkpoint import load_checkpoint, load_model, update_checkpoint


class _Payload:
    """Unpickling this runs ``os.system`` (what a hostile checkpoint would carry)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def hostile(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "hostile.ckpt"
    ckpt = {
        "hyper_parameters": {"config": {}, "spec": {}, "note": _Payload(marker)},
        "state_dict": {"model.w": torch.zeros(2)},
    }
    torch.save(ckpt, path)
    return path, marker


def _update(path):
    update_checkpoint(path, lambda ckpt: None)


@pytest.mark.parametrize("load", [load_checkpoint, load_model, _update])
def test_a_checkpoint_whose_pickle_runs_code_is_refused_and_nothing_runs(hostile, load):
    path, marker = hostile
    with pytest.raises(ConfigError, match=rf"{path.name}: refused: .*weights_only=True"):
        load(path)
    assert not marker.exists()


def test_the_cli_refuses_it_too(hostile):
    path, marker = hostile
    out = subprocess.run(
        [sys.executable, "-m", "skelact.cli", "export", str(path), "--format", "onnx",
         "--out", str(path.with_suffix(".onnx"))],
        capture_output=True, text=True,
    )
    assert out.returncode != 0
    assert "refused" in out.stderr and path.name in out.stderr
    assert not marker.exists()


def test_the_payload_really_runs_code_when_loaded_without_weights_only(hostile):
    """The fixture is a real attack (otherwise the tests above prove nothing)."""
    path, marker = hostile
    torch.load(path, weights_only=False)
    assert marker.exists()
