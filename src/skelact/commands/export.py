"""``skelact export CHECKPOINT --format onnx|pt2 --out FILE``: export a trained model for deployment.

The exported graph takes a batch ``x (N, C, T, V, M)`` and returns the class logits ``(N, K)``,
the same numbers as the PyTorch model (checked after writing, on batches of several sizes). The
batch axis is dynamic; the time axis is dynamic where the model allows (see
:mod:`skelact.deploy.export`). The file carries the checkpoint's layout, class names, window
length and test-time transforms, so ``skelact stream FILE`` can run it directly.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX or a torch.export program (.pt2)",
        description="Export a trained checkpoint to ONNX (run with onnxruntime) or to a torch.export "
        "program (.pt2, load with torch.export.load). Input x (N, C, T, V, M), output logits (N, K); "
        "dynamic batch, dynamic time where the model allows. The export is verified against PyTorch.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a .ckpt file written by skelact train")
    p.add_argument("--format", choices=("onnx", "pt2"), required=True, help="output format")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write (.onnx / .pt2)")
    p.add_argument("--frames", type=int, metavar="T",
                   help="frames of the recognition window traced (default: the training frames; AS-GCN "
                   "with the prediction head takes T + horizon input frames, as in training)")
    p.add_argument("--batch", type=int, default=2, metavar="N",
                   help="batch size of the example traced (default 2)")
    p.add_argument("--opset", type=int, metavar="N", help="ONNX opset version (default: the exporter's)")
    time = p.add_mutually_exclusive_group()
    time.add_argument("--dynamic-time", dest="dynamic_time", action="store_const", const=True, default=None,
                      help="require a dynamic time axis (error if the model cannot have one)")
    time.add_argument("--static-time", dest="dynamic_time", action="store_const", const=False,
                      help="fix the time axis at the traced length (--frames, + horizon for AS-GCN)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip running the exported file against PyTorch")
    p.add_argument("--atol", type=float, default=1e-4,
                   help="largest accepted |logit difference| (default 1e-4)")
    p.set_defaults(func=run)


def _example(model, frames: int, channels: int, joints: int, bodies: int, batch: int):
    import torch

    g = torch.Generator().manual_seed(0)
    return 0.5 * torch.randn(batch, channels, frames, joints, bodies, generator=g)


def run(args: argparse.Namespace) -> int:
    from ..data.layouts import get_layout
    from ..deploy.export import ExportError, export_model
    from ..models.checkpoint import read_saved_checkpoint
    from ..models.spec import model_input_frames

    if args.frames is not None and args.frames < 1:
        print("skelact export: error: --frames must be >= 1", file=sys.stderr)
        return 2
    if args.batch < 1:
        print("skelact export: error: --batch must be >= 1", file=sys.stderr)
        return 2
    if args.format == "pt2" and args.opset is not None:
        print("skelact export: error: --opset applies to ONNX only; a .pt2 program has no opset",
              file=sys.stderr)
        return 2
    saved = read_saved_checkpoint(args.checkpoint)
    spec = saved.spec
    model = saved.build_model()
    layout = get_layout(spec.layout)
    # the training window by default; another window: as many input frames as the model reads for it
    window = spec.frames if args.frames is None else int(args.frames)
    frames = spec.input_frames if args.frames is None else model_input_frames(model, window)
    example = _example(model, frames, spec.in_channels, layout.num_joints, spec.bodies, args.batch)
    metadata = {
        "model": saved.model_name,
        "model_options": saved.model_options,
        "layout": layout.name,
        "num_classes": spec.num_classes,
        "class_names": list(spec.class_names) or None,
        "window_frames": window,
        "input_frames": frames,
        "normalize": None if spec.normalize is None else list(spec.normalize),
        "test_transforms": saved.test_transforms(),
        "checkpoint": str(args.checkpoint),
    }
    try:
        result = export_model(model, args.out, example, args.format, dynamic_time=args.dynamic_time,
                              opset=args.opset, metadata=metadata, verify=args.verify, atol=args.atol)
    except ExportError as e:
        print(f"skelact export: error: {e}", file=sys.stderr)
        return 2
    n, c, t, v, m = result.input_shape
    axes = ["N" if result.dynamic_batch else str(n), str(c), "T" if result.dynamic_time else str(t),
            str(v), str(m)]
    print(f"wrote {result.path} ({result.format}): input x ({', '.join(axes)}) "
          f"-> logits (N, {spec.num_classes})")
    if result.dynamic_time:
        lo = result.metadata.get("min_frames")
        print(f"  time axis: dynamic{f' (T >= {lo})' if lo else ''}; traced at T={t}")
    else:
        print(f"  time axis: fixed at T={t}")
    if frames != window:
        print(f"  the model classifies the first {window} frames; the last {frames - window} are its "
              "prediction target (as in training)")
    for note in result.notes:
        print(f"  note: {note}")
    if result.max_abs_diff is not None:
        print(f"  verified against PyTorch: max |logit difference| {result.max_abs_diff:.2e} "
              f"(atol {args.atol:g})")
    return 0
