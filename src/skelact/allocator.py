"""Keep the memory a training step frees for the next step instead of handing it back to the system.

PyTorch's CPU tensors come from ``malloc``. glibc serves a request above its mmap threshold (128 KiB,
raised on the fly up to 32 MiB) with a fresh ``mmap`` and unmaps it again on ``free``, and it trims
the top of its heap once 128 KiB or more lie free there. A training step frees its activations at
the end and allocates the same sizes again in the next step, so every step faults all of that
memory in again, page by page, and the kernel zeroes each page first. On a 2-core AMD EPYC at 2
threads an NTU-sized ARRN-LSTM training step (batch 16, two bodies) took 0.44 M page faults and
1.46 s of system time (with :func:`keep_freed_memory`: 1,234 and 0.08 s), and the official AS-GCN
code's step 15.4 s (8.8 s); on a 2-core Intel Xeon, 0.23 M faults and 0.45 s (23 and 0.02 s: the
step 1.13x as fast), and 10.2 s (6.1 s): ``benchmarks/results/allocator.md`` and
``benchmarks/results/asgcn.md`` (the latest runs; the EPYC's in the git history).

:func:`keep_freed_memory` sets ``M_MMAP_MAX = 0`` (every block comes from the heap) and
``M_TRIM_THRESHOLD`` to its largest value (the heap is never trimmed): freed blocks are reused in
place, as PyTorch's own caching allocator does on a GPU. The price is that the resident memory of
the process stays at its peak until it exits, and glibc 2.36 can hold a few freed blocks beside
the ones it reuses (at 2 threads the official AS-GCN code's peak grew from 6.7 to 7.7 GiB, our
AS-GCN step's from 1.69 to 1.80 GiB). It does not make every step faster: skelact's AS-GCN step
ran 0.97x as fast with it on the EPYC (1.01x and 1.10x in two runs on the Xeon), so
``skelact train`` applies it only when asked (``train.keep_freed_memory=true``). Off Linux or with
another C library than glibc it changes nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["keep_freed_memory"]

#: ``mallopt`` parameters (glibc's ``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

#: The largest value ``mallopt`` takes (an ``int``): trim only when more than 2 GiB lie free at the
#: top of the heap, in practice never.
_NEVER = 2**31 - 1


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """glibc, where this process runs on it (it has ``mallopt`` and ``gnu_get_libc_version``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):
        return None  # musl and others: their malloc has other knobs
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def keep_freed_memory() -> bool:
    """Have glibc's ``malloc`` keep freed memory for reuse in this process (see the module docstring).

    Returns True where it took effect (Linux with glibc; calling it again changes nothing), False
    where it does not apply. Child processes forked afterwards (data-loader workers) inherit it.
    """
    libc = _glibc()
    if libc is None:
        return False
    return libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, _NEVER) == 1
