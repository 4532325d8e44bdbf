"""Streaming recognition latency on this CPU against a 30 fps camera's 33.3 ms frame budget.

For each model at its paper preset (the config presets ``asgcn/ntu60_xsub``,
``arrn_lstm/ntu60_xsub``, ``arrn_lstm/msr3d_as1``: full-size layers, the preset's window and
test-time transforms), a :class:`~skelact.deploy.stream.StreamRecognizer` with ``stride=1`` is fed
a real recorded sample frame by frame (looped), so every frame costs one model call. Measured per
frame, with ``torch.set_num_threads(2)``:

* ``push`` latency = frame assembly + ring buffer + per-window transforms + one model call, after
  the window is full (the steady state; the first calls are discarded as warm-up);
* p50 / p99 / mean over the measured frames, and the smallest stride that keeps up with 30 fps
  (one call per ``S`` frames must fit in ``S x 33.3 ms``; judged on p99);
* the cost of a frame without a model call (assembly + ring buffer), in microseconds.

The incremental mode (ARRN-LSTM only, :class:`~skelact.deploy.stream.IncrementalStreamRecognizer`)
is measured the same way on the same recordings: ``push`` = frame assembly + the per-frame test
transform (``CenterOnHip``) + the RRN and attention on the new frame + one LSTM step per stream +
the readout over the last ``T`` outputs, classifier and fusion (stride 1: a prediction every frame),
after the first ``T`` frames.

Weights are random (latency does not depend on them). Run:
``.venv/bin/python benchmarks/bench_stream.py`` (``--quick`` for a smoke run; ``--only incremental``
or ``--only windowed`` measures one table and keeps the other from the results file as it was,
with the date it was measured; ``--threads N``); results go to ``benchmarks/results/stream.md``.
The machine is shared with other jobs: numbers are noisy, p99 most of all.
"""

from __future__ import annotations

import argparse
import datetime
import math
import pathlib
import time

import numpy as np
import torch
from machine import cpu_description

import skelact
from skelact.data.transforms import build_transforms
from skelact.deploy.stream import IncrementalStreamRecognizer, StreamRecognizer
from skelact.models import build
from skelact.train.config import INPUT_FRAMES, load_config

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "stream.md"
BUDGET_MS = 1000.0 / 30.0

NTU_SAMPLES = {
    "ntu2": DATA / "ntu_rgbd" / "S001C001P001R001A050.skeleton",  # 74 frames, 2 people
    "ntu1": DATA / "ntu_rgbd" / "S001C001P001R001A001.skeleton",  # 103 frames, 1 person
}
MSR_SAMPLE = DATA / "msr_action3d" / "MSRAction3DSkeletonReal3D" / "a01_s01_e01_skeleton3D.txt"

CASES = (
    # (label, preset, classes, bodies, sample)
    ("AS-GCN (paper: 9 blocks, AS-links L=4, C=3, prediction head)", "asgcn/ntu60_xsub", 60, 2, "ntu2"),
    ("ARRN-LSTM two-stream (NTU: M=50, E=5, LSTM 512/512/512)", "arrn_lstm/ntu60_xsub", 60, 2, "ntu1"),
    ("ARRN-LSTM two-stream (NTU: M=50, E=5, LSTM 512/512/512)", "arrn_lstm/ntu60_xsub", 60, 2, "ntu2"),
    ("ARRN-LSTM two-stream (MSR: M=20, E=5, LSTM 512/256/512)", "arrn_lstm/msr3d_as1", 20, 1, "msr"),
)


def _fill(spec, frames):
    if isinstance(spec, dict):
        return {k: _fill(v, frames) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_fill(v, frames) for v in spec]
    return frames if spec == INPUT_FRAMES else spec


def live_frames(kind: str, bodies: int) -> np.ndarray:
    """A real recording as ``(T, bodies, V, 3)`` frames to replay."""
    if kind in NTU_SAMPLES:
        data = skelact.load(NTU_SAMPLES[kind]).data
    else:
        data = np.loadtxt(MSR_SAMPLE, dtype=np.float32).reshape(-1, 1, 20, 4)[..., :3]
    out = np.zeros((data.shape[0], bodies, *data.shape[2:]), dtype=np.float32)
    out[:, : min(bodies, data.shape[1])] = data[:, :bodies]
    return out


def _model(cfg, classes: int, layout: str):
    torch.manual_seed(0)
    extra = {"frames": cfg.data.frames} if cfg.model.name == "arrn_lstm" else {}  # readout="concat" needs T
    model = build(cfg.model.name, num_classes=classes, layout=layout, in_channels=3, **extra,
                  **cfg.model.options)
    return model.eval()


def bench_case(label: str, preset: str, classes: int, bodies: int, kind: str, seconds: float,
               max_calls: int, warmup: int) -> dict:
    cfg = load_config(preset)
    layout = "ntu25" if kind in NTU_SAMPLES else "kinect20"
    model = _model(cfg, classes, layout)
    params = sum(p.numel() for p in model.parameters())
    window = cfg.data.frames
    input_frames = int(model.input_frames(window)) if hasattr(model, "input_frames") else window
    transform = build_transforms(_fill(list(cfg.data.test_transforms), input_frames), layout=layout)
    frames = live_frames(kind, bodies)
    rec = StreamRecognizer(model, layout, window, stride=1, transform=transform, num_bodies=bodies,
                           min_frames=window)
    i = 0
    for _ in range(window - 1):  # fill the window: no model call before it is full
        rec.push(frames[i % len(frames)])
        i += 1
    lat = []
    start = time.perf_counter()
    while len(lat) < warmup + max_calls:
        t0 = time.perf_counter()
        pred = rec.push(frames[i % len(frames)])
        lat.append((time.perf_counter() - t0) * 1000.0)
        assert pred is not None  # stride 1: one prediction (one model call) per frame
        i += 1
        if len(lat) >= warmup + 10 and time.perf_counter() - start > seconds:
            break
    lat_ms = np.array(lat[warmup:])
    p50, p99 = np.percentile(lat_ms, [50, 99])
    people = int(np.any(frames != 0, axis=(2, 3)).sum(axis=1).max())
    return dict(label=label, preset=preset, window=window, input_frames=input_frames, bodies=bodies,
                people=people, params=params, n=len(lat_ms), p50=float(p50), p99=float(p99),
                mean=float(lat_ms.mean()), max=float(lat_ms.max()), stride=max(1, math.ceil(p99 / BUDGET_MS)),
                buffer_bytes=rec.buffer.nbytes)


def bench_incremental(label: str, preset: str, classes: int, bodies: int, kind: str, seconds: float,
                      max_calls: int, warmup: int) -> dict:
    """Per-frame latency of the incremental mode (one RRN pass on the new frame, one LSTM step)."""
    cfg = load_config(preset)
    layout = "ntu25" if kind in NTU_SAMPLES else "kinect20"
    model = _model(cfg, classes, layout)
    params = sum(p.numel() for p in model.parameters())
    window = cfg.data.frames
    specs = _fill(list(cfg.data.test_transforms), window)  # CenterOnHip per frame; UniformSample(T) dropped
    frames = live_frames(kind, bodies)
    rec = IncrementalStreamRecognizer(model, layout, window, stride=1, transform=specs, num_bodies=bodies)
    i = 0
    for _ in range(window):  # the first window: the readout holds T outputs from here on
        rec.push(frames[i % len(frames)])
        i += 1
    lat = []
    start = time.perf_counter()
    while len(lat) < warmup + max_calls:
        t0 = time.perf_counter()
        pred = rec.push(frames[i % len(frames)])
        lat.append((time.perf_counter() - t0) * 1000.0)
        assert pred is not None and pred.window == window  # stride 1: a prediction every frame
        i += 1
        if len(lat) >= warmup + 10 and time.perf_counter() - start > seconds:
            break
    lat_ms = np.array(lat[warmup:])
    p50, p99 = np.percentile(lat_ms, [50, 99])
    people = int(np.any(frames != 0, axis=(2, 3)).sum(axis=1).max())
    state = rec.incremental._states.values()
    state_bytes = sum(s.ring.nbytes + sum(h.nbytes + c.nbytes for h, c in s.lstm) for s in state)
    return dict(label=label, preset=preset, window=window, readout=model.streams["joint"].readout,
                bodies=bodies, people=people, params=params, n=len(lat_ms), p50=float(p50),
                p99=float(p99), mean=float(lat_ms.mean()), max=float(lat_ms.max()), state_bytes=state_bytes)


def bench_assembly(frames_n: int = 20000) -> float:
    """Microseconds per frame without a model call: assembly (hold / select) + ring buffer push."""
    frames = live_frames("ntu2", 2)
    conf = np.ones((2, 25), np.float32)
    conf[0, 5] = 0  # a missing joint every frame: the hold path runs too
    rec = StreamRecognizer(lambda x: torch.zeros(1, 60), "ntu25", 300, stride=10**9, num_bodies=2,
                           min_frames=10**9)
    t0 = time.perf_counter()
    for i in range(frames_n):
        rec.push(frames[i % len(frames)], conf)
    return (time.perf_counter() - t0) / frames_n * 1e6


WINDOWED = "Windowed mode (every model)"
INCREMENTAL = "Incremental mode (ARRN-LSTM)"


def _kept(path: pathlib.Path, title: str) -> str | None:
    """The body of section ``title`` of an existing results file, as it was. A file in the first
    format (one windowed table under the page title, no sections) is all windowed section."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if f"\n## {title}\n" in text:
        return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0].strip("\n")
    if "\n## " not in text and title == WINDOWED:
        return text.split("\n", 1)[1].strip("\n")
    return None


def _measured(threads: int) -> str:
    now = datetime.datetime.now().isoformat(timespec="seconds")
    return (f"- measured: {now}; torch {torch.__version__}; {cpu_description()}; threads: {threads}; "
            "machine shared with other jobs (noisy, p99 most of all).")


def windowed_section(rows: list[dict], assembly_us: float, threads: int) -> str:
    lines = [
        _measured(threads),
        "- `StreamRecognizer(stride=1)` fed a real recording frame by frame (NTU "
        f"`{NTU_SAMPLES['ntu1'].name}`, one person, or `{NTU_SAMPLES['ntu2'].name}`, two people; MSR "
        f"`{MSR_SAMPLE.name}`), looped; latency of `push` once the "
        "window is full = frame assembly + ring buffer + the preset's test-time transforms + one model "
        "call (PyTorch eager, `inference_mode`, batch 1). Random weights, full-size paper presets.",
        f"- budget: one frame of a 30 fps camera = {BUDGET_MS:.1f} ms. *min stride* = smallest `--stride S` "
        "with p99 <= S x 33.3 ms, i.e. one model call every S frames keeps up with the camera.",
        "",
        "| model | preset | window (model input) | people in view | params | frames measured | p50 ms "
        "| p99 ms | mean ms | within 33.3 ms at stride 1? | min stride | ring buffer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        frames = f"{r['window']}" + (f" ({r['input_frames']})" if r["input_frames"] != r["window"] else "")
        ok = "yes" if r["p99"] <= BUDGET_MS else "no"
        lines.append(
            f"| {r['label']} | `{r['preset']}` | {frames} | {r['people']} | {r['params'] / 1e6:.1f} M "
            f"| {r['n']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['mean']:.1f} | {ok} | {r['stride']} "
            f"| {r['buffer_bytes'] / 1024:.0f} KiB |"
        )
    lines += [
        "",
        f"A frame that does not trigger a model call (assembly with a held joint + ring buffer push) "
        f"costs {assembly_us:.1f} us.",
        "",
        "AS-GCN's window is the preset's 290 recognition frames; its test transform pads the input to "
        "300 (the last 10 are the prediction target, ignored for recognition).",
    ]
    return "\n".join(lines)


def incremental_section(rows: list[dict], threads: int) -> str:
    lines = [
        _measured(threads),
        "- `IncrementalStreamRecognizer(stride=1)` (`skelact stream --incremental`) fed the same "
        "recordings frame by frame, looped; latency of `push` after the first T frames = frame assembly "
        "+ `CenterOnHip` on the frame + the RRN and attention on that frame only + one LSTM step per "
        "stream + the readout over the last T LSTM outputs, classifier and fusion (a prediction every "
        "frame). PyTorch eager, `inference_mode`, batch 1, random weights, full-size paper presets.",
        "- a frame costs the same whatever T; *state* = the LSTM states and the ring of the last T LSTM "
        "outputs of both streams (fixed).",
        "",
        "| model | preset | T (readout) | people in view | params | frames measured | p50 ms | p99 ms "
        "| mean ms | within 33.3 ms at stride 1? | state |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = "yes" if r["p99"] <= BUDGET_MS else "no"
        lines.append(
            f"| {r['label']} | `{r['preset']}` | {r['window']} ({r['readout']}) | {r['people']} "
            f"| {r['params'] / 1e6:.1f} M | {r['n']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['mean']:.1f} "
            f"| {ok} | {r['state_bytes'] / 1024:.0f} KiB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few calls per model (smoke run)")
    parser.add_argument("--seconds", type=float, default=50.0, help="time spent measuring each model")
    parser.add_argument("--max-calls", type=int, default=200,
                        help="at most this many measured frames per model (windowed mode)")
    parser.add_argument("--incremental-frames", type=int, default=500,
                        help="at most this many measured frames per model (incremental mode)")
    parser.add_argument("--only", choices=("windowed", "incremental"),
                        help="measure one table; the other is kept from the results file as it was")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    seconds, max_calls, warmup = (1.0, 3, 1) if args.quick else (args.seconds, args.max_calls, 2)
    inc_calls, inc_warmup = (5, 1) if args.quick else (args.incremental_frames, 5)
    sections = {}
    if args.only != "incremental":
        rows = []
        for case in CASES:
            r = bench_case(*case, seconds=seconds, max_calls=max_calls, warmup=warmup)
            rows.append(r)
            print(f"{r['label']}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms over {r['n']} frames")
        assembly_us = bench_assembly(2000 if args.quick else 20000)
        print(f"frame without a model call: {assembly_us:.1f} us")
        sections[WINDOWED] = windowed_section(rows, assembly_us, threads)
    if args.only != "windowed":
        rows = []
        for case in CASES:
            if not case[1].startswith("arrn_lstm/"):
                continue
            r = bench_incremental(*case, seconds=seconds, max_calls=inc_calls, warmup=inc_warmup)
            rows.append(r)
            print(f"{r['label']} incremental, {r['people']} people: p50 {r['p50']:.2f} ms, "
                  f"p99 {r['p99']:.2f} ms over {r['n']} frames")
        sections[INCREMENTAL] = incremental_section(rows, threads)
    measured = [t.split(" (")[0].lower() for t in sections]
    kept_note = "*(kept as it was: not measured by the last run)*"
    for title in (WINDOWED, INCREMENTAL):
        if title not in sections:
            kept = _kept(RESULTS, title)
            if kept is None:
                sections[title] = "*(not measured yet)*"
            else:
                sections[title] = kept if kept.startswith(kept_note) else f"{kept_note}\n\n{kept}"
    text = "\n".join([
        "# Streaming recognition latency (CPU)",
        "",
        "Each table gives the date it was measured. The last run of `benchmarks/bench_stream.py` "
        f"measured the {' and '.join(measured)} table{'s' if len(measured) > 1 else ''}.",
        "",
        f"## {WINDOWED}",
        "",
        sections[WINDOWED],
        "",
        f"## {INCREMENTAL}",
        "",
        sections[INCREMENTAL],
        "",
    ])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
