"""Reusable units: the strided pointwise convolution that sidesteps a oneDNN heap corruption."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
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


def test_temporal_conv_defaults_to_stride_one_and_same_padding():
    from skelact.models.units import TemporalConv

    conv, bn = TemporalConv(4, 6, 5)
    assert conv.kernel_size == (5, 1) and conv.stride == (1, 1) and conv.padding == (2, 0)
    assert bn.num_features == 6
    assert TemporalConv(4, 6, 5)(torch.randn(2, 4, 9, 3)).shape == (2, 6, 9, 3)  # T kept
    unpadded = TemporalConv(4, 6, 5, padding=False)
    assert unpadded[0].padding == (0, 0) and unpadded(torch.randn(2, 4, 9, 3)).shape == (2, 6, 5, 3)


def test_temporal_conv_kernel_must_be_odd():
    from skelact.models.units import TemporalConv

    with pytest.raises(ValueError, match=r"^temporal kernel must be odd, got 4$"):
        TemporalConv(4, 6, 4)


def test_strided_pointwise_runs_in_standard_memory_even_for_a_channels_last_module(monkeypatch):
    from skelact.models import units

    ours = StridedPointwiseConv(8, 16, stride=2).to(memory_format=torch.channels_last)
    x = torch.randn(2, 8, 7, 5).to(memory_format=torch.channels_last)
    assert ours.weight.stride() == (8, 1, 8, 8) and not x.is_contiguous()  # channels-last strides
    seen = []
    conv2d = units.F.conv2d

    def spy(inp, weight, *args, **kw):
        seen.append((inp.stride(), weight.stride()))
        return conv2d(inp, weight, *args, **kw)

    monkeypatch.setattr(units.F, "conv2d", spy)
    ours(x)
    assert seen == [((8 * 7 * 5, 7 * 5, 5, 1), (8, 1, 1, 1))]  # the standard (NCHW) strides


def test_strided_pointwise_hands_back_channels_last_memory_with_the_same_values():
    # The BN after it and the residual sum are channels-last; a standard-layout output made
    # BatchNorm2d's backward take a slow mixed-format path (6x at NTU size).
    ours = StridedPointwiseConv(8, 16, stride=2).to(memory_format=torch.channels_last)
    x = torch.randn(2, 8, 9, 5).to(memory_format=torch.channels_last).requires_grad_()
    y = ours(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    ref = torch.nn.functional.conv2d(x.detach(), ours.weight.detach(), ours.bias.detach(), stride=(2, 1))
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-6)
    bn = torch.nn.BatchNorm2d(16)
    bn(y).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_residual_branch_defaults_to_an_identity_for_equal_shapes():
    from skelact.models.units import Zero, residual_branch

    assert isinstance(residual_branch(4, 4), torch.nn.Identity)  # stride 1, enabled by default
    assert isinstance(residual_branch(4, 4, enabled=False), Zero)
    strided = residual_branch(4, 4, stride=2)
    assert isinstance(strided[0], StridedPointwiseConv) and strided[0].stride == (2, 1)
    assert isinstance(residual_branch(4, 8)[1], torch.nn.BatchNorm2d)


def test_collapse_time_resamples_the_frame_axis_only():
    from skelact.models.units import collapse_time

    x = torch.randn(2, 3, 6, 4)  # (B, C, T, V): V equals the target, T does not
    out = collapse_time(x, 4)
    assert out.shape == (2, 3, 4, 4)
    torch.testing.assert_close(out, torch.nn.functional.adaptive_avg_pool2d(x, (4, 4)))
    assert collapse_time(x, 6) is x  # already that many frames: the identity


def test_dropout_keeps_one_minus_p_of_the_elements_scaled_by_its_inverse():
    from skelact.models.units import Dropout

    torch.manual_seed(0)
    layer = Dropout(0.3).train()
    x = torch.rand(200_000) + 1.0  # no zeros of its own
    y = layer(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005  # binomial sd 0.001
    torch.testing.assert_close(y[kept], x[kept] / 0.7)
    layer.eval()
    assert layer(x) is x


def test_dropout_gradient_is_its_mask_and_a_seed_repeats_it():
    from skelact.models.units import Dropout

    layer = Dropout(0.5)
    x = torch.randn(64, 32, requires_grad=True)
    torch.manual_seed(3)
    y = layer(x)
    y.backward(torch.ones_like(y))
    torch.testing.assert_close(x.grad, (y != 0).float() * 2.0)
    torch.manual_seed(3)
    torch.testing.assert_close(layer(x), y)  # same seed, same mask
    assert not torch.equal(layer(x), y)  # the next draw differs


def test_dropout_inplace_writes_into_its_input_and_edge_rates_are_nn_dropouts():
    from skelact.models.units import Dropout

    x = torch.ones(1000)
    y = Dropout(0.5, inplace=True)(x)
    assert y is x and set(x.unique().tolist()) == {0.0, 2.0}
    z = torch.randn(50)
    assert Dropout(0.0).train()(z) is z  # nn.Dropout's own shortcut: no mask drawn
    assert torch.equal(Dropout(1.0)(z), torch.zeros(50))


def test_dropout_mask_on_cpu_is_drawn_by_rand_like():
    from skelact.models.units import Dropout

    x = torch.randn(40, 30)
    torch.manual_seed(5)
    keep = torch.rand_like(x) >= 0.25
    torch.manual_seed(5)
    torch.testing.assert_close(Dropout(0.25).train()(x), torch.where(keep, x / 0.75, 0.0))


def test_dropout_at_one_half_takes_each_mask_bit_from_a_random_byte():
    from skelact.models.units import Dropout

    x = torch.randn(2, 3, 5, 4).to(memory_format=torch.channels_last)  # 120 elements: 15 bytes
    torch.manual_seed(5)
    byte = torch.empty(15, dtype=torch.uint8).random_()
    keep = torch.tensor([(int(byte[j]) >> i) & 1 for j in range(15) for i in range(8)], dtype=torch.bool)
    keep = keep.view(2, 5, 4, 3).permute(0, 3, 1, 2)  # element 8 j + i in channels-last memory order
    after = torch.rand(3)  # the generator's state after exactly those 15 bytes
    torch.manual_seed(5)
    y = Dropout(0.5).train()(x)
    torch.testing.assert_close(y, torch.where(keep, x * 2.0, 0.0))
    torch.testing.assert_close(torch.rand(3), after)  # no byte more drawn
    assert y.is_contiguous(memory_format=torch.channels_last)
    odd = torch.ones(3, 7, requires_grad=True)  # 21 elements: the last byte's top bits unused
    torch.manual_seed(6)
    out = Dropout(0.5).train()(odd.t())  # a transposed view: logical order
    torch.manual_seed(6)
    bits = torch.empty(3, dtype=torch.uint8).random_()
    want = torch.tensor([(int(bits[k // 8]) >> (k % 8)) & 1 for k in range(21)], dtype=torch.float32)
    torch.testing.assert_close(out, want.view(7, 3) * 2.0)


def test_dropout_at_one_half_keeps_half_at_every_bit_position_independently():
    from skelact.models.units import Dropout

    torch.manual_seed(0)
    y = Dropout(0.5).train()(torch.ones(800_000))
    kept = (y != 0).view(-1, 8).float()  # one row per random byte
    assert set(y.unique().tolist()) == {0.0, 2.0}
    rates = kept.mean(0)  # each bit position: binomial sd 0.0016
    assert float((rates - 0.5).abs().max()) < 0.008
    both = (kept[:, :-1] * kept[:, 1:]).mean(0)  # neighbouring bits kept together: 1/4 if independent
    assert float((both - 0.25).abs().max()) < 0.008


def test_asgcn_blocks_drop_out_with_the_fast_dropout():
    from skelact.models import build
    from skelact.models.units import Dropout

    model = build("asgcn", num_classes=5, layout="ntu25", preset="official")
    drops = [m for m in model.modules() if isinstance(m, Dropout)]
    assert len(drops) >= 9 and {d.p for d in drops} == {0.5}
