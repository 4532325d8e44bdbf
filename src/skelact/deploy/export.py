"""Export trained models to ONNX and to ``torch.export`` programs (``.pt2``).

Both formats take the model batch ``x (N, C, T, V, M)`` (input name ``"x"``) and return the class
logits ``(N, K)`` (output ``"logits"``), exactly what the PyTorch model returns in eval mode. The
batch axis is dynamic; the time axis is dynamic where the model allows it:

* ARRN-LSTM (joint, line, two-stream): dynamic ``T``, except with ``readout="concat"`` (its
  classifier reads all ``T`` LSTM outputs, so ``T`` is fixed by the weights).
* AS-GCN: the export is checked for a dynamic ``T`` like any model and falls back to the traced
  ``T`` when the graph needs a fixed length; :attr:`ExportResult.notes` says why.

Exports are made from a copy of the model in eval mode, so stochastic layers take their
deterministic path (dropout off; AS-GCN's A-link inference uses the encoder's link probabilities,
no Gumbel sampling). An export that cannot honour an option raises :class:`ExportError` naming
the option and the reason. After writing, the file is loaded back and run (onnxruntime / the
exported program) on the example and on a batch of another size (and another length when time is
dynamic); the logits must match PyTorch within ``atol``.

Each file carries skelact metadata (layout, classes, frames, test-time transforms...): ONNX as
``metadata_props``, ``.pt2`` as the extra file ``skelact.json``. :func:`load_exported` reads either
back as a ``torch.Tensor -> torch.Tensor`` callable plus that metadata, which is all
:mod:`skelact.deploy.stream` needs.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.export import Dim

from .._version import __version__

FORMATS = ("onnx", "pt2")
INPUT_NAME = "x"
OUTPUT_NAME = "logits"
METADATA_FILE = "skelact.json"  # extra file inside a .pt2 archive

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportResult",
    "ExportedModel",
    "export_model",
    "export_onnx",
    "export_program",
    "export_pt2",
    "load_exported",
]


class ExportError(RuntimeError):
    """A model could not be exported with the requested options (the message says why)."""


@dataclass
class ExportResult:
    """What an export wrote and how it behaves.

    Attributes:
        path: the file written.
        format: ``"onnx"`` or ``"pt2"``.
        input_shape: shape of the example traced, ``(N, C, T, V, M)``.
        dynamic_batch: the batch axis accepts any size.
        dynamic_time: the time axis accepts any length (from ``metadata["min_frames"]`` on).
        max_abs_diff: largest difference to the PyTorch logits over the verification inputs
            (None when not verified).
        notes: facts worth telling the user (e.g. why time is fixed).
        metadata: the skelact metadata stored in the file.
    """

    path: Path
    format: str
    input_shape: tuple[int, ...]
    dynamic_batch: bool
    dynamic_time: bool
    max_abs_diff: float | None = None
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Preparation
# --------------------------------------------------------------------------------------------------


class _LogitsOnly(nn.Module):
    """Wraps a model so the exported graph has exactly one input ``x`` and one output ``logits``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out


def _prepare(model: nn.Module) -> nn.Module:
    """An eval-mode copy ready for tracing (data-dependent shortcuts switched off)."""
    if not isinstance(model, nn.Module):
        raise ExportError(f"export needs a torch.nn.Module, got {type(model).__name__}")
    m = copy.deepcopy(model).eval()
    for mod in m.modules():
        # ARRN-LSTM skips absent bodies with a data-dependent index (nonzero); the dense path gives
        # identical outputs and has static shapes.
        if hasattr(mod, "skip_empty_bodies"):
            mod.skip_empty_bodies = False
    for p in m.parameters():
        p.requires_grad_(False)
    return _LogitsOnly(m).eval()


def _check_input(example_input: torch.Tensor) -> torch.Tensor:
    if not isinstance(example_input, torch.Tensor):
        example_input = torch.as_tensor(np.asarray(example_input))
    if example_input.ndim != 5:
        raise ExportError(
            f"example_input must be a batch (N, C, T, V, M), got shape {tuple(example_input.shape)}"
        )
    return example_input.detach().float().contiguous()


def _resize(x: torch.Tensor, n: int | None = None, t: int | None = None) -> torch.Tensor:
    """``x`` with ``n`` samples / ``t`` frames, repeating (cyclically) or cutting existing ones."""
    if n is not None and n != x.shape[0]:
        x = x[torch.arange(n) % x.shape[0]]
    if t is not None and t != x.shape[2]:
        x = x[:, :, torch.arange(t) % x.shape[2]]
    return x.contiguous()


def _free_size(start: int, taken: set[int]) -> int:
    """The smallest size >= max(start, 2) not in ``taken`` (torch.export specialises sizes 0/1 and
    may tie a dynamic axis to a static one of equal size)."""
    n = max(start, 2)
    while n in taken:
        n += 1
    return n


def _trace_input(x: torch.Tensor, dynamic_batch: bool, dynamic_time: bool) -> torch.Tensor:
    n, c, t, v, m = x.shape
    static = {c, v, m}
    if not dynamic_time:
        static.add(t)
    if dynamic_time:
        t2 = _free_size(t, static)
        x = _resize(x, t=t2)
        static_or_t = static | {t2}
    else:
        static_or_t = static
    if dynamic_batch:
        x = _resize(x, n=_free_size(n, static_or_t))
    return x


def _eager(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        out = model(x)
    if not isinstance(out, torch.Tensor):
        raise ExportError(f"the model returned {type(out).__name__}; export needs logits as one tensor")
    return out.detach().clone()


def _check_deterministic(model: nn.Module, x: torch.Tensor) -> None:
    a, b = _eager(model, x), _eager(model, x)
    if not torch.equal(a, b):
        raise ExportError(
            "the model is not deterministic in eval mode (two runs on the same input differ by "
            f"{(a - b).abs().max().item():.3g}); an exported graph would freeze one random draw. "
            "Make the eval path deterministic (e.g. no sampling) before exporting."
        )


def _time_probe(model: nn.Module, x: torch.Tensor) -> str | None:
    """None if the eager model accepts another length; else the reason it does not."""
    t = x.shape[2]
    other = t + 3
    try:
        out = _eager(model, _resize(x, t=other))
    except Exception as e:  # noqa: BLE001 - any failure means "fixed length"; the message is the reason
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"the model itself rejects T={other} frames when traced at T={t} ({msg})"
    if out.shape != _eager(model, x).shape:
        return "the model's output shape depends on T"
    return None


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the exporters' progress chatter and deprecation noise (errors still raise)."""
    names = ("torch.onnx", "torch.export", "torch._export", "torch.fx.experimental.symbolic_shapes",
             "torch._dynamo", "onnxscript")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextlib.contextmanager
def _rnn_loop_decompositions(enabled: bool) -> Iterator[None]:
    """Trace LSTM/GRU as a while loop so the sequence length stays symbolic.

    PyTorch's default decomposition of ``aten.lstm`` unrolls the time loop, fixing ``T``. The
    while-loop variant lives in a private module (``torch.export._patches``, PyTorch >= 2.9); the
    ONNX exporter uses the same one. Without it, RNN models export with a fixed ``T``.
    """
    if not enabled:
        yield
        return
    try:
        from torch.export._patches import (
            register_gru_while_loop_decomposition,
            register_lstm_while_loop_decomposition,
        )
    except ImportError:
        yield
        return
    _clear_rnn_dispatch_cache()
    try:
        with register_lstm_while_loop_decomposition(), register_gru_while_loop_decomposition():
            _clear_rnn_dispatch_cache()
            yield
    finally:
        _clear_rnn_dispatch_cache()


def _clear_rnn_dispatch_cache() -> None:
    """Forget the cached kernels of ``aten.lstm`` / ``aten.gru``.

    The patches above swap the ops' Python kernels without clearing the dispatch cache, so after
    one traced export (ours or the ONNX exporter's, which uses the same patches) a later trace
    can pick up a stale kernel and silently unroll the time loop again (PyTorch 2.13).
    """
    for op in (torch.ops.aten.lstm.input, torch.ops.aten.gru.input):
        cache = getattr(op, "_dispatch_cache", None)
        if isinstance(cache, dict):
            cache.clear()


def _has_rnn(model: nn.Module) -> bool:
    return any(isinstance(m, nn.RNNBase) for m in model.modules())


def _dims(dynamic_batch: bool, dynamic_time: bool):
    spec: dict[int, Any] = {}
    if dynamic_batch:
        spec[0] = Dim("batch", min=1)
    if dynamic_time:
        # DYNAMIC (not a named Dim with a fixed minimum): the tracer may raise the minimum length
        # (e.g. AS-GCN needs more than ``horizon`` frames) but fails if it fixes T outright.
        spec[2] = Dim.DYNAMIC
    return {INPUT_NAME: spec} if spec else None


def _time_range(ep: Any) -> tuple[int | None, int | None]:
    """``(min, max)`` frames an exported program accepts (None = unbounded / unknown)."""
    try:
        x = next(n for n in ep.graph.nodes if n.op == "placeholder" and n.name == INPUT_NAME)
        sym = x.meta["val"].shape[2]
        if isinstance(sym, int):
            return sym, sym
        vr = ep.range_constraints[sym.node.expr]
    except Exception:  # noqa: BLE001 - informational only
        return None, None

    def bound(v: Any) -> int | None:
        try:
            return int(v)
        except (TypeError, ValueError, OverflowError, AttributeError):  # infinite bounds
            return None

    return bound(vr.lower), bound(vr.upper)


def _first_line(e: BaseException) -> str:
    """The gist of an exporter error: its first line, plus the first detail line of a
    constraint violation ("- You marked time as dynamic but ...")."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    head = lines[0].split(" For more information")[0]
    detail = next((ln[2:] for ln in lines[1:] if ln.startswith("- ")), None)
    return f"{head} {detail}" if detail else head


@dataclass
class _Plan:
    model: nn.Module
    trace_x: torch.Tensor
    dynamic_batch: bool
    dynamic_time: bool
    notes: list[str]


def _plan(model: nn.Module, example_input: torch.Tensor, dynamic_batch: bool,
          dynamic_time: bool | None) -> _Plan:
    x = _check_input(example_input)
    prepared = _prepare(model)
    _check_deterministic(prepared, x)
    notes: list[str] = []
    want_time = dynamic_time is None or dynamic_time
    if want_time:
        reason = _time_probe(prepared, x)
        if reason is not None:
            if dynamic_time:
                raise ExportError(f"this export cannot support a dynamic time axis because {reason}; "
                                  f"export with a fixed T (dynamic_time=False / --static-time)")
            notes.append(f"time axis fixed at T={x.shape[2]}: {reason}")
            want_time = False
    return _Plan(prepared, _trace_input(x, dynamic_batch, want_time), dynamic_batch, want_time, notes)


def export_program(
    model: nn.Module,
    example_input: torch.Tensor,
    *,
    dynamic_batch: bool = True,
    dynamic_time: bool | None = None,
) -> tuple[torch.export.ExportedProgram, list[str], bool]:
    """Trace ``model`` with :func:`torch.export.export`.

    ``dynamic_time``: True = require a dynamic time axis (:class:`ExportError` if impossible),
    False = fixed at the example's ``T``, None = dynamic when possible.

    Returns ``(program, notes, dynamic_time_used)``.
    """
    plan = _plan(model, example_input, dynamic_batch, dynamic_time)

    def trace(dyn_time: bool):
        with _quiet_export(), _rnn_loop_decompositions(dyn_time and _has_rnn(plan.model)):
            return torch.export.export(plan.model, (plan.trace_x,),
                                       dynamic_shapes=_dims(plan.dynamic_batch, dyn_time))

    return _with_time_fallback(plan, trace, strict_time=bool(dynamic_time), what="torch.export")


def _with_time_fallback(plan: _Plan, trace: Callable[[bool], Any], strict_time: bool, what: str
                        ) -> tuple[Any, list[str], bool]:
    """``trace(dynamic_time)``; when a dynamic time axis does not trace and was not required,
    trace again with the example's fixed ``T`` and say why in the notes."""
    try:
        return trace(plan.dynamic_time), plan.notes, plan.dynamic_time
    except Exception as e:  # noqa: BLE001 - re-raised with context below
        if not plan.dynamic_time:
            raise ExportError(f"{what} failed: {_first_line(e)}") from e
        if strict_time:
            raise ExportError(
                f"this export cannot support a dynamic time axis because the traced graph needs a "
                f"fixed T ({_first_line(e)}); export with a fixed T (dynamic_time=False / --static-time)"
            ) from e
        first_error = e
    t = plan.trace_x.shape[2]
    reason = f"the traced graph specialises T ({_first_line(first_error)})"
    notes = [*plan.notes, f"time axis fixed at T={t}: {reason}"]
    try:
        return trace(False), notes, False
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"{what} failed: {_first_line(e)}") from e


# --------------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------------


def _metadata(model: nn.Module, x: torch.Tensor, dynamic_batch: bool, dynamic_time: bool,
              extra: Mapping[str, Any] | None, time_range: tuple[int | None, int | None]) -> dict[str, Any]:
    hparams = getattr(model, "hparams", None)
    meta: dict[str, Any] = {
        "skelact_version": __version__,
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "input_layout": "N,C,T,V,M",
        "channels": int(x.shape[1]),
        "frames": int(x.shape[2]),
        "joints": int(x.shape[3]),
        "bodies": int(x.shape[4]),
        "dynamic_batch": dynamic_batch,
        "dynamic_time": dynamic_time,
        "min_frames": time_range[0] if dynamic_time else int(x.shape[2]),
        "max_frames": time_range[1] if dynamic_time else int(x.shape[2]),
    }
    if isinstance(hparams, Mapping):
        for key in ("layout", "num_classes"):
            if key in hparams:
                meta[key] = hparams[key]
    if extra:
        meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def _json_safe(meta: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(meta, default=str))


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------


def _verification_inputs(x: torch.Tensor, dynamic_batch: bool, dynamic_time: bool,
                         min_frames: int | None = None) -> list[torch.Tensor]:
    """The example, a larger and a single-sample batch, and another length when time is dynamic."""
    inputs = [x]
    n, t = x.shape[0], x.shape[2]
    if dynamic_batch:
        inputs.append(_resize(x, n=n + 1))
        inputs.append(_resize(x, n=1))
    if dynamic_time:
        shorter = t // 2
        inputs.append(_resize(x, t=shorter if shorter >= max(2, min_frames or 2) else t + 5))
    return inputs


def _verify(runner: Callable[[torch.Tensor], torch.Tensor], model: nn.Module, inputs: list[torch.Tensor],
            atol: float, what: str) -> float:
    worst = 0.0
    for x in inputs:
        want = _eager(model, x)
        try:
            got = runner(x)
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"{what} failed to run on input {tuple(x.shape)}: {_first_line(e)}") from e
        if tuple(got.shape) != tuple(want.shape):
            raise ExportError(f"{what} returned {tuple(got.shape)} for input {tuple(x.shape)}, "
                              f"expected {tuple(want.shape)}")
        diff = float((got.float() - want.float()).abs().max()) if want.numel() else 0.0
        if not diff <= atol:  # also catches NaN
            raise ExportError(f"{what} differs from PyTorch by {diff:.3g} (> {atol:g}) "
                              f"on input {tuple(x.shape)}")
        worst = max(worst, diff)
    return worst


# --------------------------------------------------------------------------------------------------
# pt2
# --------------------------------------------------------------------------------------------------


def export_pt2(
    model: nn.Module,
    path: str | os.PathLike,
    example_input: torch.Tensor,
    *,
    dynamic_batch: bool = True,
    dynamic_time: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
    verify: bool = True,
    atol: float = 1e-4,
) -> ExportResult:
    """Export ``model`` as a :func:`torch.export` program saved with :func:`torch.export.save`.

    Load it with ``torch.export.load(path).module()`` (or :func:`load_exported`). See
    :func:`export_program` for ``dynamic_time``; ``metadata`` adds keys to the stored metadata.
    """
    path = Path(path)
    ep, notes, dyn_time = export_program(model, example_input, dynamic_batch=dynamic_batch,
                                         dynamic_time=dynamic_time)
    x = _check_input(example_input)
    meta = _json_safe(_metadata(model, x, dynamic_batch, dyn_time, metadata,
                                _time_range(ep) if dyn_time else (None, None)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_export():
        torch.export.save(ep, path, extra_files={METADATA_FILE: json.dumps(meta)})
    result = ExportResult(path, "pt2", tuple(x.shape), dynamic_batch, dyn_time, notes=notes, metadata=meta)
    if verify:
        loaded, _ = load_exported(path)
        inputs = _verification_inputs(x, dynamic_batch, dyn_time, meta.get("min_frames"))
        result.max_abs_diff = _verify(loaded, _prepare(model), inputs, atol, "the exported program")
    return result


# --------------------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------------------


def _have_onnxscript() -> bool:
    return importlib.util.find_spec("onnxscript") is not None


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    example_input: torch.Tensor,
    *,
    dynamic_batch: bool = True,
    dynamic_time: bool | None = None,
    opset: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    verify: bool = True,
    atol: float = 1e-4,
) -> ExportResult:
    """Export ``model`` to ONNX (one self-contained file; input ``x``, output ``logits``).

    Args:
        model: the PyTorch model (a copy is exported in eval mode).
        path: the ``.onnx`` file to write.
        example_input: a batch ``(N, C, T, V, M)``; its ``C, V, M`` (and ``T`` when time is fixed)
            are baked into the graph.
        dynamic_batch: accept any batch size.
        dynamic_time: True = require a dynamic time axis, False = fixed ``T``, None = dynamic when
            the model allows (see :func:`export_program`).
        opset: ONNX opset version (None: the exporter's default).
        metadata: extra keys for the model's ``metadata_props`` (values stored as JSON).
        verify: run the file with onnxruntime and compare with PyTorch (needs ``onnxruntime``).
        atol: largest accepted absolute difference of the logits.

    Uses PyTorch's ``torch.export``-based exporter (``dynamo=True``, needs ``onnxscript``); the
    legacy TorchScript exporter is not used: it is deprecated and cannot export ARRN-LSTM's line
    features.
    """
    if not _have_onnxscript():
        raise ExportError("ONNX export needs the 'onnxscript' package (PyTorch's torch.export-based ONNX "
                          "exporter uses it): pip install 'skelact[export]' or pip install onnxscript")
    try:
        import onnx
    except ImportError as e:
        raise ExportError("ONNX export needs the 'onnx' package: pip install 'skelact[export]'") from e
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = _plan(model, example_input, dynamic_batch, dynamic_time)
    x = _check_input(example_input)

    def trace(dyn_time: bool):
        # The exporter patches the RNN ops as _rnn_loop_decompositions does: keep no stale kernel
        # in the dispatch cache before (a dynamic T) or after (eager LSTMs in this process).
        _clear_rnn_dispatch_cache()
        try:
            with _quiet_export():
                return torch.onnx.export(
                    plan.model, (plan.trace_x,), dynamo=True, opset_version=opset,
                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                    dynamic_shapes=_dims(dynamic_batch, dyn_time), external_data=False, verbose=False,
                )
        finally:
            _clear_rnn_dispatch_cache()

    program, notes, dyn_time = _with_time_fallback(plan, trace, strict_time=bool(dynamic_time),
                                                   what="ONNX export")
    proto = program.model_proto
    meta = _json_safe(_metadata(model, x, dynamic_batch, dyn_time, metadata,
                                _time_range(program.exported_program) if dyn_time else (None, None)))
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"skelact.{key}", json.dumps(value)
    proto.producer_name = "skelact"
    proto.producer_version = __version__
    onnx.save(proto, str(path))
    result = ExportResult(path, "onnx", tuple(x.shape), dynamic_batch, dyn_time, notes=notes, metadata=meta)
    if verify:
        runner, _ = load_exported(path)
        inputs = _verification_inputs(x, dynamic_batch, dyn_time, meta.get("min_frames"))
        result.max_abs_diff = _verify(runner, plan.model, inputs, atol, "the ONNX model (onnxruntime)")
    return result


def export_model(model: nn.Module, path: str | os.PathLike, example_input: torch.Tensor, format: str,  # noqa: A002
                 **options: Any) -> ExportResult:
    """:func:`export_onnx` or :func:`export_pt2` by ``format`` (``"onnx"`` / ``"pt2"``)."""
    if format == "onnx":
        return export_onnx(model, path, example_input, **options)
    if format == "pt2":
        if options.get("opset") is not None:
            raise ExportError("option opset applies to ONNX only; a .pt2 program has no opset")
        options.pop("opset", None)
        return export_pt2(model, path, example_input, **options)
    raise ExportError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


class ExportedModel:
    """An exported file as a ``(N, C, T, V, M) tensor -> logits tensor`` callable.

    Attributes:
        path: the file.
        format: ``"onnx"`` or ``"pt2"``.
        metadata: the skelact metadata stored at export.
    """

    def __init__(self, path: Path, fmt: str, fn: Callable[[torch.Tensor], torch.Tensor],
                 metadata: dict[str, Any]):
        self.path, self.format, self._fn, self.metadata = path, fmt, fn, metadata

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x)

    def __repr__(self) -> str:
        return f"ExportedModel({str(self.path)!r}, format={self.format!r})"


def _load_onnx(path: Path) -> ExportedModel:
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        raise ExportError("running an ONNX model needs 'onnx' and 'onnxruntime': "
                          "pip install 'skelact[export]'") from e
    proto = onnx.load(str(path), load_external_data=False)
    meta = {}
    for entry in proto.metadata_props:
        if entry.key.startswith("skelact."):
            try:
                meta[entry.key[len("skelact."):]] = json.loads(entry.value)
            except ValueError:
                meta[entry.key[len("skelact."):]] = entry.value
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    in_name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
        return torch.from_numpy(session.run(None, {in_name: np.ascontiguousarray(arr)})[0])

    return ExportedModel(path, "onnx", run, meta)


def _load_pt2(path: Path) -> ExportedModel:
    extra = {METADATA_FILE: ""}
    with _quiet_export():
        logging.getLogger("torch._export.serde.serialize").setLevel(logging.ERROR)
        ep = torch.export.load(path, extra_files=extra)
    meta = json.loads(extra[METADATA_FILE]) if extra[METADATA_FILE] else {}
    module = ep.module()

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x)

    return ExportedModel(path, "pt2", run, meta)


def load_exported(path: str | os.PathLike) -> tuple[ExportedModel, dict[str, Any]]:
    """Load a ``.onnx`` or ``.pt2`` file written by skelact: ``(callable model, metadata)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exported model not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        model = _load_onnx(path)
    elif suffix in (".pt2", ".pt"):
        model = _load_pt2(path)
    else:
        raise ExportError(f"{path}: unknown exported model type {suffix!r} (expected .onnx or .pt2)")
    return model, model.metadata
