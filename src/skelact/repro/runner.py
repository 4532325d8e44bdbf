"""``reproduce()``: prepare the data, run every unit, seed and model, and write the report."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.prepared import DEFAULT_DATA_ROOT, resolve_store
from ..errors import ConfigError
from ..train import config as train_config
from .cache import RECORDS_DIR, publish
from .protocol import run_unit
from .provenance import code_version
from .readme import update_readme
from .report import data_facts, write_report
from .targets import (
    ALL_TRAININGS,
    DEFAULT_WORK_DIR,
    MODELS,
    TARGETS,
    Target,
    Training,
    Unit,
    get_target,
    trainings_for,
)
from .unit_config import AUGMENT_POLICIES, Context

__all__ = ["DEFAULT_DATA_ROOT", "DEFAULT_WORK_DIR", "reproduce", "resolve_store"]

#: One model run: its context, unit, seed and training.
Run = tuple[Context, Unit, int, Training]


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _per_target(
    value: str | os.PathLike[str] | Mapping[str, Any] | None, target: str, several: bool, option: str
) -> Path | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        v = value.get(target)
        return None if v is None else Path(v)
    if several:
        raise ConfigError(f"{option}: give one per target as TARGET=DIR when reproducing several targets")
    return Path(value)


def _preset_bodies(target: Target, models: Sequence[str]) -> int | None:
    """Bodies per frame the target's presets build their models for (``model.options.num_bodies``),
    when they all agree on one (e.g. AS-GCN on Kinetics: 1); None = the dataset's default."""
    found = {
        train_config.load_config(t.preset_for(target.units[0])).model.options.get("num_bodies")
        for t in trainings_for(target, list(models))
    }
    return found.pop() if len(found) == 1 and None not in found and target.selection == "validation" else None


def _running_table(target: Target, results: list[dict[str, Any]], models: Sequence[str]) -> str:
    """Accuracy so far: one line per row, one column per unit (mean over the seeds done)."""
    units = [u for u in target.units if any(r["unit"] == u.key for r in results)]
    trainings = trainings_for(target, list(models))
    width = max([len(row.label) for t in trainings for row in t.rows] + [5])
    cols = [max(8, len(u.name)) for u in units]
    head = " ".join(f"{u.name:>{c}}" for u, c in zip(units, cols, strict=True))
    lines = [f"{'':<{width}} {head} {'mean':>8}"]
    for t in trainings:
        mine = [r for r in results if r["training"] == t.key]
        for row in t.rows if mine else ():
            vals = [[r["rows"][row.key]["top1"] for r in mine if r["unit"] == u.key] for u in units]
            cells = [f"{np.mean(v):{c}.1f}" if v else " " * c for v, c in zip(vals, cols, strict=True)]
            means = [float(np.mean(v)) for v in vals if v]
            mean = f"{np.mean(means):8.1f}" if means else ""
            lines.append(f"{row.label:<{width}} " + " ".join(cells) + f" {mean}")
    return "\n".join(lines)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU threads set to ``threads`` (None: left as they are) for the block."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _unit_job(settings: dict[str, Any], training_key: str, unit_key: str, seed: int, label: str) -> Any:
    """One model run in a worker process (``jobs > 1``) or a Ray task: rebuilds the run's
    :class:`~skelact.repro.unit_config.Context` from plain ``settings`` and calls ``run_unit``."""
    threads = settings.pop("threads")
    target = get_target(settings.pop("target"))
    ctx = Context(target, log=_log_stderr, **settings)
    training = next(t for t in ALL_TRAININGS if t.key == training_key)
    unit = next(u for u in target.units if u.key == unit_key)
    with _torch_threads(threads):
        return run_unit(ctx, training, unit, seed, label=label)


def _run_here(runs: Sequence[Run], threads: int | None) -> Iterator[tuple[int, Any, str | None]]:
    """Run ``runs`` one after the other in this process; yields like :func:`_run_elsewhere` (an
    error is raised, not yielded)."""
    with _torch_threads(threads):
        for i, (ctx, unit, seed, training) in enumerate(runs):
            label = f"[{i + 1}/{len(runs)}] {ctx.target.name}"
            yield i, run_unit(ctx, training, unit, seed, label=label), None


def _run_elsewhere(
    runs: Sequence[Run], jobs: int, threads: int | None, ray_address: str | None, log: Callable[[str], None]
) -> Iterator[tuple[int, Any, str | None]]:
    """Run ``runs`` in ``jobs`` worker processes, or as Ray tasks on the cluster at ``ray_address``
    (``"local"``: a Ray instance started here with this machine's cores; each task asks for
    ``threads`` CPUs, the work directory must lie under the same path on every node); yields
    ``(index, result, None)`` or ``(index, None, error text)`` in the order they finish. Every run
    is :func:`_unit_job`, so the unit records are the same as those of a run in this process."""
    skip = ("target", "log", "_store")  # what a worker rebuilds: the target by name, a log, the store
    args = [
        ({**{f.name: getattr(ctx, f.name) for f in fields(Context) if f.name not in skip},
          "target": ctx.target.name, "threads": threads},
         training.key, unit.key, seed, f"[{i + 1}/{len(runs)}] {ctx.target.name}")
        for i, (ctx, unit, seed, training) in enumerate(runs)
    ]  # fmt: skip
    started_here = False
    if ray_address:
        try:
            import ray  # optional: skelact[cluster]
        except ImportError:
            raise ConfigError("--ray needs Ray: pip install 'skelact[cluster]'") from None
        if started_here := not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            where = {"num_cpus": os.cpu_count()} if ray_address == "local" else {"address": ray_address}
            ray.init(**where, **kwargs)
        task = ray.remote(num_cpus=int(threads or 1), max_retries=0)(_unit_job)
        log(f"{len(runs)} model run(s) as Ray tasks on {ray_address} ({int(threads or 1)} CPU(s) each; "
            f"{int(ray.cluster_resources().get('CPU', 0))} CPU(s) in the cluster)")  # fmt: skip
        refs = [task.remote(*a) for a in args]
        futures = {ref.future(): i for i, ref in enumerate(refs)}
    else:
        workers = min(jobs, len(runs))
        each = f", {threads} thread(s) each" if threads else ""
        log(f"{len(runs)} model run(s) on {workers} worker process(es){each}")
        # spawn: a fresh interpreter per worker (fork after torch has started threads can deadlock)
        pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        futures = {pool.submit(_unit_job, *a): i for i, a in enumerate(args)}
    finished = False
    try:
        for future in cf.as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as e:  # noqa: BLE001 - reported with its unit; the others go on
                cause = getattr(e, "cause", None) or e  # a Ray task's error wraps the worker's
                yield futures[future], None, f"{type(cause).__name__}: {cause}"
        finished = True
    finally:
        if not ray_address:
            pool.shutdown(wait=finished, cancel_futures=not finished)
        for future, i in futures.items() if ray_address else ():
            if not future.done():
                ray.cancel(refs[i], force=True)
        if started_here:
            ray.shutdown()


def reproduce(
    targets: Sequence[str],
    *,
    src: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    store: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    models: Sequence[str] = MODELS,
    out: str | os.PathLike[str] = "reports",
    work_dir: str | os.PathLike[str] = DEFAULT_WORK_DIR,
    quick: bool = False,
    epochs: int | None = None,
    readme: str | os.PathLike | None = None,
    augment: str = "strong",
    msr_form: str = "real3d",
    florence_file: str = "auto",
    units: Sequence[str] | None = None,
    report_only: bool = False,
    command: str = "",
    results: str | os.PathLike[str] | None | bool = True,
    jobs: int = 1,
    threads: int | None = None,
    ray: str | None = None,
    log: Callable[[str], None] = _log_stderr,
) -> dict[str, Any]:
    """Reproduce the papers' results on ``targets`` and write ``out/reproduction.{md,json}``.

    Args:
        targets: names from :data:`~skelact.repro.targets.TARGETS` (``msr3d``, ``florence3d``,
            ``ntu60-xsub``, ``ntu60-xview``, ``kinetics``).
        src: raw dataset folder (one target) or ``{target: folder}``; default ``../shared/data/<folder>``
            when it exists.
        store: a prepared store instead of ``src`` (one target, or ``{target: store}``).
        seeds: seeds; each gives a full run of the protocol.
        models: ``arrn_lstm`` (attention on and off: six rows) and / or ``asgcn``; ``arrn`` / ``rrn``
            for one of the two ARRN-LSTM runs.
        out: folder of the report (``reproduction.md``, ``reproduction.json``, ``figures/``).
        work_dir: prepared stores, unit results, run directories (an interrupted run continues there).
        quick: one unit, the first seed, 2 epochs (unless ``epochs``), tiny networks and a few
            sequences: checks the pipeline end to end; the report says so.
        epochs: epochs (default: the preset's ``train.epochs``).
        readme: a README whose generated results block (:mod:`skelact.repro.readme`) is rewritten
            from the report's entries at the end.
        augment: the training augmentation of the small datasets
            (:func:`~skelact.data.augment.augmentation_specs`; default: the recipe's choice,
            ``reports/recipe.md``).
        msr_form, florence_file: the MSRAction3D (``real3d``, ``screen``) and Florence3D (``auto``:
            the 15-joint world file when present, else the features file; ``world``, ``features``) files.
        units: only these units (``as1``, ``fold03``): to split a protocol over processes sharing
            ``work_dir``; a last run without it collects every cached unit into the full report.
        report_only: train nothing: report the unit results already in ``work_dir`` or the records
            folder (the report says what is missing).
        command: the command line recorded in the report.
        results: the unit records folder: every finished unit is written there and read back from
            there, so a clone holding ``out`` rebuilds the report or continues the run elsewhere;
            ``True`` (default): ``<out>/units``; ``None`` / ``False``: the work directory only.
        jobs: model runs trained at once, each in its own process (results do not depend on it;
            a run that fails is reported, the others go on, and the call raises at the end).
        threads: torch CPU threads of each model run (default: as they are); on a CPU, ``jobs`` x
            ``threads`` should not exceed the cores.
        ray: run the model runs as tasks on the Ray cluster at this address (``"local"``: start
            one here) instead of local processes; the same unit records and report.

    Returns ``{"json": path, "markdown": path, "entries": [...], "results": {target: [...]}}``.
    """
    code_version()  # the commit of the code this process loaded (cached; a later commit does not change it)
    names, models = list(dict.fromkeys(targets)), list(dict.fromkeys(models))
    seeds = [int(s) for s in dict.fromkeys(seeds)]
    if not names:
        raise ConfigError("no target given; known: " + ", ".join(TARGETS))
    chosen = [get_target(n) for n in names]
    for ok, message in (
        (seeds, "no seed given"),
        (augment in AUGMENT_POLICIES,
         f"augment must be one of {', '.join(AUGMENT_POLICIES)}, got {augment!r}"),
        (epochs is None or epochs >= 1, f"epochs must be >= 1, got {epochs}"),
        (jobs >= 1, f"jobs must be >= 1, got {jobs}"),
        (threads is None or threads >= 1, f"threads must be >= 1, got {threads}"),
        *((trainings_for(t, models), f"{t.name}: none of the models {models} has a preset there (has: "
           f"{', '.join(t.models)})") for t in chosen),
    ):  # fmt: skip
        if not ok:
            raise ConfigError(message)
    seeds = seeds[:1] if quick else seeds
    wanted = None if units is None else {u.lower() for u in units}
    known = {u.key for t in chosen for u in t.units}
    if wanted is not None and not wanted <= known:
        unknown = ", ".join(sorted(wanted - known))
        raise ConfigError(f"unknown unit(s) {unknown}; known: {', '.join(sorted(known))}")
    work = Path(work_dir)
    results_dir = Path(out) / RECORDS_DIR if results is True else (Path(results) if results else None)
    contexts, facts, planned, plan = [], {}, {}, []
    for t in chosen:
        path = resolve_store(
            t.dataset, t.raw_folder, src=_per_target(src, t.name, len(chosen) > 1, "--src"), name=t.name,
            store=_per_target(store, t.name, len(chosen) > 1, "--store"), stores_dir=work / "stores",
            msr_form=msr_form, florence_file=florence_file, bodies=_preset_bodies(t, models), log=log,
        )  # fmt: skip
        ctx = Context(t, path, work, seeds=tuple(seeds), epochs=epochs, augment=augment, quick=quick,
                      command=command, cached_only=report_only, results_dir=results_dir, log=log)  # fmt: skip
        contexts.append(ctx)
        facts[t.name] = data_facts(t, ctx.store)
        mine = [u for u in (t.units[:1] if quick else t.units) if wanted is None or u.key in wanted]
        planned[t.name] = [u.key for u in mine]
        plan += [(ctx, unit, seed, trainings_for(t, models)) for unit in mine for seed in seeds]
    runs: list[Run] = [(ctx, unit, seed, t) for ctx, unit, seed, trainings in plan for t in trainings]
    log(f"reproduce {' '.join(names)}: {len(plan)} unit(s) x seed(s), {len(runs)} model run(s); "
        f"report in {out}, work files in {work}")  # fmt: skip
    found: dict[str, list[dict[str, Any]]] = {ctx.target.name: [] for ctx in contexts}
    started, paths = time.time(), ()

    def report() -> tuple[Any, ...]:
        return write_report(found, out, seeds=seeds, models=models, facts=facts, command=command, quick=quick,
                            work_dir=work, augment=augment, planned=planned, log=log,
                            results_dir=results_dir)  # fmt: skip

    def finished(label: str, run: Run, result: dict[str, Any]) -> None:
        _, unit, seed, training = run
        summary = ", ".join(f"{k} {v['top1']:.1f}" for k, v in result["rows"].items())
        elapsed = time.time() - started
        log(f"{label} {training.key} {unit.name} seed {seed}: {summary} ({elapsed:.0f} s elapsed)")

    def trained_now(result: dict[str, Any]) -> bool:  # not a unit found done earlier
        finished = (result.get("trained_with") or {}).get("finished")
        # the record's time has whole seconds: a training that ends in the second the run started counts
        return finished is not None and datetime.datetime.fromisoformat(finished).timestamp() >= int(started)

    parallel = bool(jobs > 1 or ray) and not report_only
    done: dict[int, dict[str, Any]] = {}
    failed: list[str] = []
    added = False  # the unit and seed run last were trained in this run (not found done earlier)
    trained = False  # any unit and seed trained in this run
    outcomes = _run_elsewhere(runs, jobs, threads, ray, log) if parallel else _run_here(runs, threads)
    for i, result, error in outcomes:
        ctx, unit, seed, training = runs[i]
        label = f"[{i + 1}/{len(runs)}] {ctx.target.name}"
        if error is not None:
            failed.append(f"{label} {training.key} {unit.name} seed {seed}: {error}")
            log(f"{failed[-1]} (FAILED; the other units go on)")
            continue
        if result is not None:  # None: report_only, not run yet
            done[i] = result
            added = added or trained_now(result)
            trained = trained or added
            publish(ctx, training, unit, seed, result)  # a record here too (a remote node wrote its own)
            finished(label, runs[i], result)
            for name in found:  # plan order, whatever the order of completion
                found[name] = [done[j] for j in sorted(done) if runs[j][0].target.name == name]
        if not parallel and i + 1 < len(runs) and runs[i + 1][:3] == runs[i][:3]:
            continue  # in this process: the table and the report once the unit and seed are done
        if added:  # after a unit and seed trained now; tables of units done earlier: once, at the end
            log(_running_table(ctx.target, found[ctx.target.name], models))
        added = False
        if not report_only or i + 1 == len(runs):  # report_only: one report at the end
            paths = report()
    if failed:
        if done:
            log(f"report (partial): {paths[1]} and {paths[0]}")
        raise RuntimeError(f"{len(failed)} of {len(runs)} model run(s) failed:\n" + "\n".join(failed))
    if not any(found.values()):
        where = str(work) if results_dir is None else f"{work} or {results_dir}"
        raise ConfigError(f"--report-only: no finished unit result in {where} for these settings")
    if not trained:  # everything found done earlier (--report-only, or a rerun): each table once
        for ctx in contexts:
            if found[ctx.target.name]:
                log(_running_table(ctx.target, found[ctx.target.name], models))
    json_path, md_path, entries = paths
    log(f"report: {md_path} and {json_path}")
    if readme is not None:
        changed = update_readme(readme, entries, source=str(json_path))
        log(f"README results table {'rewritten' if changed else 'unchanged'}: {readme}")
    return {"json": json_path, "markdown": md_path, "entries": entries, "results": found}
