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

:class:`IncrementalStreamRecognizer` is the incremental mode for ARRN-LSTM PyTorch models: each
frame runs the per-frame part of the model (RRN, attention) once and advances the LSTM state by one
step (:class:`~skelact.models.arrn.incremental.IncrementalARRN`), so a frame costs one frame of
compute, not one window. Its predictions equal the windowed model's over the first ``T`` frames of
a stream; later the LSTM state carries the history before the window (see that class). It applies
only per-frame test-time transforms (:func:`frame_transform`) and refuses the others.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.layouts import Layout, get_layout
from ..data.transforms import Compose, build_transform, build_transforms
from ..data.transforms import Transform as _TransformStep
from ..models.arrn.incremental import IncrementalARRN
from ..models.arrn.model import ARRNLSTM
from ..models.checkpoint import read_saved_checkpoint
from .export import load_exported
from .ring import FrameRing
from .sources import FrameRecord

Transform = Callable[[np.ndarray], np.ndarray]

MISSING_POLICIES = ("hold", "zeros")

#: Test-time transforms that act on every frame (and body) alone: the incremental mode applies them
#: to each new frame, which gives what they give on a whole window.
PER_FRAME_TRANSFORMS = ("CenterOnHip", "KineticsCentre")


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
                self._add(held)
        if index is not None:
            self._last_index = index
        self._add(self.assembler.assemble(frame, confidence))
        if not self._due(before, self.buffer.total):
            return None
        return self.predict()

    def flush(self) -> Prediction | None:
        """At the end of a stream: a prediction over the current window if frames arrived since the
        last one (so a short or unaligned stream still gets a final answer), else None."""
        if len(self.buffer) == 0 or self.buffer.total == self._last_predicted:
            return None
        return self.predict()

    def _add(self, frame: np.ndarray) -> None:
        """Take one assembled frame ``(M, V, C)`` into the stream."""
        self.buffer.push(frame)

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
        return self._prediction(logits, start, len(self.buffer))

    def _prediction(self, logits: Any, start: float, window: int, extra_ms: float = 0.0) -> Prediction:
        """The :class:`Prediction` for ``logits`` of one sample; latency counted from ``start``."""
        scores = torch.softmax(torch.as_tensor(logits).float().reshape(-1), dim=0).cpu().numpy()
        latency = (time.perf_counter() - start) * 1000.0 + extra_ms
        self.calls += 1
        self._last_predicted = self.buffer.total
        k = min(self.top_k, scores.shape[0])
        order = np.argsort(-scores, kind="stable")[:k]
        top = [(int(i), float(scores[i])) for i in order]
        labels = None
        if self.labels is not None:
            labels = [self.labels[i] if i < len(self.labels) else str(i) for i, _ in top]
        return Prediction(self.buffer.total - 1, window, top, scores, latency, labels)


# --------------------------------------------------------------------------------------------------
# Incremental mode (ARRN-LSTM): one frame of compute per frame
# --------------------------------------------------------------------------------------------------


class NotPerFrameError(ValueError):
    """A test-time transform the incremental mode cannot apply one frame at a time."""


def _steps(transforms: Any, layout: str | Layout | None) -> list[_TransformStep]:
    """The single transforms of ``transforms`` (None, a transform, a Compose, specs, or a list)."""
    if transforms is None:
        return []
    if isinstance(transforms, Compose):
        return [s for t in transforms.transforms for s in _steps(t, layout)]
    if isinstance(transforms, _TransformStep):
        return [transforms]
    if isinstance(transforms, (str, Mapping)):
        return [build_transform(transforms, layout)]
    if isinstance(transforms, (list, tuple)):
        return [s for t in transforms for s in _steps(t, layout)]
    raise NotPerFrameError(
        f"cannot tell whether the transform {transforms!r} acts on each frame alone: give the "
        "incremental mode transform specs or skelact transforms (skelact.data.transforms)"
    )


def frame_transform(transforms: Any, window: int, layout: str | Layout | None = None) -> Compose:
    """The per-frame equivalent of a window's test-time transforms, for the incremental mode.

    ``transforms``: None, a skelact transform or :class:`~skelact.data.transforms.Compose`, or a list
    of them or of specs (``{"name": ..., ...}``), e.g. a checkpoint's normalisation followed by its
    ``data.test_transforms``. Each step must give on a window of ``window`` frames what it gives
    on each frame alone:

    * transforms of :data:`PER_FRAME_TRANSFORMS` (``CenterOnHip``, ``KineticsCentre``) are kept and
      applied to every new frame;
    * ``UniformSample(frames=window)`` and ``PadTo(frames <= window)`` are the identity on a window
      of exactly ``window`` frames (the stream the incremental mode equals the windowed model on)
      and are dropped;
    * anything else (a resampling to another length, ``DropEmptyFrames``, ``PreNormalize3D``, which
      normalises with the window's first frame, random transforms, an opaque callable) raises
      :class:`NotPerFrameError` naming the step: the windowed mode is the one that reproduces it.
    """
    kept = []
    for step in _steps(transforms, layout):
        name = type(step).__name__
        if name in PER_FRAME_TRANSFORMS and not getattr(step, "random", False):
            kept.append(step)
            continue
        frames = getattr(step, "frames", None)
        if name == "UniformSample" and frames == window:
            continue
        if name == "PadTo" and frames is not None and frames <= window:
            continue
        if getattr(step, "random", False):
            why = "it is random"
        elif name in ("UniformSample", "PadTo", "RandomSample", "RandomCrop"):
            why = f"it changes a window of {window} frames to {frames} (not the identity in time)"
        elif name == "DropEmptyFrames":
            why = "it removes frames from the window"
        elif name == "PreNormalize3D":
            why = "it normalises every frame with the window's first frame"
        else:
            why = "it is not known to act on each frame alone"
        raise NotPerFrameError(
            f"the incremental mode applies test-time transforms one frame at a time and cannot apply "
            f"{step!r}: {why}; use the windowed mode (StreamRecognizer) for this model"
        )
    return Compose(kept)


class IncrementalStreamRecognizer(StreamRecognizer):
    """Incremental online recogniser for ARRN-LSTM PyTorch models: one frame of compute per frame.

    Frames are assembled as in :class:`StreamRecognizer` (missing joints, bodies and frames alike);
    each assembled frame goes through the per-frame test-time transforms (:func:`frame_transform`)
    and :meth:`IncrementalARRN.advance <skelact.models.arrn.incremental.IncrementalARRN.advance>`
    (the RRN and attention on that frame, one LSTM step from the carried state). Every ``stride``
    frames the readout over the last ``window`` LSTM outputs (the model's ``mean`` / ``last`` /
    ``concat``), the classifier and, for two streams, the fusion of eq. 12 give a
    :class:`Prediction`; ``stride`` only spaces the predictions, every frame advances the LSTM.

    Relation to the windowed mode (:class:`StreamRecognizer` with the same window ``T``, the same
    weights): for the first ``T`` frames of a stream and after :meth:`reset`, the prediction at
    frame ``T`` is the same (the LSTM starts from zero, as in training); after it they differ,
    because the LSTM state carries the frames before the window where the windowed model restarts
    the LSTM at the window's first frame. Before frame ``T`` (readouts ``mean`` / ``last``) the
    prediction is the model on the frames so far, not on them zero-padded to ``T``; ``concat``
    predicts from frame ``T`` on.

    Args:
        model: an :class:`~skelact.models.arrn.model.ARRNLSTM` in eval mode (anything else raises
            ``TypeError``: use :class:`StreamRecognizer`).
        layout: the model's joint layout.
        window: ``T``, LSTM outputs in the readout (default: the model's clip length).
        stride: predict every ``stride`` frames.
        transform: the window's test-time transforms as skelact transforms or specs; must be
            per-frame (:func:`frame_transform`, else :class:`NotPerFrameError`).

    ``num_bodies``, ``top_k``, ``labels``, ``min_frames``, ``missing_joint``, ``missing_body`` and
    ``max_hold`` are those of :class:`StreamRecognizer` (``min_frames`` is at least ``T`` for
    ``readout="concat"``). ``latency_ms`` of a prediction is the model work of the push that gave
    it: the per-frame step(s) and the readout.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        layout: str | Layout,
        window: int | None = None,
        stride: int = 1,
        transform: Any = None,
        *,
        num_bodies: int = 2,
        top_k: int = 5,
        labels: Sequence[str] | None = None,
        min_frames: int | None = None,
        missing_joint: str = "hold",
        missing_body: str = "zeros",
        max_hold: int | None = None,
    ):
        self.incremental = IncrementalARRN(model, window)
        window = self.incremental.window
        steps = frame_transform(transform, window, layout)
        super().__init__(
            model, layout, window, stride, None, num_bodies=num_bodies, top_k=top_k, labels=labels,
            min_frames=min_frames, missing_joint=missing_joint, missing_body=missing_body,
            max_hold=max_hold,
        )
        if self.incremental.readout == "concat":
            self.min_frames = max(self.min_frames, window)
        self.frame_transform = steps if len(steps) else None
        # the raw frames are not kept: the ring holds the newest one (and counts the frames)
        self.buffer = FrameRing(1, self.buffer.frame_shape)
        self._input = np.zeros((len(self.layout.channels), 1, self.layout.num_joints, int(num_bodies)),
                               dtype=np.float32)
        self._pending_ms = 0.0  # model work of the current push

    @property
    def steps(self) -> int:
        """Frames the LSTM has advanced since the stream (or the last :meth:`reset`) began."""
        return self.incremental.frames_seen

    def reset(self) -> None:
        """Start a new stream: frame state, LSTM state and the readout window back to empty."""
        super().reset()
        self.incremental.reset()
        self._input.fill(0)

    def push(
        self, frame: np.ndarray | FrameRecord, confidence: np.ndarray | None = None, index: int | None = None
    ) -> Prediction | None:
        self._pending_ms = 0.0
        return super().push(frame, confidence, index)

    push.__doc__ = StreamRecognizer.push.__doc__

    def _add(self, frame: np.ndarray) -> None:
        start = time.perf_counter()
        x = np.ascontiguousarray(frame.transpose(2, 1, 0)[:, None], dtype=np.float32)  # (C, 1, V, M)
        if self.frame_transform is not None:
            x = self.frame_transform(x, np.random.default_rng(0))
            if x.shape != self._input.shape:
                raise ValueError(f"the per-frame transforms gave shape {x.shape}, "
                                 f"expected {self._input.shape}")
        self._input[...] = x
        self.incremental.advance(torch.from_numpy(self._input[:, 0]))
        self.buffer.push(frame)
        self._pending_ms += (time.perf_counter() - start) * 1000.0

    def model_input(self) -> np.ndarray:
        """The newest frame as the model saw it (after the per-frame transforms), ``(C, 1, V, M)``."""
        return self._input.copy()

    def flush(self) -> Prediction | None:
        """A final prediction if frames arrived since the last one and the readout can be formed."""
        self._pending_ms = 0.0
        if not self.incremental.ready:
            return None
        return super().flush()

    def predict(self) -> Prediction:
        """The readout over the current window now (no frame is advanced)."""
        if self.buffer.total == 0:
            raise RuntimeError("no frame pushed yet: nothing to predict")
        if not self.incremental.ready:
            raise RuntimeError(f"readout='concat' needs {self.window} frames, "
                               f"{self.incremental.held} arrived since the start")
        start = time.perf_counter()
        logits = self.incremental.logits()
        return self._prediction(logits[0], start, self.incremental.held, extra_ms=self._pending_ms)


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
    normalize_specs: list[Any] | None = None
    test_specs: list[Any] | None = None

    @property
    def transform_specs(self) -> list[Any]:
        """The specs behind :attr:`transform`, normalisation first (what the incremental mode checks
        and applies per frame)."""
        return [*(self.normalize_specs or []), *(self.test_specs or [])]

    def recognizer(self, incremental: bool = False, window: int | None = None, stride: int = 1,
                   **kwargs: Any) -> StreamRecognizer:
        """A recogniser for this model: windowed (the default; any model), or incremental
        (:class:`IncrementalStreamRecognizer`; an ARRN-LSTM checkpoint with per-frame transforms).
        ``kwargs`` go to the recogniser (``top_k``, ``min_frames``, missing-data policies)."""
        kwargs.setdefault("num_bodies", self.bodies)
        kwargs.setdefault("labels", self.labels)
        if incremental:
            if not isinstance(self.model, ARRNLSTM):
                kind = (f"an exported {self.source} file" if self.source != "checkpoint"
                        else f"{type(self.model).__name__}")
                raise TypeError(f"the incremental mode needs an ARRN-LSTM checkpoint (.ckpt) run in "
                                f"PyTorch, got {kind}; use the windowed mode")
            return IncrementalStreamRecognizer(self.model, self.layout, window or self.frames, stride,
                                               self.transform_specs, **kwargs)
        return StreamRecognizer(self.model, self.layout, window or self.frames, stride, self.transform,
                                **kwargs)


def _window_transform(normalize_specs: Any, test_specs: Any, layout: str) -> Transform:
    """The offline prediction pipeline (:class:`skelact.train.inference.Predictor`) as one callable
    (seeded generators: test transforms are deterministic, the seed only pins any randomness)."""
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
            normalize_specs=list(meta.get("normalize") or []),
            test_specs=list(meta.get("test_transforms") or []),
        )
    saved = read_saved_checkpoint(path)
    spec = saved.spec
    return StreamModel(
        model=saved.build_model(), layout=spec.layout, frames=spec.frames, bodies=spec.bodies,
        transform=_window_transform(spec.normalize, saved.test_transforms(), spec.layout),
        labels=list(spec.class_names) or None,
        source="checkpoint",
        normalize_specs=list(spec.normalize or []), test_specs=list(saved.test_transforms()),
    )
