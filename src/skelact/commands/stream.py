"""``skelact stream MODEL --source FILE|-|DIR``: online action recognition from live poses.

Reads poses frame by frame (JSON lines from a file or standard input, or a folder of OpenPose
per-frame JSON files; schemas in :mod:`skelact.deploy.sources`), keeps the last ``--window``
frames in a fixed ring buffer and prints the top-k actions every ``--stride`` frames, after the
same preprocessing the checkpoint uses offline. Bad lines are reported on stderr with their line
number and skipped; the stream ends cleanly at end of input.

MODEL is a training checkpoint (``.ckpt``) or a file written by ``skelact export`` (``.onnx``,
``.pt2``).

``--incremental`` (ARRN-LSTM checkpoints): each frame runs the model's per-frame part once and
advances the LSTM state by one step instead of rerunning the window
(:class:`~skelact.deploy.stream.IncrementalStreamRecognizer`); other models, exported files and
test-time transforms that are not per-frame are refused with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _size(text: str) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 340x256, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"image size must be positive, got {text!r}")
    return w, h


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "stream",
        help="recognise actions online from a live sequence of poses",
        description="Online recognition over a sliding window of live poses: JSON lines (one frame per "
        'line, {"frame": i, "bodies": [[[x, y, z(, c)], ...], ...]}) from a file or "-" (stdin), or a '
        "folder of OpenPose per-frame JSON files. Prints the top-k actions every --stride frames.",
    )
    p.add_argument("model", metavar="MODEL",
                   help="a .ckpt from skelact train, or a .onnx / .pt2 from skelact export")
    p.add_argument("--source", required=True, metavar="FILE|-|DIR",
                   help="JSON-lines file, '-' for standard input, or an OpenPose output folder")
    p.add_argument("--format", choices=("jsonl", "openpose-dir"),
                   help="source format (default: openpose-dir for a folder, else jsonl)")
    p.add_argument("--window", type=int, metavar="T", help="frames per window (default: the training frames)")
    p.add_argument("--stride", type=int, default=1, metavar="S", help="predict every S frames (default 1)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="actions shown per prediction (default 5)")
    p.add_argument("--min-frames", type=int, metavar="N",
                   help="frames before the first prediction (default: --stride)")
    p.add_argument("--missing-joint", choices=("hold", "zeros"), default="hold",
                   help="a joint with confidence 0: hold its last position (default) or zeros")
    p.add_argument("--missing-body", choices=("zeros", "hold"), default="zeros",
                   help="a body slot with no body: zeros (default, as offline data) or hold its last pose")
    p.add_argument("--max-hold", type=int, metavar="N", help="hold a missing joint/body at most N frames")
    p.add_argument("--image-size", type=_size, metavar="WxH",
                   help="OpenPose pixel coordinates: divide by this frame size (Kinetics-skeleton: 340x256)")
    p.add_argument("--follow", action="store_true",
                   help="openpose-dir: keep watching the folder for new files (ends after --idle-timeout); "
                   "for a growing JSON-lines file use `tail -f FILE | skelact stream MODEL --source -`")
    p.add_argument("--idle-timeout", type=float, default=2.0, metavar="SECONDS",
                   help="--follow: stop after this long without a new file (default 2)")
    p.add_argument("--incremental", action="store_true",
                   help="ARRN-LSTM checkpoints: one frame of compute per frame (the LSTM state carried "
                   "across frames, the readout over the last --window outputs) instead of rerunning "
                   "the window; the same as the windowed mode over a stream's first window")
    p.add_argument("--json", action="store_true", help="print one JSON object per prediction")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy.sources import open_source, warn_to_stderr
    from ..deploy.stream import load_stream_model

    for name in ("window", "stride", "top", "min_frames"):
        value = getattr(args, name)
        if value is not None and value < 1:
            print(f"skelact stream: error: --{name.replace('_', '-')} must be >= 1", file=sys.stderr)
            return 2
    if args.max_hold is not None and args.max_hold < 0:
        print("skelact stream: error: --max-hold must be >= 0", file=sys.stderr)
        return 2
    loaded = load_stream_model(args.model)
    try:
        recognizer = loaded.recognizer(
            args.incremental, args.window, args.stride, top_k=args.top, min_frames=args.min_frames,
            missing_joint=args.missing_joint, missing_body=args.missing_body, max_hold=args.max_hold,
        )
    except (TypeError, ValueError) as e:
        if not args.incremental:
            raise
        print(f"skelact stream: error: --incremental: {e}", file=sys.stderr)
        return 2
    skipped = 0

    def on_error(err):
        nonlocal skipped
        skipped += 1
        warn_to_stderr(err)

    try:
        source = open_source(args.source, loaded.layout, args.format, on_error=on_error,
                             image_size=args.image_size, follow=args.follow, idle_timeout=args.idle_timeout)
    except ValueError as e:
        print(f"skelact stream: error: {e}", file=sys.stderr)
        return 2
    predictions = 0
    latency = 0.0
    try:
        for pred in recognizer.run(source):
            predictions += 1
            latency += pred.latency_ms
            print(json.dumps(pred.to_dict()) if args.json else str(pred), flush=True)
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        return 0
    mean = f", mean model latency {latency / predictions:.1f} ms" if predictions else ""
    print(f"skelact stream: {recognizer.frames_seen} frames, {predictions} predictions, "
          f"{skipped} bad input(s) skipped{mean}", file=sys.stderr)
    return 0
