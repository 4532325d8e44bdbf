"""Online (streaming) action recognition over a sliding window of live poses.

:class:`StreamRecognizer` keeps the newest ``window`` frames in a preallocated
:class:`~skelact.deploy.ring.FrameRing` and runs the model every ``stride`` frames on that window,
after the same test-time transform offline evaluation applies to a whole sample. Each pushed frame
costs at most one model call and memory stays fixed however long the stream runs.

Live input is imperfect; :class:`FrameAssembler` turns each raw frame (any number of detected
bodies, joints with a confidence) into the fixed ``(M, V, C)`` frame the model expects:

* joints with confidence 0 hold their last known position (``missing_joint="hold"``) or become
  zeros (``"zeros"``);
* a body slot with no body this frame becomes zeros, the offline convention for an absent body
  (``missing_body="zeros"``), or holds the body's last pose (``"hold"``);
* ``max_hold`` limits holding to that many consecutive frames (None: no limit);
* more bodies than slots: the ``M`` with the highest mean confidence are kept, in their order;
* frames missing from the stream (a jump in the source's frame numbers) are filled with the last
  frame, at most one window's worth.

The prediction at frame ``t`` equals running the model offline on
``transform(frames[max(0, t - window + 1) : t + 1])``: while fewer than ``window`` frames have
arrived, the window holds what has arrived and the transform pads it as it pads a short sample.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.layouts import Layout, get_layout
from .ring import FrameRing
from .sources import FrameRecord

Transform = Callable[[np.ndarray], np.ndarray]

MISSING_POLICIES = ("hold", "zeros")


@dataclass
class Prediction:
    """The recogniser's output for one window.

    Attributes:
        frame: 0-based position in the stream of the newest frame in the window.
        window: number of frames the window held.
        top: ``(class index, score)`` pairs, best first (``top_k`` of them).
        scores: softmax of the model's logits over all classes, float32 ``(K,)``.
        latency_ms: wall time of the transform and the model call.
        labels: class names for ``top`` when the recogniser has them.
    """

    frame: int
    window: int
    top: list[tuple[int, float]]
    scores: np.ndarray = field(repr=False)
    latency_ms: float
    labels: list[str] | None = None

    @property
    def label(self) -> int:
        """The top-1 class index."""
        return self.top[0][0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, ``top`` items as ``skelact predict`` prints them: ``{"class": name, "label":
        index, "score"}`` (the name is the index as text when there are no class names)."""
        top = []
        for i, (cls, score) in enumerate(self.top):
            name = self.labels[i] if self.labels is not None else str(cls)
            top.append({"class": name, "label": cls, "score": round(score, 6)})
        return {"frame": self.frame, "window": self.window, "top": top,
                "latency_ms": round(self.latency_ms, 3)}

    def __str__(self) -> str:
        parts = []
        for i, (cls, score) in enumerate(self.top):
            name = f" {self.labels[i]}" if self.labels is not None else ""
            parts.append(f"{cls}{name} {score:.3f}")
        return f"frame {self.frame:>6}  window {self.window:>4}  " + " | ".join(parts)


class FrameAssembler:
    """Turns raw detections into fixed ``(M, V, C)`` frames (see the module docstring).

    Holds one preallocated frame of state; :meth:`assemble` returns a view that the next call
    overwrites (the ring buffer copies it).
    """

    def __init__(
        self,
        num_bodies: int,
        num_joints: int,
        num_channels: int,
        *,
        missing_joint: str = "hold",
        missing_body: str = "zeros",
        max_hold: int | None = None,
    ):
        for name, value in (("missing_joint", missing_joint), ("missing_body", missing_body)):
            if value not in MISSING_POLICIES:
                raise ValueError(f"{name} must be one of {MISSING_POLICIES}, got {value!r}")
        if max_hold is not None and max_hold < 0:
            raise ValueError(f"max_hold must be >= 0 or None, got {max_hold}")
        self.num_bodies = int(num_bodies)
        self.missing_joint = missing_joint
        self.missing_body = missing_body
        self.max_hold = max_hold
        shape = (self.num_bodies, int(num_joints), int(num_channels))
        self._frame = np.zeros(shape, dtype=np.float32)  # the last assembled frame
        self._known = np.zeros(shape[:2], dtype=bool)  # slot/joint has a position to hold
        self._held = np.zeros(shape[:2], dtype=np.int64)  # consecutive frames held

    @property
    def frame(self) -> np.ndarray:
        """The last assembled frame (a view)."""
        return self._frame

    def reset(self) -> None:
        self._frame.fill(0)
        self._known.fill(False)
        self._held.fill(0)

    def _select(self, coords: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if coords.shape[0] <= self.num_bodies:
            return coords, conf
        keep = np.sort(np.argsort(-conf.mean(axis=1), kind="stable")[: self.num_bodies])
        return coords[keep], conf[keep]

    def assemble(self, coords: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
        """Fold one frame's detections ``coords (B, V, C)`` (``confidence (B, V)``) into the state."""
        coords = np.asarray(coords, dtype=np.float32)
        if coords.ndim != 3 or coords.shape[1:] != self._frame.shape[1:]:
            raise ValueError(
                f"frame must be (bodies, {self._frame.shape[1]}, {self._frame.shape[2]}), "
                f"got {tuple(coords.shape)}"
            )
        if confidence is None:  # no confidence given: an all-zero joint is missing
            confidence = np.any(coords != 0, axis=2).astype(np.float32)
        coords, confidence = self._select(coords, np.asarray(confidence, dtype=np.float32))
        b = coords.shape[0]
        present = np.zeros(self._known.shape, dtype=bool)
        present[:b] = confidence > 0
        body_present = present.any(axis=1)  # (M,)

        hold_joint = ~present & body_present[:, None]
        hold_body = ~body_present[:, None] & np.ones_like(present)
        hold = np.zeros_like(present)
        if self.missing_joint == "hold":
            hold |= hold_joint
        if self.missing_body == "hold":
            hold |= hold_body
        hold &= self._known
        if self.max_hold is not None:
            hold &= self._held < self.max_hold

        new = np.zeros_like(self._frame)
        new[:b] = coords
        new[~present] = 0.0
        new[hold] = self._frame[hold]
        self._frame[...] = new
        self._held = np.where(hold, self._held + 1, 0)
        self._known = present | hold
        return self._frame


class StreamRecognizer:
    """Sliding-window online recogniser.

    Args:
        model: a ``(N, C, T, V, M) -> logits (N, K)`` callable, typically an ``nn.Module`` in eval
            mode (an ONNX / exported-program wrapper works too).
        layout: the model's joint layout (name or :class:`~skelact.data.layouts.Layout`).
        window: frames per window (the model's clip length, e.g. the training ``T``).
        stride: run the model every ``stride`` frames (1: after every frame).
        transform: test-time transform ``(C, T, V, M) -> (C, T', V, M)`` NumPy, applied to each
            window; typically the checkpoint's evaluation transforms (normalisation, padding).
        num_bodies: body slots ``M`` of the model input (default 2).
        top_k: classes reported per prediction.
        labels: class names, indexed by class.
        min_frames: frames needed before the first prediction (default ``stride``); predictions
            come at frames ``min_frames, min_frames + stride, ...`` (counted from 1).
        missing_joint: ``"hold"`` or ``"zeros"``, see :class:`FrameAssembler`.
        missing_body: ``"zeros"`` or ``"hold"``, see :class:`FrameAssembler`.
        max_hold: hold at most this many frames (None: no limit), see :class:`FrameAssembler`.
        device: torch device for the model input.
    """

    def __init__(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        layout: str | Layout,
        window: int,
        stride: int = 1,
        transform: Transform | None = None,
        *,
        num_bodies: int = 2,
        top_k: int = 5,
        labels: Sequence[str] | None = None,
        min_frames: int | None = None,
        missing_joint: str = "hold",
        missing_body: str = "zeros",
        max_hold: int | None = None,
        device: str | torch.device = "cpu",
    ):
        self.layout = get_layout(layout)
        if int(window) < 1:
            raise ValueError(f"window must be >= 1 frame, got {window}")
        if int(stride) < 1:
            raise ValueError(f"stride must be >= 1 frame, got {stride}")
        if int(top_k) < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.model = model
        self.window = int(window)
        self.stride = int(stride)
        self.transform = transform
        self.top_k = int(top_k)
        self.labels = list(labels) if labels is not None else None
        self.min_frames = int(stride if min_frames is None else min_frames)
        if not 1 <= self.min_frames:
            raise ValueError(f"min_frames must be >= 1, got {min_frames}")
        self.device = torch.device(device)
        channels = len(self.layout.channels)
        self.assembler = FrameAssembler(
            num_bodies, self.layout.num_joints, channels,
            missing_joint=missing_joint, missing_body=missing_body, max_hold=max_hold,
        )
        self.buffer = FrameRing(self.window, (int(num_bodies), self.layout.num_joints, channels))
        self._last_index: int | None = None
        self._last_predicted = 0  # frames seen at the last prediction
        self.calls = 0  # model calls so far

    @property
    def frames_seen(self) -> int:
        """Frames pushed so far, including frames filled in for gaps."""
        return self.buffer.total

    def reset(self) -> None:
        """Start a new stream (keeps the allocations)."""
        self.buffer.clear()
        self.assembler.reset()
        self._last_index = None
        self._last_predicted = 0
        self.calls = 0

    def _due(self, before: int, after: int) -> bool:
        """Whether a prediction frame ``min_frames + k * stride`` lies in ``(before, after]``."""
        if after < self.min_frames:
            return False
        last_due = self.min_frames + (after - self.min_frames) // self.stride * self.stride
        return last_due > before

    def push(
        self, frame: np.ndarray | FrameRecord, confidence: np.ndarray | None = None, index: int | None = None
    ) -> Prediction | None:
        """Add one frame; return a prediction when one is due (every ``stride`` frames), else None.

        ``frame`` is a :class:`~skelact.deploy.sources.FrameRecord` or an array ``(B, V, C)`` of
        the bodies detected in this frame (``B`` may differ from ``num_bodies``, 0 included), with
        an optional ``confidence (B, V)`` and source frame number ``index``.
        """
        if isinstance(frame, FrameRecord):
            frame, confidence, index = frame.coords, frame.confidence, frame.index
        before = self.buffer.total
        if index is not None and self._last_index is not None and index > self._last_index + 1:
            gap = min(index - self._last_index - 1, self.window)
            held = self.assembler.frame
            for _ in range(gap):  # missing frames: hold the last pose
                self.buffer.push(held)
        if index is not None:
            self._last_index = index
        self.buffer.push(self.assembler.assemble(frame, confidence))
        if not self._due(before, self.buffer.total):
            return None
        return self.predict()

    def flush(self) -> Prediction | None:
        """At the end of a stream: a prediction over the current window if frames arrived since the
        last one (so a short or unaligned stream still gets a final answer), else None."""
        if len(self.buffer) == 0 or self.buffer.total == self._last_predicted:
            return None
        return self.predict()

    def run(self, frames: Iterable[FrameRecord | np.ndarray]) -> Iterator[Prediction]:
        """Push every frame of a source; yield each prediction, and the final :meth:`flush`."""
        for frame in frames:
            pred = self.push(frame)
            if pred is not None:
                yield pred
        pred = self.flush()
        if pred is not None:
            yield pred

    def model_input(self) -> np.ndarray:
        """The current window as the model sees it: ``transform(window)`` as ``(C, T, V, M)``."""
        x = self.buffer.window().transpose(3, 0, 2, 1)  # (T, M, V, C) -> (C, T, V, M), a view
        if self.transform is not None:
            x = self.transform(np.array(x, dtype=np.float32))
        return np.ascontiguousarray(x, dtype=np.float32)

    def predict(self) -> Prediction:
        """Run the model on the current window now."""
        if len(self.buffer) == 0:
            raise RuntimeError("no frame pushed yet: nothing to predict")
        start = time.perf_counter()
        x = torch.from_numpy(self.model_input())[None].to(self.device)
        with torch.inference_mode():
            logits = self.model(x)
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        scores = torch.softmax(torch.as_tensor(logits).float().reshape(-1), dim=0).cpu().numpy()
        latency = (time.perf_counter() - start) * 1000.0
        self.calls += 1
        self._last_predicted = self.buffer.total
        k = min(self.top_k, scores.shape[0])
        order = np.argsort(-scores, kind="stable")[:k]
        top = [(int(i), float(scores[i])) for i in order]
        labels = None
        if self.labels is not None:
            labels = [self.labels[i] if i < len(self.labels) else str(i) for i, _ in top]
        return Prediction(self.buffer.total - 1, len(self.buffer), top, scores, latency, labels)


# --------------------------------------------------------------------------------------------------
# Loading a trained model for streaming
# --------------------------------------------------------------------------------------------------


@dataclass
class StreamModel:
    """Everything a stream needs from a trained model, however it was saved.

    Attributes:
        model: ``(N, C, T, V, M) -> logits`` callable.
        layout: joint layout name.
        frames: the training clip length ``T`` (the default window).
        bodies: body slots ``M``.
        transform: per-window preprocessing, ``(C, T, V, M) -> (C, T', V, M)``: the normalisation
            the store applied at prepare time, then the checkpoint's test-time transforms.
        labels: class names.
        source: what was loaded (``"checkpoint"``, ``"onnx"``, ``"pt2"``).
    """

    model: Callable[[torch.Tensor], torch.Tensor]
    layout: str
    frames: int
    bodies: int
    transform: Transform | None
    labels: list[str] | None
    source: str


def _window_transform(normalize_specs: Any, test_specs: Any, layout: str) -> Transform:
    """The offline prediction pipeline (:class:`skelact.train.inference.Predictor`) as one callable
    (seeded generators: test transforms are deterministic, the seed only pins any randomness)."""
    from ..data.transforms import build_transforms

    normalize = build_transforms(list(normalize_specs or []), layout=layout)
    transform = build_transforms(list(test_specs or []), layout=layout)

    def apply(x: np.ndarray) -> np.ndarray:
        x = normalize(x, np.random.default_rng(0))
        return transform(x, np.random.default_rng(0))

    return apply


def load_stream_model(path: str | os.PathLike) -> StreamModel:
    """Load a training checkpoint (``.ckpt``) or a file written by ``skelact export`` (``.onnx``,
    ``.pt2``) with what streaming needs: the model, layout, frames, bodies, per-window transform
    and class names. All of it comes from the checkpoint's input spec (the window is its
    ``frames``) or the export's metadata; the training engine is not needed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix.lower() in (".onnx", ".pt2"):
        from .export import load_exported

        model, meta = load_exported(path)
        missing = [k for k in ("layout", "window_frames", "bodies") if k not in meta]
        if missing:
            raise ValueError(f"{path}: exported without skelact's stream metadata ({', '.join(missing)}); "
                             "export it with `skelact export CHECKPOINT`")
        layout = str(meta["layout"])
        return StreamModel(
            model=model, layout=layout, frames=int(meta["window_frames"]), bodies=int(meta["bodies"]),
            transform=_window_transform(meta.get("normalize"), meta.get("test_transforms"), layout),
            labels=[str(c) for c in meta["class_names"]] if meta.get("class_names") else None,
            source=model.format,
        )
    from ..models.checkpoint import read_saved_checkpoint

    saved = read_saved_checkpoint(path)
    spec = saved.spec
    return StreamModel(
        model=saved.build_model(), layout=spec.layout, frames=spec.frames, bodies=spec.bodies,
        transform=_window_transform(spec.normalize, saved.test_transforms(), spec.layout),
        labels=list(spec.class_names) or None,
        source="checkpoint",
    )
