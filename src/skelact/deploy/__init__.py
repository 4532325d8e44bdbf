"""Deployment: model export (ONNX, ``torch.export``) and online recognition from live poses.

* :func:`export_onnx`, :func:`export_pt2`: a model as a file with a dynamic batch (and time where
  the model allows), verified against PyTorch; :func:`load_exported` runs it back.
* :class:`StreamRecognizer`: sliding-window recognition over a fixed :class:`FrameRing`, fed from
  :func:`iter_jsonl` / :func:`iter_openpose_dir` sources; :func:`load_stream_model` loads a
  checkpoint or an exported file with its preprocessing.
* :class:`IncrementalStreamRecognizer`: the incremental mode for ARRN-LSTM checkpoints (one frame
  of compute per frame, the LSTM state carried across frames).
"""

from __future__ import annotations

from .export import (
    ExportError,
    ExportResult,
    export_model,
    export_onnx,
    export_program,
    export_pt2,
    load_exported,
)
from .ring import FrameRing
from .sources import FrameRecord, iter_jsonl, iter_openpose_dir, open_source, skeleton_to_jsonl
from .stream import (
    FrameAssembler,
    IncrementalStreamRecognizer,
    NotPerFrameError,
    Prediction,
    StreamModel,
    StreamRecognizer,
    frame_transform,
    load_stream_model,
)

__all__ = [
    "ExportError",
    "ExportResult",
    "FrameAssembler",
    "FrameRecord",
    "FrameRing",
    "IncrementalStreamRecognizer",
    "NotPerFrameError",
    "Prediction",
    "StreamModel",
    "StreamRecognizer",
    "export_model",
    "export_onnx",
    "export_program",
    "export_pt2",
    "frame_transform",
    "iter_jsonl",
    "iter_openpose_dir",
    "load_exported",
    "load_stream_model",
    "open_source",
    "skeleton_to_jsonl",
]
