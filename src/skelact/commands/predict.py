"""``skelact predict CHECKPOINT FILE... [--top 5] [--json]``: classify raw skeleton files.

Any supported raw format (NTU ``.skeleton``, Kinetics JSON, MSRAction3D text, Florence3D text;
detected from the file). A file holding several sequences (Florence3D) gets one prediction per
sequence.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="classify raw skeleton files with a trained checkpoint",
        description="Read raw skeleton files (any supported format), apply the checkpoint's preprocessing "
        "and print the most likely actions with their scores.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a .ckpt file written by skelact train")
    p.add_argument("files", nargs="+", metavar="FILE", help="raw skeleton files")
    p.add_argument(
        "--top", type=int, default=5, metavar="K", help="classes to show per sequence (default: 5)"
    )
    p.add_argument("--json", action="store_true", help="print the predictions as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.inference import predict_files

    if args.top < 1:
        print("skelact predict: error: --top must be >= 1")
        return 2
    results = predict_files(args.checkpoint, args.files, top=args.top)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        head = f"{r['file']}"
        if r.get("sample") and r["sample"] not in r["file"]:
            head += f" [{r['sample']}]"
        if r.get("true_class"):
            head += f"  (labelled: {r['true_class']})"
        print(head)
        for rank, t in enumerate(r["top"], 1):
            print(f"  {rank}. {t['class']:<40} {t['score']:.3f}")
    return 0
