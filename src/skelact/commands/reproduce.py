"""``skelact reproduce TARGET [TARGET ...]``: the papers' protocols end to end, with a report.

Targets: ``msr3d`` (AS1-AS3 cross-subject), ``florence3d`` (leave-one-subject-out), ``ntu60-xsub``,
``ntu60-xview``, ``kinetics``. On the small datasets one model per unit and seed is trained on all
training subjects with the preset's recipe and its last epoch is tested once (the recipe and the
fusion weight were chosen by cross-validation over training subjects, ``scripts/choose_recipe.py``).
Writes ``OUT/reproduction.md`` and ``OUT/reproduction.json``; stores, cached scores and run
directories go to ``--work-dir`` (an interrupted run continues from there with the same command),
and every finished unit's result also goes to ``--results`` (default ``OUT/units``), which a clone
of the repository carries to another machine.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..repro.targets import DEFAULT_WORK_DIR, MODELS, TARGETS, TRAINING_KEYS

    p = subparsers.add_parser(
        "reproduce",
        help="run the papers' protocols (MSRAction3D, Florence3D, NTU, Kinetics) and write a report",
        description="Reproduce the published results: every subset / fold, 3 seeds, ARRN-LSTM (two-stream, "
        "joint, line; with and without attention) and AS-GCN; on the small datasets one training per unit "
        "and seed read at its last epoch (the recipe chosen by cross-validation over training subjects), "
        "on NTU / Kinetics the presets' validation split. Writes OUT/reproduction.md and "
        "OUT/reproduction.json.",
        epilog="Data: --src RAW_DIR (prepared into the work dir) or --store STORE; without either, "
        "../shared/data/<dataset folder> is used when it exists. With several targets give TARGET=DIR. "
        "Rerun the same command to continue an interrupted run. --quick runs one unit, one seed, a few "
        "epochs and tiny networks (a smoke test; the report says so).",
    )
    p.add_argument("targets", nargs="+", metavar="TARGET", choices=list(TARGETS), help=", ".join(TARGETS))
    p.add_argument("--src", action="append", metavar="[TARGET=]DIR", help="raw dataset folder")
    p.add_argument(
        "--store", action="append", metavar="[TARGET=]DIR", help="prepared store (skelact prepare)"
    )
    p.add_argument(
        "--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="S", help="seeds (default: 0 1 2)"
    )
    p.add_argument(
        "--models",
        nargs="+",
        choices=[*MODELS, *TRAINING_KEYS],
        default=list(MODELS),
        help="models (default: both); 'arrn' / 'rrn' run only the attention-on / -off ARRN-LSTM",
    )
    p.add_argument(
        "--units",
        nargs="+",
        metavar="UNIT",
        help="only these subsets / folds (e.g. as1 fold03), to split a run over processes sharing --work-dir",
    )
    p.add_argument("--out", default="reports", metavar="DIR", help="report folder (default: reports)")
    p.add_argument(
        "--work-dir",
        default=str(DEFAULT_WORK_DIR),
        metavar="DIR",
        help=f"stores, caches and runs (default: {DEFAULT_WORK_DIR})",
    )
    p.add_argument(
        "--results",
        metavar="DIR",
        help="unit records folder: each finished unit's result, small enough to commit, read back by a "
        "later run on any machine (default: OUT/units; 'none': the work dir only)",
    )
    p.add_argument("--quick", action="store_true", help="one unit, one seed, few epochs, tiny networks")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: write the report from the results already in --work-dir (the report "
        "records the command without this flag, which would also train what is missing)",
    )
    p.add_argument("--epochs", type=int, metavar="N", help="maximum epochs (default: the preset's)")
    p.add_argument(
        "--readme",
        metavar="FILE",
        help="rewrite the generated results table of FILE (e.g. README.md) from the report's entries",
    )
    for option in REMOVED:  # accepted only to say why they are gone
        p.add_argument(option, action="append", help=argparse.SUPPRESS)
    p.add_argument(
        "--augment",
        choices=["standard", "strong", "stronger", "none"],
        default="strong",
        help="training augmentation on the small datasets, the same for every model (default: strong, "
        "the recipe's choice, reports/recipe.md)",
    )
    p.add_argument(
        "--msr-form",
        choices=["real3d", "screen"],
        default="real3d",
        help="MSRAction3D file form (default: real3d, real-world coordinates)",
    )
    p.add_argument(
        "--florence-file",
        choices=["auto", "world", "features"],
        default="auto",
        help="Florence3D file: the 15-joint world file when present, else the features file (auto)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="model runs trained at once, each in its own process (default: 1); with --threads T, "
        "keep N x T within the CPU cores (one GPU can take several)",
    )
    p.add_argument(
        "--threads", type=int, metavar="N", help="torch CPU threads of each process (default: torch's)"
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the model runs as tasks on a Ray cluster (e.g. auto, ray://HEAD:10001; 'local' starts "
        "one on this machine) instead of --jobs local processes; needs pip install 'skelact[cluster]' "
        "and the work dir on a filesystem every node shares",
    )
    p.set_defaults(func=run)


#: Options of the earlier epoch-picking protocol (``cv-epochs``), removed with it.
REMOVED = ("--protocol", "--cv-folds", "--smooth")


def _paths(values: list[str] | None, targets: list[str], option: str) -> Any:
    """``--src DIR`` (one target) or ``--src TARGET=DIR`` (several) -> what reproduce() takes."""
    from ..errors import ConfigError

    if not values:
        return None
    mapping: dict[str, str] = {}
    plain: list[str] = []
    for v in values:
        name, sep, path = v.partition("=")
        if sep and name in targets:
            mapping[name] = path
        else:
            plain.append(v)
    if plain and (mapping or len(plain) > 1 or len(targets) > 1):
        raise ConfigError(f"{option}: with several targets or values, give TARGET=DIR for each")
    return plain[0] if plain else mapping


def _command(args: argparse.Namespace) -> str:
    """The command line, rebuilt from the parsed arguments (every option that was set)."""
    words = ["skelact", "reproduce", *args.targets]
    for value in args.src or []:
        words += ["--src", value]
    for value in args.store or []:
        words += ["--store", value]
    words += [
        "--seeds",
        *map(str, args.seeds),
        "--models",
        *args.models,
        "--out",
        args.out,
        "--work-dir",
        args.work_dir,
    ]
    if args.results is not None:
        words += ["--results", args.results]
    if args.units:
        words += ["--units", *args.units]
    if args.quick:
        words.append("--quick")
    for option in ("epochs", "threads"):  # --jobs changes no result: not recorded
        if getattr(args, option) is not None:
            words += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    words += [
        "--augment",
        args.augment,
        "--msr-form",
        args.msr_form,
        "--florence-file",
        args.florence_file,
    ]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..repro.runner import reproduce

    used = [o for o in REMOVED if getattr(args, o[2:].replace("-", "_"))]
    if used:
        print(
            f"skelact reproduce: error: {', '.join(used)}: removed with the epoch-picking protocol "
            "(cv-epochs). Every small-data unit now trains once on all its training subjects and tests "
            "its last epoch; the recipe and alpha are chosen by scripts/choose_recipe.py. The earlier "
            "report and its records are in reports/earlier/2026-12-02/.",
            file=sys.stderr,
        )
        return 2

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = reproduce(
        args.targets,
        src=_paths(args.src, args.targets, "--src"),
        store=_paths(args.store, args.targets, "--store"),
        seeds=args.seeds,
        models=args.models,
        out=args.out,
        work_dir=args.work_dir,
        quick=args.quick,
        epochs=args.epochs,
        readme=args.readme,
        augment=args.augment,
        msr_form=args.msr_form,
        florence_file=args.florence_file,
        units=args.units,
        report_only=args.report_only,
        command=_command(args),
        results=True if args.results is None else (None if args.results == "none" else args.results),
        jobs=args.jobs,
        threads=args.threads,
        ray=args.ray,
    )
    print(f"wrote {result['markdown']} and {result['json']}")
    return 0
