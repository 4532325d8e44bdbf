"""``skelact viz KIND ...`` end to end: real files, a run directory, tiny checkpoints."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from skelact.cli import main
from skelact.data.class_names import NTU60_CLASSES
from skelact.models import build

from .test_metrics import _lightning_csv
from .test_models import TINY_ASGCN

NTU_TWO = "ntu_rgbd/S001C001P001R001A050.skeleton"


def _run(capsys, *argv):
    rc = main(["viz", *map(str, argv)])
    captured = capsys.readouterr()
    return rc, captured.out.strip(), captured.err


def test_skeleton_gif_and_strip(sample_data, tmp_path, capsys):
    src = sample_data / NTU_TWO
    rc, out, _ = _run(capsys, "skeleton", src, "--out", tmp_path / "a.gif", "--frames", "0:12:4",
                      "--dpi", "40")
    assert rc == 0 and out.endswith("a.gif")
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3
    rc, _, _ = _run(capsys, "skeleton", src, "--out", tmp_path / "s.png", "--num-frames", "3", "--labels")
    with Image.open(tmp_path / "s.png") as im:
        assert rc == 0 and im.format == "PNG"


def test_skeleton_errors(sample_data, tmp_path, capsys, monkeypatch):
    import skelact.viz.skeleton as sk

    monkeypatch.setattr(sk, "_ffmpeg_available", lambda: False)
    rc, _, err = _run(capsys, "skeleton", sample_data / NTU_TWO, "--out", tmp_path / "a.mp4")
    assert rc == 2 and "ffmpeg" in err
    rc, _, err = _run(capsys, "skeleton", sample_data / NTU_TWO, "--out", tmp_path / "a.bmp")
    assert rc == 2 and "extension" in err
    rc, _, err = _run(capsys, "skeleton", tmp_path / "missing.skeleton")
    assert rc == 2


def test_confusion_accuracy_curves_from_run_dir(tmp_path, capsys):
    from skelact.evaluation.metrics import summarise

    rng = np.random.default_rng(0)
    cm = rng.integers(0, 3, (60, 60)) + np.diag(rng.integers(5, 20, 60))
    test = summarise({"top1": 0.5, "top5": 0.9, "loss": 1.0, "confusion": cm}, NTU60_CLASSES)
    (tmp_path / "metrics.json").write_text(json.dumps({"name": "run", "test": test, "val": None}))
    _lightning_csv(tmp_path)
    for kind in ("confusion", "accuracy", "curves"):
        rc, out, err = _run(capsys, kind, tmp_path, "--out", tmp_path / f"{kind}.png", "--dpi", "50")
        assert rc == 0, err
        with Image.open(out) as im:
            assert im.format == "PNG" and min(im.size) > 100
    rc, _, err = _run(capsys, "confusion", tmp_path, "--split", "val")
    assert rc == 2 and "confusion matrix" in err


def _checkpoint(path, name, options, frames=40, input_frames=40):
    from skelact.train.config import DataConfig, ExperimentConfig, ModelConfig, config_to_dict

    cfg = ExperimentConfig(
        name="tiny", model=ModelConfig(name=name, options=dict(options)),
        data=DataConfig(dataset="ntu60", frames=frames,
                        test_transforms=[{"name": "UniformSample", "frames": "${input_frames}"}]),
    )
    torch.manual_seed(0)
    model = build(name, num_classes=60, layout="ntu25", **options)
    spec = {"num_classes": 60, "layout": "ntu25", "in_channels": 3, "class_names": list(NTU60_CLASSES),
            "input_frames": input_frames, "bodies": 2}
    torch.save({"hyper_parameters": {"config": config_to_dict(cfg), "spec": spec},
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return path


def test_checkpoint_kinds(sample_data, tmp_path, capsys):
    asgcn = _checkpoint(tmp_path / "asgcn.ckpt", "asgcn", TINY_ASGCN, input_frames=45)
    src = sample_data / NTU_TWO
    for argv in (("alinks", asgcn, src, "--threshold", "0.3"), ("links", asgcn, src), ("edges", asgcn),
                 ("forecast", asgcn, src)):
        rc, out, err = _run(capsys, *argv, "--out", tmp_path / f"{argv[0]}.png", "--dpi", "50")
        assert rc == 0, err
        with Image.open(out) as im:
            assert im.format == "PNG"
    arrn = _checkpoint(tmp_path / "arrn.ckpt", "arrn_lstm",
                       dict(embed_dim=4, attention_dim=4, lstm_sizes=[4], iterations=1))
    rc, out, err = _run(capsys, "attention", arrn, "--out", tmp_path / "att.svg")
    assert rc == 0, err
    assert "<svg" in (tmp_path / "att.svg").read_text()
    # a kind the model cannot draw is a clean error
    rc, _, err = _run(capsys, "attention", asgcn, "--out", tmp_path / "x.png")
    assert rc == 2 and "attention" in err
