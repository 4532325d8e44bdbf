"""What a training step costs around the model: optimiser update, weight average, checkpoint.

The small-data reproduction trains two-stream ARRN-LSTM (Florence3D preset, batch 16, 1 thread)
for 150 epochs of 12-13 steps. Besides the model's forward and backward, each step pays for the
optimiser update and the EMA of the weights, and each epoch for writing the checkpoint. Measured
in one process, taking turns (fastest of ``--reps`` rounds), each against the implementation it
replaced:

* Adam: PyTorch's default (``foreach``) update against the fused kernel (``train.optim.fused``);
* EMA: Lightning's per-tensor ``ema_update`` loop (its ``EMAWeightAveraging`` default) against
  one ``torch._foreach_lerp_`` over all tensors (``skelact.train.runner.foreach_ema``);
* checkpoint: the epoch's checkpoint written twice (``best.ckpt`` and a copy ``last.ckpt``)
  against once (``last.ckpt`` a link), with skelact's atomic writer (temporary file, fsync,
  rename), amortised over the epoch's steps.

Run: ``.venv/bin/python benchmarks/bench_train_step.py``; results go to
``benchmarks/results/train_step.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import sys
import tempfile

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_avg_fn, get_ema_multi_avg_fn

from skelact.models import build
from skelact.train.checkpoint import atomic_torch_save
from skelact.train.config import OptimConfig
from skelact.train.optim import build_optimizer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_arrn import round_robin  # noqa: E402
from machine import cpu_description  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "train_step.md"
STEPS_PER_EPOCH = 12  # 186-197 Florence3D training sequences / batch 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build("arrn_lstm", num_classes=9, layout="florence8", preset="florence3d", readout="concat",
                  frames=25, label_smoothing=0.1).train()
    params = sum(p.numel() for p in model.parameters())
    x, y = torch.randn(16, 3, 25, 8, 1), torch.randint(0, 9, (16,))
    adam = {name: build_optimizer(OptimConfig(name="adam", lr=1e-3, fused=fused), model.parameters())
            for name, fused in (("foreach", False), ("fused", True))}
    loop_ema = AveragedModel(model, avg_fn=get_ema_avg_fn(0.99), use_buffers=True)
    lerp_ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99), use_buffers=True)
    for ema in (loop_ema, lerp_ema):
        ema.update_parameters(model)  # the first update copies; the timed ones average

    def model_step():
        model.zero_grad(set_to_none=True)
        model.losses(x, y)["loss"].backward()

    model_step()  # gradients for the optimisers
    checkpoint = {"state_dict": model.state_dict(), "ema": lerp_ema.state_dict(),
                  "optimizer": adam["fused"].state_dict()}
    adam["fused"].step()
    checkpoint["optimizer"] = adam["fused"].state_dict()  # with its moments, as saved in training
    with tempfile.TemporaryDirectory() as tmp:
        best, last = pathlib.Path(tmp) / "best.ckpt", pathlib.Path(tmp) / "last.ckpt"

        def write_twice():
            atomic_torch_save(checkpoint, best)
            atomic_torch_save(checkpoint, last)

        def write_once():
            atomic_torch_save(checkpoint, best)
            if not last.is_symlink():
                last.unlink(missing_ok=True)
                os.symlink(best.name, last)

        t = round_robin({
            "model": model_step,
            "adam/foreach": adam["foreach"].step, "adam/fused": adam["fused"].step,
            "ema/loop": lambda: loop_ema.update_parameters(model),
            "ema/lerp": lambda: lerp_ema.update_parameters(model),
            "ckpt/twice": write_twice, "ckpt/once": write_once,
        }, args.reps)
        size = best.stat().st_size
    before = t["adam/foreach"] + t["ema/loop"] + t["ckpt/twice"] / STEPS_PER_EPOCH
    after = t["adam/fused"] + t["ema/lerp"] + t["ckpt/once"] / STEPS_PER_EPOCH
    ms = {k: v * 1e3 for k, v in t.items()}
    speedup = (t["model"] + before) / (t["model"] + after)
    rows = [
        ("optimiser update (Adam)", "foreach", ms["adam/foreach"], "fused", ms["adam/fused"]),
        ("EMA of the weights", "per-tensor loop", ms["ema/loop"], "one foreach lerp", ms["ema/lerp"]),
        (f"checkpoint ({size / 2**20:.0f} MiB), per step (1/{STEPS_PER_EPOCH} of an epoch's write)",
         "written twice", ms["ckpt/twice"] / STEPS_PER_EPOCH,
         "once + link", ms["ckpt/once"] / STEPS_PER_EPOCH),
    ]
    lines = [
        "# Training step around the model (CPU)",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; torch {torch.__version__}; "
        f"{cpu_description()}; 1 thread; fastest of {args.reps} interleaved rounds; "
        f"1-min load average {os.getloadavg()[0]:.1f} at the end.",
        f"- model: two-stream ARRN-LSTM, Florence3D preset (8 joints, T = 25, concat readout), "
        f"{params / 1e6:.1f} M parameters, batch 16; {STEPS_PER_EPOCH} steps an epoch.",
        "- written by `.venv/bin/python benchmarks/bench_train_step.py`.",
        "",
        "| part of a step | before | ms | now | ms | before / now |",
        "|---|---|---|---|---|---|",
        *[f"| {what} | {b} | {tb:.1f} | {a} | {ta:.1f} | {tb / ta:.2f}x |" for what, b, tb, a, ta in rows],
        f"| model forward + backward (the same code in both columns) | | {ms['model']:.0f} | "
        f"| {ms['model']:.0f} | |",
        "",
        f"Around the model, a step went from {before * 1e3:.1f} to {after * 1e3:.1f} ms; with the model's "
        f"{ms['model']:.0f} ms the whole step is {speedup:.2f}x as fast.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
