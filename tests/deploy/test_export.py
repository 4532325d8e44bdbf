"""Export: ONNX (onnxruntime) and torch.export (.pt2) give PyTorch's logits on real samples."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from deploy_helpers import batch, msr_sequence, tiny_arrn, tiny_asgcn

from skelact.deploy import export as export_mod
from skelact.deploy.export import ExportError, export_model, export_onnx, export_pt2, load_exported

ATOL = 1e-4
MSR_FILES = ("a01_s01_e01", "a05_s02_e02", "a12_s07_e03", "a20_s10_e01")


def ort_logits(path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x.numpy()})[0]


def pt2_logits(path, x: torch.Tensor) -> np.ndarray:
    program = torch.export.load(path)
    with torch.no_grad():
        return program.module()(x).numpy()


def torch_logits(model, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(x).numpy()


@pytest.fixture(scope="module")
def ntu_inputs(ntu_samples):
    """Real NTU batches: the traced example and inputs of other batch sizes and lengths."""
    s0, s1, s2 = ntu_samples
    example = batch([s0, s2], 32)
    others = [batch([s1, s0, s2], 40), batch([s2], 20), batch([s1, s2], 61)]
    return example, others


@pytest.fixture(scope="module")
def msr_inputs(shared_data):
    folder = shared_data / "msr_action3d" / "MSRAction3DSkeletonReal3D"
    seqs = [msr_sequence(folder / f"{name}_skeleton3D.txt") for name in MSR_FILES]
    assert min(len(s) for s in seqs) >= 20
    return batch(seqs[:2], 20), [batch(seqs, 13), batch(seqs[2:3], 30), batch(seqs[1:], 20)]


MODELS = {"asgcn": tiny_asgcn, "arrn_two_stream": tiny_arrn}


@pytest.fixture(scope="module", params=[(m, f) for m in MODELS for f in ("onnx", "pt2")],
                ids=lambda p: "-".join(p))
def exported(request, ntu_inputs, tmp_path_factory):
    name, fmt = request.param
    model = MODELS[name]()
    example, _ = ntu_inputs
    path = tmp_path_factory.mktemp("export") / f"{name}.{fmt}"
    result = export_model(model, path, example, fmt)
    return model, fmt, path, result


def test_export_matches_pytorch_on_real_samples(exported, ntu_inputs):
    model, fmt, path, result = exported
    assert result.dynamic_batch and result.dynamic_time, result.notes
    assert result.max_abs_diff is not None and result.max_abs_diff <= ATOL
    run = ort_logits if fmt == "onnx" else pt2_logits
    example, others = ntu_inputs
    for x in [example, *others]:  # batch sizes 2, 3, 1, 2 and lengths 32, 40, 20, 61
        got, want = run(path, x), torch_logits(model, x)
        assert got.shape == want.shape == (x.shape[0], 7)
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


def test_metadata_travels_with_the_file(exported):
    model, fmt, path, result = exported
    loaded, meta = load_exported(path)
    assert meta["layout"] == "ntu25" and meta["num_classes"] == 7 and meta["dynamic_time"] is True
    assert meta["bodies"] == 2 and meta["joints"] == 25 and meta["frames"] == 32
    assert loaded.format == fmt
    if fmt == "onnx":
        proto = onnx.load(str(path))
        assert [i.name for i in proto.graph.input] == ["x"]
        assert [o.name for o in proto.graph.output] == ["logits"]
        dims = proto.graph.input[0].type.tensor_type.shape.dim
        assert dims[0].dim_param and dims[2].dim_param  # symbolic batch and time
        assert [d.dim_value for d in dims[1:2] + dims[3:]] == [3, 25, 2]


def test_single_stream_arrn_on_msr(msr_inputs, tmp_path):
    model = tiny_arrn(num_classes=20, layout="kinect20", stream="joint")
    example, others = msr_inputs
    result = export_onnx(model, tmp_path / "joint.onnx", example)
    assert result.dynamic_time and result.max_abs_diff <= ATOL
    for x in others:
        np.testing.assert_allclose(ort_logits(result.path, x), torch_logits(model, x), atol=ATOL, rtol=0)


def test_fixed_length_model_says_why(msr_inputs, tmp_path):
    model = tiny_arrn(num_classes=20, layout="kinect20", stream="line", readout="concat", frames=20)
    example, others = msr_inputs
    with pytest.raises(ExportError, match=r"cannot support a dynamic time axis because .*readout='concat'"):
        export_pt2(model, tmp_path / "line.pt2", example, dynamic_time=True)
    result = export_pt2(model, tmp_path / "line.pt2", example)  # auto: falls back to a fixed T
    assert not result.dynamic_time and result.dynamic_batch
    assert any("time axis fixed at T=20" in n and "readout='concat'" in n for n in result.notes)
    x = others[2]  # 3 samples, T = 20
    np.testing.assert_allclose(pt2_logits(result.path, x), torch_logits(model, x), atol=ATOL, rtol=0)
    with pytest.raises(Exception):  # noqa: B017 - the program rejects another length
        pt2_logits(result.path, others[0])


def test_clear_errors(tmp_path, monkeypatch, ntu_inputs):
    example, _ = ntu_inputs

    class Sampling(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3, 4)) + torch.rand(x.shape[0], 3)

    with pytest.raises(ExportError, match="not deterministic in eval mode"):
        export_pt2(Sampling(), tmp_path / "s.pt2", example)
    with pytest.raises(ExportError, match="opset applies to ONNX only"):
        export_model(tiny_arrn(), tmp_path / "m.pt2", example, "pt2", opset=17)
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(tiny_arrn(), tmp_path / "m.tflite", example, "tflite")
    with pytest.raises(ExportError, match=r"batch \(N, C, T, V, M\)"):
        export_pt2(tiny_arrn(), tmp_path / "m.pt2", example[0])
    monkeypatch.setattr(export_mod, "_have_onnxscript", lambda: False)
    with pytest.raises(ExportError, match="onnxscript"):
        export_onnx(tiny_arrn(), tmp_path / "m.onnx", example)


def test_export_leaves_the_model_alone(ntu_inputs, tmp_path):
    model = tiny_arrn(dropout=0.3).train()
    example, _ = ntu_inputs
    before = {k: v.clone() for k, v in model.state_dict().items()}
    skip = [s.skip_empty_bodies for s in model.streams.values()]
    result = export_pt2(model, tmp_path / "m.pt2", example)
    assert model.training and [s.skip_empty_bodies for s in model.streams.values()] == skip
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()  # the export is the eval-mode model
    np.testing.assert_allclose(pt2_logits(result.path, example), torch_logits(model, example), atol=ATOL)
