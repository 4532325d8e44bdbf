"""Resume that proves it resumed: a real ``skelact train`` process is SIGKILLed after its first
checkpoint, ``--resume`` continues it, and the resumed process trains only the remaining epochs
(its own step counter says so) and ends with the same weights and metrics as an uninterrupted run.
On the bundled Florence3D sample, so it runs on a fresh clone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from skelact.data.bundled import bundled_path
from skelact.train.checkpoint import read_checkpoint_file


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from skelact.data.prepare import prepare

    out = tmp_path_factory.mktemp("resume") / "florence3d"
    prepare("florence3d", bundled_path("florence3d"), out, workers=1, progress=False)
    return out


def _train(args, out, env_extra=None, wait=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    cmd = [sys.executable, "-m", "skelact", "train", *map(str, args), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if wait:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    return proc


def _kill_after_first_checkpoint(args, out):
    """Start the run, let it hang inside epoch 1 (after epoch 0's checkpoint), SIGKILL it."""
    proc = _train(args, out, {"SKELACT_FAULT_HANG_AT": "1:1"}, wait=False)
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not last.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # it is hanging at epoch 1, batch 1 by now (or about to)
    assert proc.poll() is None, proc.communicate()[1]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "metrics.json").exists()
    return read_checkpoint_file(last)


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


CASES = {
    # cosine schedule + EMA, the best checkpoint (validation top-1) evaluated: the best score and
    # the schedule's position must survive the kill
    "arrn_cosine_ema_best": ["tiny/arrn_lstm", "train.epochs=4", "train.schedule.name=cosine",
                             "train.averaging.name=ema", "train.averaging.decay=0.8",
                             "model.options.dropout=0.3"],
    # AS-GCN: killed after the AIM warm-up epoch, resumed into the two-optimiser phase
    "asgcn_across_warmup": ["tiny/asgcn", "train.epochs=3", "train.schedule.name=cosine"],
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_sigkill_then_resume_trains_only_the_rest_and_equals_an_uninterrupted_run(store, tmp_path, case):
    args = [*CASES[case], f"data.store={store}", "train.progress=false"]
    _train(args, tmp_path / "full")
    killed = _kill_after_first_checkpoint(args, tmp_path / "cut")
    assert killed["epoch"] == 0
    _train([*args, "--resume"], tmp_path / "cut")

    full, cut = _metrics(tmp_path / "full"), _metrics(tmp_path / "cut")
    assert full["resumed"] is False and cut["resumed"] is True
    # the resumed process started where the checkpoint left off and ran only the remaining epochs
    epochs = full["epochs"]
    assert full["trained"]["start_step"] == 0 and full["trained"]["start_epoch"] == 0
    assert cut["trained"]["start_epoch"] == 1
    assert cut["trained"]["start_step"] == killed["global_step"] > 0
    per_epoch = full["trained"]["batches_run"] / epochs
    assert cut["trained"]["batches_run"] == per_epoch * (epochs - 1)
    assert cut["trained"]["end_step"] == full["trained"]["end_step"]
    for key in ("test", "val", "checkpoint", "num_samples", "epochs"):
        assert full[key] == cut[key], key
    a = read_checkpoint_file(tmp_path / "full" / "checkpoints" / "last.ckpt")
    b = read_checkpoint_file(tmp_path / "cut" / "checkpoints" / "last.ckpt")
    for part in ("state_dict", *(("current_model_state",) if "current_model_state" in a else ())):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part


def test_a_fold_protocol_resumes_without_redoing_finished_folds(store, tmp_path):
    args = ["tiny/arrn_lstm", f"data.store={store}", "train.progress=false", "train.epochs=2",
            "data.fold=[1, 2]"]  # fmt: skip
    out = tmp_path / "loso"
    proc = _train(args, out, {"SKELACT_FAULT_HANG_AT": "0:1:2"}, wait=False)  # in the 2nd fold
    deadline = time.time() + 240
    # fold 1 finishes, then fold 2 hangs in its first epoch
    while not (out / "fold_02" / "config.yaml").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None
    # only fold 2 is hanging once fold 1 has its metrics; kill the whole run
    assert (out / "fold_01" / "metrics.json").is_file()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    first = (out / "fold_01" / "metrics.json").read_bytes()
    _train([*args, "--resume"], out)
    assert (out / "fold_01" / "metrics.json").read_bytes() == first  # not retrained
    summary = _metrics(out)
    assert set(summary["folds"]) == {"1", "2"}
    assert _metrics(out / "fold_02")["trained"]["start_epoch"] == 0  # killed before any checkpoint
