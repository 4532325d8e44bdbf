"""``skelact prepare DATASET --src DIR --out DIR``: parse a raw dataset folder into a packed store.

See :func:`skelact.data.prepare.prepare` for what is read per dataset.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..data.prepare import DATASETS

    p = subparsers.add_parser(
        "prepare",
        help="parse a raw dataset folder into a packed, memory-mapped store",
        description="Parse the raw files of DATASET in --src into a packed store at --out "
        "(data.bin + index.npy + manifest.json). Bad files are skipped and listed; "
        "an interrupted run leaves no store behind.",
    )
    p.add_argument("dataset", choices=sorted(DATASETS), metavar="DATASET", help=", ".join(sorted(DATASETS)))
    p.add_argument(
        "--src",
        required=True,
        help="folder with the raw files (searched recursively); 'bundled' = the sample shipped with skelact",
    )
    p.add_argument("--out", required=True, help="store directory to create")
    p.add_argument("--workers", type=int, default=2, help="parsing processes (default 2; 1 = no pool)")
    p.add_argument(
        "--missing",
        metavar="FILE",
        help="NTU missing-skeleton list (default: the official list if found in --src)",
    )
    p.add_argument(
        "--bodies", type=int, metavar="M", help="bodies per frame kept (default: NTU/Kinetics 2, else 1)"
    )
    p.add_argument(
        "--normalize",
        metavar="SPEC",
        help="transforms applied at prepare time: names joined by commas (e.g. PreNormalize3D, CenterOnHip) "
        "or a JSON list of specs; recorded in the manifest",
    )
    p.add_argument("--label-names", metavar="FILE", help="Kinetics label_name.txt (default: found in --src)")
    p.add_argument(
        "--label-file",
        action="append",
        default=[],
        metavar="FILE",
        help="Kinetics label JSON (kinetics_train_label.json / kinetics_val_label.json); repeatable",
    )
    p.add_argument(
        "--msr-form", choices=("real3d", "screen"), default="real3d", help="MSRAction3D files to read"
    )
    p.add_argument(
        "--florence-file",
        choices=("auto", "world", "features"),
        default="auto",
        help="Florence3D file to read",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra reader option (value parsed as JSON if possible), e.g. body_selection=track",
    )
    p.add_argument("--limit", type=int, metavar="N", help="only the first N files (quick looks)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _parse_options(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _parse_normalize(spec: str | None) -> Any:
    if spec is None or not spec.strip().startswith("["):
        return spec
    try:
        return json.loads(spec)
    except json.JSONDecodeError as e:
        raise ConfigError(f"--normalize: invalid JSON ({e})") from None


def run(args: argparse.Namespace) -> int:
    from ..data.bundled import resolve_bundled
    from ..data.prepare import prepare

    if Path(args.out).exists() and not args.overwrite:
        raise ConfigError(f"--out {args.out} already exists; pass --overwrite to replace it")
    summary = prepare(
        args.dataset,
        resolve_bundled(args.src, args.dataset),
        args.out,
        workers=args.workers,
        missing=args.missing,
        bodies=args.bodies,
        normalize=_parse_normalize(args.normalize),
        label_names=args.label_names,
        label_files=args.label_file,
        msr_form=args.msr_form,
        florence_file=args.florence_file,
        reader_options=_parse_options(args.option),
        overwrite=args.overwrite,
        progress=not args.no_progress,
        limit=args.limit,
    )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.format())
    return 0
