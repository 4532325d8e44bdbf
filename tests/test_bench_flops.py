"""``benchmarks/flops.py``: the in-place matrix products the backward passes sum gradients with count
as their out-of-place forms (``FlopCounterMode`` alone misses them)."""

from __future__ import annotations

import pathlib

import pytest
import torch
from script_modules import load_script

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "flops.py"


@pytest.fixture(scope="module")
def flops():
    return load_script(SCRIPT)


def test_in_place_products_count_as_their_out_of_place_forms(flops):
    acc, a, b = torch.zeros(3, 5), torch.randn(3, 4), torch.randn(4, 5)
    acc3, a3, b3 = torch.zeros(2, 3, 5), torch.randn(2, 3, 4), torch.randn(2, 4, 5)
    assert flops.counted_flops(lambda: acc.addmm_(a, b)) == 2 * 3 * 4 * 5
    assert flops.counted_flops(lambda: torch.addmm(acc, a, b)) == 2 * 3 * 4 * 5
    assert flops.counted_flops(lambda: acc3.baddbmm_(a3, b3)) == 2 * 2 * 3 * 4 * 5
    assert flops.counted_flops(lambda: torch.baddbmm(acc3, a3, b3)) == 2 * 2 * 3 * 4 * 5
    # and the products with an out= buffer, which the graph convolution's chunk loop writes into
    assert flops.counted_flops(lambda: torch.mm(a, b, out=torch.empty(3, 5))) == 2 * 3 * 4 * 5
    assert flops.counted_flops(lambda: torch.bmm(a3, b3, out=torch.empty(2, 3, 5))) == 2 * 2 * 3 * 4 * 5
