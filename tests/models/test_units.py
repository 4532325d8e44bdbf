"""Reusable units: the strided pointwise convolution that sidesteps a oneDNN heap corruption."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from skelact.models.units import StridedPointwiseConv


def test_strided_pointwise_equals_strided_conv2d_forward_and_backward():
    ours = StridedPointwiseConv(8, 16, stride=2)
    ref = torch.nn.Conv2d(8, 16, 1, stride=(2, 1))
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 8, 31, 5, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    y, y_ref = ours(x), ref(x2)
    assert y.shape == y_ref.shape == (2, 16, 16, 5)  # ceil(31 / 2) frames
    torch.testing.assert_close(y, y_ref)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)


def test_asgcn_with_a_strided_block_trains_at_ntu_length_without_heap_corruption():
    # Regression: at T = 300 the strided 1x1 residual convolution in channels-last memory aborted
    # the process in backward ("corrupted double-linked list"). Run in a subprocess so a crash is
    # a test failure, not a dead test worker.
    code = textwrap.dedent(
        """
        import torch
        from skelact.models import build
        torch.manual_seed(0)
        m = build("asgcn", num_classes=60, layout="ntu25", channels=(8, 16), strides=(1, 2), links="s")
        x, y = torch.randn(4, 3, 300, 25, 2), torch.randint(0, 60, (4,))
        for _ in range(3):
            m.losses(x, y)["loss"].backward()
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
