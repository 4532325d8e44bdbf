"""The ``skelact`` command line: a thin dispatcher over one module per verb in :mod:`skelact.commands`.

Each verb module defines ``register(subparsers)`` which adds its sub-parser and sets
``func=run`` (``run(args) -> int``). Bad input (:class:`~skelact.SkeletonFormatError`,
:class:`~skelact.errors.ConfigError`) becomes a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ._version import __version__
from .errors import ConfigError, SkeletonFormatError

VERBS = ("demo", "prepare", "info", "train", "eval", "predict", "reproduce", "viz", "export", "stream")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skelact", description="Skeleton-based human action recognition (AS-GCN, ARRN-LSTM)."
    )
    parser.add_argument("--version", action="version", version=f"skelact {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        try:
            module = importlib.import_module(f"skelact.commands.{verb}")
        except ModuleNotFoundError as e:
            if e.name == f"skelact.commands.{verb}":
                continue  # verb not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (SkeletonFormatError, ConfigError, FileNotFoundError) as e:
        print(f"skelact {args.verb}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skelact {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into a program that stopped reading (e.g. `| head`): exit quietly, as Unix
        # tools do. Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
