"""The compiled CPU kernels of the recurrent relational network (``kernels.cpp``), through ``ctypes``.

Two parts of the RRN (:mod:`.rrn`) run as fused kernels, forward and backward:

* the per-pair part of the message function (eqs. 5-6),
  ``s_i = sum_{j != i} relu(W_2 relu(recv_i + send_j) + b_2)``: each receiver's ``J`` pair rows are
  built, multiplied and summed in registers and L1 cache; nothing per pair is written to memory but
  a one-bit relu mask for the backward (PyTorch ops make about ten passes over ``(B, J, J, H)``
  tensors for the same sums and their gradients);
* the GRU update of eq. 7 from its two projections: one pass over the rows forward and one
  backward, instead of about five and fifteen elementwise ops.

:mod:`.rrn` runs the same computations as PyTorch ops: the fallback, and the reference the tests
compare against.

``setup.py`` builds the kernels on x86-64, once for AVX-512F and once for AVX2 + FMA, as optional
extensions (like the NTU reader's C): :func:`available` says whether one that this CPU runs was
built. They take float32 CPU tensors; :func:`usable` says when a call goes to them.
``SKELACT_NO_C=1`` (the variable that also switches off the compiled NTU reader) or :func:`disabled`
sends every call to the PyTorch ops.

Each call shows in :mod:`torch.profiler` as ``skelact::pair_forward`` (and so on). Threads: the
node sets (or rows) are split between ``torch.get_num_threads()`` threads of the
kernels' own.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.machinery
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.profiler import record_function

__all__ = ["NO_C_ENV", "available", "disabled", "gru_backward", "gru_forward", "pair_backward",
           "pair_forward", "runnable_variants", "usable", "variant"]

#: Environment variable: ``1`` switches the compiled code off (as for the NTU reader).
NO_C_ENV = "SKELACT_NO_C"

#: The builds, fastest first, with the ``/proc/cpuinfo`` flags each needs.
VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("avx512", ("avx512f", "avx2", "fma")),
    ("avx2", ("avx2", "fma")),
)

_HERE = Path(__file__).resolve().parent
_switched_off = False  # by disabled()

_P = ctypes.c_void_p
_I64, _INT = ctypes.c_int64, ctypes.c_int


def _cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (none off Linux: no kernel is then used)."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def _library_file(name: str) -> Path | None:
    """The built extension ``_kernels_<name>`` beside this module, if there is one."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = _HERE / f"_kernels_{name}{suffix}"
        if path.is_file():
            return path
    return None


@functools.cache
def _bind(name: str) -> ctypes.CDLL | None:
    """The build ``_kernels_<name>`` loaded, with its functions' signatures; ``None`` if not built."""
    path = _library_file(name)
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as error:  # e.g. built against another C++ runtime than this machine has
        warnings.warn(f"skelact: cannot load the RRN kernels {path} ({error}); the RRN runs on PyTorch ops",
                      RuntimeWarning, stacklevel=2)
        return None
    lib.skelact_pair_lanes.restype = _INT
    lib.skelact_pair_forward.argtypes = [_P, _P, _P, _P, _I64, _INT, _INT, _P, _P, _INT]
    lib.skelact_pair_forward.restype = None
    lib.skelact_pair_backward.argtypes = [_P, _P, _P, _P, _P, _I64, _INT, _INT, _P, _P, _P, _P, _INT]
    lib.skelact_pair_backward.restype = None
    lib.skelact_gru_forward.argtypes = [_P, _P, _P, _P, _P, _I64, _INT, _P, _P, _P, _INT]
    lib.skelact_gru_forward.restype = None
    lib.skelact_gru_backward.argtypes = [_P, _P, _P, _P, _P, _P, _I64, _INT, _P, _P, _P, _P, _INT]
    lib.skelact_gru_backward.restype = None
    return lib


def runnable_variants() -> list[str]:
    """The builds whose instructions this CPU has, fastest first (built or not)."""
    flags = _cpu_flags()
    return [name for name, needs in VARIANTS if all(flag in flags for flag in needs)]


@functools.cache
def _load() -> tuple[str, ctypes.CDLL] | tuple[None, None]:
    """The fastest build this CPU runs, loaded, with its name; ``(None, None)`` if there is none."""
    for name in runnable_variants():
        lib = _bind(name)
        if lib is not None:
            return name, lib
    return None, None


def variant() -> str | None:
    """The build in use (``"avx512"`` or ``"avx2"``), ``None`` when the PyTorch ops run."""
    return _load()[0] if available() else None


def available() -> bool:
    """A build for this CPU is installed and neither ``SKELACT_NO_C=1`` nor :func:`disabled` is on."""
    return not _switched_off and os.environ.get(NO_C_ENV) != "1" and _load()[1] is not None


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within the block every call runs the PyTorch ops (for example to count FLOPs with
    :class:`torch.utils.flop_counter.FlopCounterMode`, which does not see the kernels)."""
    global _switched_off
    before, _switched_off = _switched_off, True
    try:
        yield
    finally:
        _switched_off = before


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the kernels take these tensors: float32 on the CPU, and :func:`available`."""
    return all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors) and available()


def _lanes() -> int:
    return _load()[1].skelact_pair_lanes()


def _call(name: str, *args: torch.Tensor | int | None) -> None:
    """Run ``skelact_<name>`` of the loaded build on ``args`` (tensors as their data pointers, None as
    a null pointer) and this process's thread count; it shows in :mod:`torch.profiler` as
    ``skelact::<name>``."""
    pointers = [a.data_ptr() if isinstance(a, torch.Tensor) else a for a in args]
    with record_function(f"skelact::{name}"):
        getattr(_load()[1], f"skelact_{name}")(*pointers, torch.get_num_threads())


def pair_forward(recv: torch.Tensor, send: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                 keep_mask: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``s_i = sum_{j != i} relu(W relu(recv_i + send_j) + b)``, ``(B, J, H)``, and, if ``keep_mask``,
    the relu mask the backward needs (int16 words of bits, ``(B, J_i, J_j, ceil(H / lanes))``)."""
    batch, nodes, hidden = recv.shape
    recv, send, weight, bias = (t.contiguous() for t in (recv, send, weight, bias))
    out = torch.empty_like(recv)
    words = -(-hidden // _lanes())
    mask = recv.new_empty(batch, nodes, nodes, words, dtype=torch.int16) if keep_mask else None
    _call("pair_forward", recv, send, weight, bias, batch, nodes, hidden, out, mask)
    return out, mask


def pair_backward(grad: torch.Tensor, recv: torch.Tensor, send: torch.Tensor, weight: torch.Tensor,
                  mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients of :func:`pair_forward`'s output with respect to ``recv``, ``send``, ``W`` and ``b``."""
    batch, nodes, hidden = recv.shape
    grad, recv, send, weight = (t.contiguous() for t in (grad, recv, send, weight))
    grad_recv, grad_send = torch.empty_like(recv), torch.empty_like(send)
    grad_weight, grad_bias = torch.empty_like(weight), weight.new_empty(hidden)
    _call("pair_backward", grad, recv, send, weight, mask, batch, nodes, hidden,
          grad_recv, grad_send, grad_weight, grad_bias)
    return grad_recv, grad_send, grad_weight, grad_bias


def gru_forward(gates_v: torch.Tensor, gates_m: torch.Tensor, gates_h: torch.Tensor, bias_h: torch.Tensor,
                h: torch.Tensor, keep: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """One GRU step ``h'`` (``(N, M)``) from the input projection ``gates_v + gates_m``, the state's
    projection ``gates_h + bias_h`` (``(N, 3M)`` each, gates r, z, n; ``bias_h`` ``(3M,)``) and the
    state ``h``; with ``keep`` also ``[r, z]`` (``(N, 2M)``) and ``n`` (``(N, M)``) for
    :func:`gru_backward`, else ``None`` for both. The sums are formed in the kernel, so neither
    projection needs a bias pass or an addition of its own."""
    rows, dim = h.shape
    gates_v, gates_m, gates_h, bias_h, h = (t.contiguous() for t in (gates_v, gates_m, gates_h, bias_h, h))
    out = torch.empty_like(h)
    rz, n = (h.new_empty(rows, 2 * dim), torch.empty_like(h)) if keep else (None, None)
    _call("gru_forward", gates_v, gates_m, gates_h, bias_h, h, rows, dim, out, rz, n)
    return out, rz, n


def gru_backward(grad: torch.Tensor, rz: torch.Tensor, n: torch.Tensor, gates_h: torch.Tensor,
                 bias_h: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The gradients of :func:`gru_forward`'s ``h'``: with respect to the input projection (``gates_v``
    and ``gates_m`` alike), ``gates_h``, ``bias_h`` and ``h``."""
    rows, dim = h.shape
    grad, gates_h, bias_h, h = (t.contiguous() for t in (grad, gates_h, bias_h, h))
    grad_in, grad_gates_h, grad_h = torch.empty_like(gates_h), torch.empty_like(gates_h), torch.empty_like(h)
    grad_bias_h = torch.empty_like(bias_h)
    _call("gru_backward", grad, rz, n, gates_h, bias_h, h, rows, dim,
          grad_in, grad_gates_h, grad_bias_h, grad_h)
    return grad_in, grad_gates_h, grad_bias_h, grad_h
