#!/usr/bin/env python
"""Write the small saved-model fixtures that ``tests/train/test_saved_models.py`` loads.

    python scripts/make_compat_checkpoints.py [--out tests/fixtures/checkpoints]

For each model family (two-stream ARRN-LSTM, AS-GCN with its prediction head) it trains the tiny
preset for one epoch on the bundled Florence3D sample with ``skelact train`` (so the file is what
the engine writes), keeps ``checkpoints/last.ckpt`` as ``<family>.ckpt`` and writes the logits of
the loaded model on a fixed input to ``expected.npz``. Run it once per deliberate format change
(and add a migration for the old files); never to make a failing test pass.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from skelact.data.bundled import bundled_path
from skelact.data.prepare import prepare
from skelact.train.checkpoint import load_model

FAMILIES = {"arrn_lstm": "tiny/arrn_lstm_two_stream", "asgcn": "tiny/asgcn"}


def fixed_input(frames: int) -> torch.Tensor:
    """The input the expected logits are computed on: 2 clips, 3 channels, ``frames`` frames,
    8 joints (Florence3D's features layout), 1 body."""
    return torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, frames, 8, 1)).astype(np.float32))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="tests/fixtures/checkpoints")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    expected = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        prepare("florence3d", bundled_path("florence3d"), store, workers=1, progress=False)
        for family, preset in FAMILIES.items():
            run = Path(tmp) / family
            cmd = [sys.executable, "-m", "skelact", "train", preset, f"data.store={store}", "train.epochs=1",
                   "train.aim.warmup_epochs=0", "train.progress=false", "--out", str(run)]  # fmt: skip
            subprocess.run(cmd, check=True, capture_output=True)
            shutil.copyfile(run / "checkpoints" / "last.ckpt", out / f"{family}.ckpt")
            model, _ = load_model(out / f"{family}.ckpt")
            x = fixed_input(int(model.spec["input_frames"]))
            with torch.no_grad():
                expected[f"{family}_input"] = x.numpy()
                expected[f"{family}_logits"] = model(x).numpy()
    np.savez(out / "expected.npz", **expected)
    for f in sorted(out.iterdir()):
        print(f"{f}: {f.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
