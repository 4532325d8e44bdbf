"""Training throughput on one CUDA GPU: AS-GCN and ARRN-LSTM in fp32, bf16-mixed and compiled, and
AS-GCN against the official code (limaosen0/AS-GCN) on the same GPU.

Rows (NTU RGB+D shapes, 60 classes, batch 32; half the samples with the second body absent, as in
NTU's one-person actions):

* ``asgcn paper`` and ``asgcn official preset``: ``skelact.models.build("asgcn", preset=...)``,
  input ``(32, 3, 300, 25, 2)`` (the last 10 frames are the prediction target). One step is the
  recognition phase of :class:`skelact.train.module.AIMScheduleModule`: ``model.losses`` (CE +
  prediction L2), backward, SGD (Nesterov, lr 0.1, weight decay 1e-4) on the backbone and heads, Adam
  on the AIM encoder (a no-op for the official preset, whose AIM is frozen);
* ``asgcn official code`` (with ``--official DIR``, a checkout of limaosen0/AS-GCN, imported as
  ``scripts/check_official_parity.py`` does, with the arguments of its
  ``config/as_gcn/ntu-xsub/train.yaml``): the joint phase of its ``processor/recognition.py`` in
  the same process: ``model2`` (A-link inference) on the 50 downsampled frames, ``model1`` on the 290
  observed frames, CE + 0.01 MSE, backward, its SGD step on ``model1``. The downsampling (done by its
  data loader on the CPU) is not timed. Its legacy ``torch.sparse.FloatTensor(i, v, size)`` is
  replaced by ``torch.sparse_coo_tensor(i, v, size)`` while it runs (same tensor; the legacy
  constructor takes CPU tensors only in current PyTorch);
* ``arrn_lstm two-stream ntu``: ``build("arrn_lstm", preset="ntu")``, input ``(32, 3, 100, 25, 2)``;
  ``model.losses`` (both streams' CE), backward, SGD (lr 0.01, momentum 0.9), as
  ``configs/arrn_lstm/_ntu.yaml``.

Modes: ``fp32`` (PyTorch's defaults: TF32 for cuDNN convolutions, not for matrix products; both
recorded), ``bf16-mixed`` (the forward pass and losses under ``torch.autocast("cuda", bfloat16)``,
as Lightning's ``bf16-mixed``), ``compiled`` and ``compiled bf16-mixed`` (the model call through
:func:`skelact.train.module.compiled_call`, the function ``train.compile=true`` uses; default
inductor backend). The official code runs in ``fp32`` and ``bf16-mixed``.

Per cell: the first step's time (compilation included for compiled modes), ``--warmup`` more
untimed steps, then ``--repeats`` blocks of ``--steps`` steps timed with CUDA events (the fastest
block is kept): ms per step, samples/s, and the peak GPU memory allocated over the timed steps.
Cells run eager first, compiled last, and a cell not started by ``--budget-s`` seconds is reported
as skipped; the results file is rewritten after every cell, so a run cut short keeps what it
measured.

Run (about 10 minutes on one H200; needs torch with CUDA, pytorch-lightning, torchmetrics):

    PYTHONPATH=src python benchmarks/bench_gpu.py --official DIR [--out benchmarks/results/gpu.md]

``--dry-run`` runs the same code on the CPU on tiny shapes, one step per cell, the compiled modes
with the ``eager`` backend (a smoke test of every code path: about 7 minutes on 2 small cores, as
bf16 autocast is slow on CPUs without bfloat16 instructions; prints the table, writes a file only
with ``--out``). ``--placeholder`` writes the table with every cell "not measured yet".

Deterministic algorithms are off (PyTorch's default), as with ``train.deterministic=false``;
training's default ``train.deterministic=warn`` turns them on, which can cost speed on a GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import math
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "gpu.md"
NOT_MEASURED = "not measured yet (no GPU lent to this work)"
COMMAND = "PYTHONPATH=src python benchmarks/bench_gpu.py --official DIR --out benchmarks/results/gpu.md"

NUM_CLASSES = 60
HORIZON = 10  # prediction target frames (ours and the official feeder's)
AIM_FRAMES = 50  # the official feeder's downsampled frames for the A-link inference module
MODES = ("fp32", "bf16-mixed", "compiled", "compiled bf16-mixed")
OFFICIAL_MODES = ("fp32", "bf16-mixed")
OFFICIAL_KEY = "asgcn-official-code"
ROW_KEYS = ("asgcn-paper", "asgcn-official", OFFICIAL_KEY, "arrn-ntu")


@dataclass
class Shapes:
    batch: int
    asgcn_frames: int
    arrn_frames: int
    official_batch: int
    official_frames: int


FULL = Shapes(batch=32, asgcn_frames=300, arrn_frames=100, official_batch=32, official_frames=300)
#: --dry-run: tiny batches (the official network needs about 300 frames: its prediction branch
#: strides 4 times by 2 and ends with an unpadded kernel of 5).
DRY = Shapes(batch=2, asgcn_frames=60, arrn_frames=12, official_batch=1, official_frames=300)


@dataclass
class Row:
    key: str
    label: str
    shape: tuple[int, ...]
    modes: tuple[str, ...]
    build: Callable[[torch.device, str], tuple[Callable[[], None], int]]


@dataclass
class Cell:
    row: Row
    mode: str
    status: str = NOT_MEASURED
    ms: float | None = None
    first_s: float | None = None
    peak_gib: float | None = None
    params: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float | None:
        return None if self.ms is None else self.row.shape[0] / (self.ms / 1000.0)


# ---------------------------------------------------------------------------------------------
# Inputs and steps
# ---------------------------------------------------------------------------------------------
def ntu_batch(n: int, t: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 3, T, 25, 2)`` poses with body 2 absent (zeros) in the first half, and labels."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, t, 25, 2, generator=gen) * 0.3
    x[: n // 2, ..., 1] = 0
    y = torch.randint(0, NUM_CLASSES, (n,), generator=gen)
    return x.to(device), y.to(device)


def autocast(device: torch.device, mode: str) -> contextlib.AbstractContextManager:
    if "bf16" in mode:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def model_call(mode: str, name: str = "losses") -> Callable[..., Any]:
    from skelact.train.module import MODEL_CALLS, compiled_call

    return compiled_call(name) if mode.startswith("compiled") else MODEL_CALLS[name]


def asgcn_row(preset: str, shapes: Shapes) -> Row:
    def build(device: torch.device, mode: str) -> tuple[Callable[[], None], int]:
        from skelact.models import build as build_model

        model = build_model("asgcn", num_classes=NUM_CLASSES, layout="ntu25", preset=preset).to(device)
        model.train()
        groups = model.parameter_groups()
        main = torch.optim.SGD(groups["backbone"], lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        aim = torch.optim.Adam(groups["aim_encoder"], lr=5e-4) if groups["aim_encoder"] else None
        x, y = ntu_batch(shapes.batch, shapes.asgcn_frames, device)
        call = model_call(mode)

        def step() -> None:  # AIMScheduleModule.training_step after the warm-up
            main.zero_grad(set_to_none=True)
            if aim is not None:
                aim.zero_grad(set_to_none=True)
            with autocast(device, mode):
                loss = call(model, x, y)["loss"]
            loss.backward()
            main.step()
            if aim is not None:
                for p in groups["aim_decoder"]:
                    p.grad = None
                aim.step()

        return step, sum(p.numel() for p in model.parameters())

    label = {"paper": "AS-GCN, paper preset", "official": "AS-GCN, official preset"}[preset]
    shape = (shapes.batch, 3, shapes.asgcn_frames, 25, 2)
    return Row(f"asgcn-{preset}", label, shape, MODES, build)


def arrn_row(shapes: Shapes) -> Row:
    def build(device: torch.device, mode: str) -> tuple[Callable[[], None], int]:
        from skelact.models import build as build_model

        model = build_model(
            "arrn_lstm", num_classes=NUM_CLASSES, layout="ntu25", stream="two_stream", preset="ntu"
        ).to(device)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = ntu_batch(shapes.batch, shapes.arrn_frames, device)
        call = model_call(mode)

        def step() -> None:  # ActionModule.training_step + the optimiser step
            opt.zero_grad(set_to_none=True)
            with autocast(device, mode):
                loss = call(model, x, y)["loss"]
            loss.backward()
            opt.step()

        return step, sum(p.numel() for p in model.parameters())

    shape = (shapes.batch, 3, shapes.arrn_frames, 25, 2)
    return Row("arrn-ntu", "ARRN-LSTM, two-stream, NTU preset", shape, MODES, build)


@contextlib.contextmanager
def official_runtime(device: torch.device) -> Iterator[None]:
    """The official code's legacy sparse constructor as ``torch.sparse_coo_tensor`` (any device);
    on the CPU (``--dry-run``) its ``.cuda()`` calls are no-ops too
    (``check_official_parity.cpu_only``)."""
    from check_official_parity import cpu_only

    saved = torch.sparse.FloatTensor
    torch.sparse.FloatTensor = lambda i, v, size: torch.sparse_coo_tensor(i, v, size)  # type: ignore[assignment]
    try:
        with cpu_only() if device.type == "cpu" else contextlib.nullcontext():
            yield
    finally:
        torch.sparse.FloatTensor = saved  # type: ignore[assignment]


def official_row(repo: Path, shapes: Shapes) -> Row:
    def build(device: torch.device, mode: str) -> tuple[Callable[[], None], int]:
        from check_official_parity import load_official

        model_cls, aim_cls, config = load_official(repo)
        with official_runtime(device):
            model1 = model_cls(**config["model1_args"]).to(device)
            model2 = aim_cls(**config["model2_args"]).to(device)
        model1.train()
        model2.train()
        opt1 = torch.optim.SGD(model1.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        lam = float(config["lamda_act"])
        n, t = shapes.official_batch, shapes.official_frames
        x, y = ntu_batch(n, t, device)
        data, target, last = x[:, :, :-HORIZON], x[:, :, -HORIZON:], x[:, :, -HORIZON - 1 : -HORIZON]
        idx = torch.linspace(0, data.shape[2] - 1, AIM_FRAMES).long().to(device)
        downsampled = data.index_select(2, idx).contiguous()  # the feeder's 50 frames (not timed)

        def step() -> None:  # processor/recognition.py, train(training_A=False)
            with official_runtime(device):
                with autocast(device, mode):
                    a_batch, _prob, _outputs, _ = model2(downsampled)
                    x_class, pred, tgt = model1(data, target, last, a_batch, lam)
                    loss = F.cross_entropy(x_class, y) + 0.01 * F.mse_loss(pred, tgt)
                opt1.zero_grad()
                loss.backward()
                opt1.step()

        return step, sum(p.numel() for p in model1.parameters()) + sum(p.numel() for p in model2.parameters())

    shape = (shapes.official_batch, 3, shapes.official_frames, 25, 2)
    return Row(OFFICIAL_KEY, "AS-GCN, official code (limaosen0/AS-GCN)", shape, OFFICIAL_MODES, build)


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_block(step: Callable[[], None], steps: int, device: torch.device) -> float:
    """Seconds per step over ``steps`` steps (CUDA events on a GPU, the wall clock on the CPU)."""
    synchronize(device)
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            step()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000.0 / steps
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def measure(cell: Cell, device: torch.device, args: argparse.Namespace) -> None:
    step = None
    try:
        step, cell.params = cell.row.build(device, cell.mode)
        synchronize(device)
        t0 = time.perf_counter()
        step()  # compiles, for the compiled modes
        synchronize(device)
        cell.first_s = time.perf_counter() - t0
        for _ in range(args.warmup):
            step()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        per_step = min(time_block(step, args.steps, device) for _ in range(args.repeats))
        cell.ms = 1000.0 * per_step
        if device.type == "cuda":
            cell.peak_gib = torch.cuda.max_memory_allocated(device) / 2**30
        cell.status = "measured"
    except Exception as e:  # noqa: BLE001 - one failing cell must not lose the others
        message = " ".join(str(e).split())
        cell.status = f"failed: {type(e).__name__}: {message[:160]}"
        print(f"  {cell.row.key} {cell.mode}: {cell.status}", file=sys.stderr)
    finally:
        del step
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def environment(device: torch.device) -> list[str]:
    lines = [f"torch {torch.__version__}, Python {platform.python_version()}, {platform.machine()}"]
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        lines.append(
            f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs; CUDA "
            f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; TF32: matrix products "
            f"{torch.backends.cuda.matmul.allow_tf32}, cuDNN {torch.backends.cudnn.allow_tf32}; "
            f"cudnn.benchmark {torch.backends.cudnn.benchmark}"
        )
    else:
        lines.append(f"CPU ({torch.get_num_threads()} threads): a dry run, not a measurement")
    return lines


def fmt(value: float | None, spec: str) -> str:
    return "" if value is None or not math.isfinite(value) else format(value, spec)


def render(cells: list[Cell], header: list[str]) -> str:
    """The Markdown report; rows grouped by model (AS-GCN, the official code, ARRN-LSTM), then mode."""
    cells = sorted(cells, key=lambda c: (ROW_KEYS.index(c.row.key), MODES.index(c.mode)))
    fp32 = {c.row.key: c.samples_per_s for c in cells if c.mode == "fp32" and c.ms is not None}
    official = {c.mode: c.samples_per_s for c in cells if c.row.key == OFFICIAL_KEY and c.ms is not None}
    lines = [
        "# GPU training throughput",
        "",
        *header,
        "",
        "| model | input (N, C, T, V, M) | mode | samples/s | ms/step | vs fp32 | vs official code "
        "| peak GPU memory (GiB) | first step (s) | parameters |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        shape = "(" + ", ".join(map(str, c.row.shape)) + ")"
        if c.status != "measured":
            params = f"{c.params / 1e6:.2f} M" if c.params else c.status
            lines.append(f"| {c.row.label} | {shape} | {c.mode} | " + f"{c.status} | " * 6 + f"{params} |")
            continue
        rate = c.samples_per_s or 0.0
        base = fp32.get(c.row.key)
        speedup = f"{rate / base:.2f}x" if base else ""
        ref = official.get(c.mode.removeprefix("compiled").strip() or "fp32")
        vs_official = f"{rate / ref:.2f}x" if ref and c.row.key.startswith("asgcn") else ""
        lines.append(
            f"| {c.row.label} | {shape} | {c.mode} | {fmt(c.samples_per_s, '.1f')} | {fmt(c.ms, '.1f')} | "
            f"{speedup} | {vs_official} | {fmt(c.peak_gib, '.2f')} | {fmt(c.first_s, '.1f')} "
            f"| {c.params / 1e6:.2f} M |"
        )
    lines += [
        "",
        "One step: forward pass and losses, backward, optimiser step(s), as in training (module "
        "docstring of `benchmarks/bench_gpu.py`). samples/s = N / time per step, from the fastest block "
        "of timed steps after the warm-up; vs fp32: samples/s over the same model's fp32 samples/s; vs "
        "official code: samples/s over the official code's in the same precision (eager); peak memory = "
        "`torch.cuda.max_memory_allocated` over the timed steps; first step = the first call's time "
        "(compilation included for the compiled modes).",
        "",
    ]
    return "\n".join(lines)


def write(text: str, out: Path | None) -> None:
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)


def rows_for(shapes: Shapes, official: Path | None) -> list[Row]:
    rows = [asgcn_row("paper", shapes), asgcn_row("official", shapes)]
    if official is not None:
        rows.append(official_row(official, shapes))
    rows.append(arrn_row(shapes))
    return rows


def ordered_cells(rows: list[Row]) -> list[Cell]:
    """Eager cells first (cheap), compiled ones last (compilation takes minutes); ARRN-LSTM's
    compiled cells before AS-GCN's."""
    cells = [Cell(r, m) for r in rows for m in r.modes]
    rank = {"fp32": 0, "bf16-mixed": 1, "compiled": 2, "compiled bf16-mixed": 3}
    return sorted(cells, key=lambda c: (rank[c.mode] >= 2, c.row.key != "arrn-ntu", rank[c.mode]))


def placeholder(out: Path) -> None:
    cells = ordered_cells(rows_for(FULL, Path("official")))
    header = [
        f"Status: **{NOT_MEASURED}**.",
        "",
        f"Command (one CUDA GPU, about 10 minutes): `{COMMAND}` (DIR: a checkout of "
        "https://github.com/limaosen0/AS-GCN on that machine; without `--official` its row is left "
        "out). What is measured: the docstring of `benchmarks/bench_gpu.py`.",
        "",
        "Checked without a GPU: `--dry-run` (CPU, tiny shapes, one step per cell, the `eager` compile "
        "backend) runs every cell of this table, the official code's included.",
    ]
    write(render(cells, header), out)
    print(f"wrote {out}")


@contextlib.contextmanager
def compile_settings(backend: str | None) -> Iterator[str]:
    """``torch.compile`` as the benchmark uses it, restored afterwards: the ``backend`` (None:
    inductor) in :data:`skelact.train.module.COMPILE_OPTIONS`, and room for the graphs of every row
    and mode (one compiled function per model call serves them all)."""
    import torch._dynamo.config as dynamo_config

    from skelact.train import module as train_module

    options = dict(train_module.COMPILE_OPTIONS)
    limits = {
        n: getattr(dynamo_config, n)
        for n in ("recompile_limit", "cache_size_limit")
        if hasattr(dynamo_config, n)
    }
    try:
        for name in limits:
            setattr(dynamo_config, name, 64)
        if backend:
            train_module.COMPILE_OPTIONS["backend"] = backend
        yield backend or "inductor"
    finally:
        train_module.COMPILE_OPTIONS.clear()
        train_module.COMPILE_OPTIONS.update(options)
        for name, value in limits.items():
            setattr(dynamo_config, name, value)


def run(args: argparse.Namespace, backend: str, argv: list[str] | None) -> list[Cell]:
    if args.dry_run:
        device, shapes, out = torch.device("cpu"), DRY, args.out
        args.steps, args.repeats, args.warmup = 1, 1, 0
    else:
        device, shapes, out = torch.device("cuda"), FULL, args.out or RESULTS
    official = args.official.resolve() if args.official else None
    rows = [r for r in rows_for(shapes, official) if not args.only or r.key in args.only]
    cells = [c for c in ordered_cells(rows) if c.mode in args.modes]
    started = time.perf_counter()
    command = shlex.join(["python", "benchmarks/bench_gpu.py", *(argv if argv is not None else sys.argv[1:])])
    header = [
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; command: `{command}`",
        *(f"- {line}" for line in environment(device)),
        f"- compile backend: {backend}; {args.warmup} warm-up steps after the first, "
        f"fastest of {args.repeats} blocks of {args.steps} timed steps; deterministic algorithms off",
    ]
    if official is not None:
        from check_official_parity import official_commit

        header.append(f"- official code: limaosen0/AS-GCN @ {official_commit(official, None)}")
    for cell in cells:
        elapsed = time.perf_counter() - started
        if elapsed > args.budget_s:
            cell.status = f"skipped (time budget of {args.budget_s:.0f} s spent)"
            continue
        print(f"[{elapsed:6.0f} s] {cell.row.key} {cell.mode} ...", file=sys.stderr, flush=True)
        measure(cell, device, args)
        write(render(cells, header + [f"- total time: {time.perf_counter() - started:.0f} s"]), out)
    text = render(cells, header + [f"- total time: {time.perf_counter() - started:.0f} s"])
    write(text, out)
    print(text)
    return cells


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official", type=Path, help="checkout of limaosen0/AS-GCN (else its row is left out)")
    p.add_argument(
        "--out", type=Path, help=f"results file (default {RESULTS.relative_to(REPO)}; with --dry-run: none)"
    )
    p.add_argument("--steps", type=int, default=20, help="timed steps per block (default %(default)s)")
    p.add_argument(
        "--repeats", type=int, default=2, help="timed blocks; the fastest is kept (default %(default)s)"
    )
    p.add_argument(
        "--warmup", type=int, default=3, help="untimed steps after the first (default %(default)s)"
    )
    p.add_argument(
        "--budget-s",
        type=float,
        default=540.0,
        help="start no cell after this many seconds (default %(default)s)",
    )
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="modes to run")
    p.add_argument(
        "--only", nargs="+", help="rows by key: asgcn-paper, asgcn-official, asgcn-official-code, arrn-ntu"
    )
    p.add_argument(
        "--backend", default=None, help="torch.compile backend (default: inductor; dry run: eager)"
    )
    p.add_argument("--dry-run", action="store_true", help="on the CPU, tiny shapes, one step per block")
    p.add_argument("--placeholder", action="store_true", help=f"write the table with '{NOT_MEASURED}'")
    args = p.parse_args(argv)

    if args.placeholder:
        placeholder(args.out or RESULTS)
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print(
            "bench_gpu.py: no CUDA device here (torch.cuda.is_available() is False; torch "
            f"{torch.__version__}). This benchmark needs one GPU; --dry-run runs it on the CPU on tiny "
            "shapes as a smoke test.",
            file=sys.stderr,
        )
        return 2
    scripts = str(REPO / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)  # check_official_parity
    with compile_settings(args.backend or ("eager" if args.dry_run else None)) as backend:
        cells = run(args, backend, argv)
    return 0 if all(c.status == "measured" or c.status.startswith("skipped") for c in cells) else 1


if __name__ == "__main__":
    sys.exit(main())
