"""FLOP counting for the benchmarks: ``FlopCounterMode`` with the in-place matrix products it misses.

``torch.utils.flop_counter`` registers ``addmm`` and ``baddbmm`` but not their in-place forms, which
skelact's backward passes use to sum products into an accumulator (the RRN's message weight
gradient; AS-GCN's graph-convolution weight and input gradients): uncounted, they would lower the
FLOP rates the results files report. They count as their out-of-place forms.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def _addmm_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]  # (n, k) @ (k, m), as FlopCounterMode's addmm


def _baddbmm_flops(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * a_shape[2] * b_shape[2]  # (b, n, k) @ (b, k, m), as its baddbmm


#: the in-place products, for ``FlopCounterMode(custom_mapping=...)``
INPLACE_PRODUCTS = {torch.ops.aten.addmm_: _addmm_flops, torch.ops.aten.baddbmm_: _baddbmm_flops}


def counted_flops(fn: Callable[[], object]) -> int:
    """FLOPs of ``fn`` as ``FlopCounterMode`` counts them, the in-place products included."""
    with FlopCounterMode(display=False, custom_mapping=INPLACE_PRODUCTS) as counter:
        fn()
    return counter.get_total_flops()
