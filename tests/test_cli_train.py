"""`skelact train / eval / predict / demo` end to end on real shared data (tiny configs, CPU).

The store is prepared from the real Florence3D features file (215 sequences, 9 actions). Every
run is tiny (a 48-sample subset, narrow layers, a few epochs) so the whole module stays quick.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skelact.cli import main
from skelact.machine import code_version, hardware

FLORENCE_FILE = "florence3d/Florence_dataset_Features.txt"
FLORENCE_CLASSES = [
    "wave",
    "drink from a bottle",
    "answer phone",
    "clap",
    "tight lace",
    "sit down",
    "stand up",
    "read watch",
    "bow",
]


@pytest.fixture(scope="module")
def store(sample_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_train") / "florence3d"
    rc = main(["prepare", "florence3d", "--src", str(sample_data / "florence3d"), "--out", str(out)])
    assert rc == 0
    return out


def _cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _subprocess(*argv, env_extra=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "skelact", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _epoch_losses(run_dir: Path) -> list[float]:
    rows = []
    for path in sorted(run_dir.glob("logs/version_*/metrics.csv")):
        rows += [r for r in csv.DictReader(path.open()) if r.get("train/loss")]
    return [float(r["train/loss"]) for r in sorted(rows, key=lambda r: int(r["epoch"]))]


def _check_metrics(m: dict, n_test: int) -> None:
    test = m["test"]
    assert 0.0 <= test["top1"] <= test["top5"] <= 100.0
    assert test["class_names"] == FLORENCE_CLASSES
    cm = test["confusion_matrix"]
    assert len(cm) == 9 and all(len(row) == 9 for row in cm)
    assert sum(map(sum, cm)) == test["num_samples"] == n_test == m["num_samples"]["test"]
    correct = sum(cm[i][i] for i in range(9))
    assert test["top1"] == pytest.approx(100.0 * correct / n_test, abs=1e-4)
    for i, name in enumerate(FLORENCE_CLASSES):
        n = sum(cm[i])
        assert test["per_class_accuracy"][name] == (None if n == 0 else pytest.approx(100.0 * cm[i][i] / n))
    assert m["seed"] == 0 and m["wall_time_s"] > 0 and "skelact train" in m["command"]
    assert m["dataset"] == "florence3d" and m["fold"] == 1


@pytest.mark.parametrize("preset", ["tiny/asgcn", "tiny/arrn_lstm", "tiny/arrn_lstm_two_stream"])
def test_train_eval_predict(preset, store, shared_data, tmp_path, capsys):
    run = tmp_path / "run"
    rc, out, err = _cli(
        capsys, "train", preset, f"data.store={store}", "train.epochs=4", "train.progress=false", "--out", run
    )
    assert rc == 0, err
    assert "top-1" in out and str(run) in out
    for name in ("config.yaml", "metrics.json", "checkpoints/best.ckpt", "checkpoints/last.ckpt"):
        assert (run / name).is_file(), name
    assert (run / "confusion_matrix.png").is_file()
    assert not list(run.glob("checkpoints/.*tmp*"))  # atomic writes leave no temporaries

    losses = _epoch_losses(run)
    assert len(losses) == 4 and losses[-1] < losses[0], losses  # the training loss falls
    metrics = json.loads((run / "metrics.json").read_text())
    _check_metrics(metrics, n_test=29)  # subject 1 has 29 sequences
    # the same machine probe as the reproduction report's, plus the trainer's accelerator
    probe = hardware()
    assert {k: metrics["hardware"][k] for k in ("cpu", "cpu_count", "torch")} == {
        k: probe[k] for k in ("cpu", "cpu_count", "torch")
    }
    assert metrics["hardware"]["accelerator"] == "cpu" and metrics["hardware"]["world_size"] == 1
    assert metrics["code"] == code_version()  # the same commit probe as the reproduction's unit records

    if preset.endswith("two_stream"):  # alpha fitted on validation and saved with the model
        alpha = metrics["fusion"]["alpha"]
        assert metrics["fusion"]["source"] == "validation" and 0.0 <= alpha <= 1.0
        state = torch.load(run / "checkpoints/best.ckpt", weights_only=False)["state_dict"]
        assert float(state["model.fusion_alpha"]) == pytest.approx(alpha)
    else:
        assert metrics["fusion"] is None

    # eval on the checkpoint reproduces the logged test metrics exactly
    rc, out, err = _cli(capsys, "eval", run / "checkpoints/best.ckpt", "--json")
    assert rc == 0, err
    evaluated = json.loads(out)
    assert evaluated["test"] == metrics["test"]
    if preset == "tiny/asgcn":  # future-pose error of the prediction head against two baselines
        assert evaluated["forecast"] == metrics["forecast"]
        assert set(evaluated["forecast"]["mean"]) == {"model", "zero_velocity", "constant_velocity"}
    else:
        assert "forecast" not in evaluated
    rc, out, err = _cli(capsys, "eval", run / "checkpoints/best.ckpt")
    assert rc == 0 and "top-1" in out and "wave" in out

    # predict on the raw shared file: one ranking per sequence, best first
    rc, out, err = _cli(
        capsys, "predict", run / "checkpoints/best.ckpt", shared_data / FLORENCE_FILE, "--json"
    )
    assert rc == 0, err
    preds = json.loads(out)
    assert len(preds) == 215
    for p in preds:
        scores = [t["score"] for t in p["top"]]
        assert len(scores) == 5 and scores == sorted(scores, reverse=True) and sum(scores) <= 1.0 + 1e-5
        assert {t["class"] for t in p["top"]} <= set(FLORENCE_CLASSES)
        assert p["true_class"] in FLORENCE_CLASSES
    rc, out, _ = _cli(
        capsys, "predict", run / "checkpoints/best.ckpt", shared_data / FLORENCE_FILE, "--top", "2"
    )
    assert rc == 0 and out.count("\n  1. ") == 215


def test_bad_config_and_run_directory_errors(store, tmp_path, capsys):
    rc, _, err = _cli(capsys, "train", "tiny/arrn_lstm", "data.batchsize=3")
    assert rc == 2 and "data.batchsize" in err and "did you mean 'data.batch_size'" in err
    rc, _, err = _cli(capsys, "train", "tiny/arrn_lstm", "train.epochs=two")
    assert rc == 2 and "train.epochs" in err and "expected int" in err
    rc, _, err = _cli(capsys, "train", "no/such_preset")
    assert rc == 2 and "no config file or preset" in err
    rc, out, _ = _cli(capsys, "train", "--list")
    assert rc == 0 and "asgcn/ntu60_xsub_t1_s_l1" in out and "arrn_lstm/msr3d_as3" in out
    rc, out, _ = _cli(capsys, "train", "tiny/asgcn", "train.epochs=7", "--print-config")
    assert rc == 0 and "epochs: 7" in out
    # a run directory that already holds a run needs --resume; --resume needs the same config
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    rc, out, err = _cli(
        capsys, "train", "tiny/arrn_lstm", f"data.store={store}", "--out", run, "--print-config"
    )
    (run / "config.yaml").write_text(out)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    rc, _, err = _cli(capsys, "train", "tiny/arrn_lstm", f"data.store={store}", "--out", run)
    assert rc == 2 and "--resume" in err
    rc, _, err = _cli(
        capsys, "train", "tiny/arrn_lstm", f"data.store={store}", "train.epochs=9", "--out", run, "--resume"
    )
    assert rc == 2 and "train.epochs" in err
    rc, _, err = _cli(
        capsys, "train", "tiny/arrn_lstm", "data.store=/no/such/store", "--out", tmp_path / "none"
    )
    assert rc == 2 and "skelact prepare" in err
    assert not (tmp_path / "none").exists()  # nothing written before the data is found


def test_ddp_two_processes_matches_one(store, tmp_path, capsys):
    # two-stream: the fusion weight is fitted on validation scores gathered from both processes
    args = [
        "train",
        "tiny/arrn_lstm_two_stream",
        f"data.store={store}",
        "train.epochs=2",
        "train.progress=false",
    ]
    rc, _, err = _cli(capsys, *args, "--out", tmp_path / "one")
    assert rc == 0, err
    ddp = _subprocess(
        *args, "train.devices=2", "train.strategy=ddp", "train.accelerator=cpu", "--out", tmp_path / "two"
    )
    assert ddp.returncode == 0, ddp.stderr
    one = json.loads((tmp_path / "one/metrics.json").read_text())
    two = json.loads((tmp_path / "two/metrics.json").read_text())
    assert two["hardware"]["world_size"] == 2 and one["hardware"]["world_size"] == 1
    # the same global batches (DistributedSampler over 2 ranks) and gradient averaging: equal up to
    # floating-point summation order
    assert two["test"]["num_samples"] == one["test"]["num_samples"] == 29  # every test sample once
    assert two["test"]["loss"] == pytest.approx(one["test"]["loss"], abs=1e-4)
    assert two["val"]["loss"] == pytest.approx(one["val"]["loss"], abs=1e-4)
    assert two["val"]["num_samples"] == one["val"]["num_samples"]
    assert abs(two["test"]["top1"] - one["test"]["top1"]) <= 100.0 / 29 + 1e-6
    assert two["fusion"]["alpha"] == pytest.approx(one["fusion"]["alpha"], abs=0.05 + 1e-9)


def test_folds_run_with_summary(store, tmp_path, capsys):
    rc, out, err = _cli(
        capsys,
        "train",
        "tiny/arrn_lstm",
        f"data.store={store}",
        "data.fold=[1, 2]",
        "train.epochs=1",
        "train.progress=false",
        "data.validation.fraction=0",
        "--out",
        tmp_path / "loso",
    )
    assert rc == 0, err
    assert "fold 1" in out and "fold 2" in out and "mean" in out
    summary = json.loads((tmp_path / "loso/metrics.json").read_text())
    f1 = json.loads((tmp_path / "loso/fold_01/metrics.json").read_text())
    f2 = json.loads((tmp_path / "loso/fold_02/metrics.json").read_text())
    assert (
        summary["folds"]["1"]["top1"] == f1["test"]["top1"]
        and summary["folds"]["2"]["top1"] == f2["test"]["top1"]
    )
    assert summary["mean"]["top1"]["mean"] == pytest.approx((f1["test"]["top1"] + f2["test"]["top1"]) / 2)
    assert f1["fold"] == 1 and f2["fold"] == 2 and f2["num_samples"]["test"] == 18  # subject 2: 18 sequences


def test_demo_end_to_end(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    rc, out, err = _cli(capsys, "demo", "--epochs", "1", "--out", out_dir, "--quiet")
    assert rc == 0, err
    assert "top-1" in out and "chance level" in out and "wave" in out
    assert (out_dir / "store" / "manifest.json").is_file()  # prepared from the bundled sample
    assert (out_dir / "run" / "confusion_matrix.png").is_file()
    metrics = json.loads((out_dir / "run" / "metrics.json").read_text())
    assert (
        metrics["epochs"] == 1 and metrics["dataset"] == "florence3d" and metrics["test"]["num_samples"] == 29
    )
    # --data: the same on a prepared store (the demo preset of its dataset)
    rc, out, err = _cli(
        capsys, "demo", "--data", out_dir / "store", "--epochs", "1", "--out", tmp_path / "d2", "--quiet"
    )
    assert rc == 0, err
    assert "preparing" not in out and (tmp_path / "d2" / "run" / "metrics.json").is_file()
