"""The model input spec (``skelact.models.spec``) and checkpoint loading without the training engine
(``skelact.models.checkpoint``): one spec, saved as a plain dict, read back by everything that runs
a trained model; builders take the clip length as the uniform ``frames=``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skelact.errors import ConfigError
from skelact.models import MODELS, build, register_model
from skelact.models.checkpoint import load_checkpoint_model, read_saved_checkpoint
from skelact.models.registry import accepts_frames
from skelact.models.spec import InputSpec, build_for_spec, model_input_frames

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"
TINY_ASGCN = dict(channels=(8, 8), strides=(1, 1), aim_hidden=8, aim_frames=8, horizon=3,
                  pred_collapse=((8, 3, 2), (8, 3, 1)), pred_refine=(8,), dropout=0.0)  # fmt: skip
TINY_ARRN = dict(stream="joint", embed_dim=8, iterations=1, attention_dim=16, lstm_sizes=[16])


def _spec(**kw) -> InputSpec:
    base = dict(num_classes=5, layout="ntu25", in_channels=3, frames=20, input_frames=20, bodies=2,
                class_names=tuple("abcde"), dataset="ntu60", channels=("x", "y", "z"))  # fmt: skip
    return InputSpec(**{**base, **kw})


class _WithFrames(torch.nn.Module):
    def __init__(self, num_classes, layout="ntu25", in_channels=3, frames=None):
        super().__init__()
        self.frames = frames


class _WithoutFrames(torch.nn.Module):
    def __init__(self, num_classes, layout="ntu25", in_channels=3, **options):
        super().__init__()
        self.options = options


for _name, _cls in (("_spec_with_frames", _WithFrames), ("_spec_without_frames", _WithoutFrames)):
    if _name not in MODELS:
        register_model(_name)(_cls)


def test_the_spec_round_trips_through_its_checkpoint_dict():
    spec = _spec(normalize=({"name": "PreNormalize3D"},), store_class_names=tuple("abcdef"))
    saved = spec.to_dict()
    assert saved["frames"] == 20 and saved["input_frames"] == 20 and saved["class_names"] == list("abcde")
    assert all(isinstance(v, (int, str, list, type(None))) for v in saved.values())  # plain data
    assert InputSpec.from_dict(saved) == spec


def test_a_spec_saved_before_frames_takes_them_from_the_saved_config():
    old = {k: v for k, v in _spec(input_frames=23).to_dict().items() if k != "frames"}
    assert InputSpec.from_dict(old, frames=20).frames == 20
    assert InputSpec.from_dict(old, frames=20).input_frames == 23
    with pytest.raises(ConfigError, match="missing layout"):
        InputSpec.from_dict({"num_classes": 3, "in_channels": 3}, frames=20)
    with pytest.raises(ConfigError, match="fewer than the window"):
        _spec(frames=20, input_frames=19)


def test_builders_get_frames_when_they_take_it():
    assert accepts_frames("_spec_with_frames") and accepts_frames("arrn_lstm")
    assert not accepts_frames("_spec_without_frames")
    assert build("_spec_with_frames", num_classes=3, frames=17).frames == 17
    assert build("_spec_without_frames", num_classes=3, frames=17).options == {}  # length-agnostic


def test_a_stated_model_frames_option_must_agree_with_the_data():
    spec = _spec(frames=20, input_frames=20)
    model = build_for_spec("arrn_lstm", {**TINY_ARRN, "readout": "concat", "frames": 20}, spec)
    assert model.hparams["frames"] == 20
    with pytest.raises(ConfigError, match=r"model.options.frames: 25 disagrees with data.frames = 20"):
        build_for_spec("arrn_lstm", {**TINY_ARRN, "frames": 25}, spec)
    with pytest.raises(ConfigError, match="model.name"):
        build_for_spec("no_such_model", {}, spec)


def test_the_model_says_how_many_frames_a_sample_holds():
    spec = _spec(frames=20, input_frames=20)
    asgcn = build_for_spec("asgcn", TINY_ASGCN, spec)
    assert model_input_frames(asgcn, 20) == 23  # + the prediction target
    assert spec.for_model(asgcn).input_frames == 23 and spec.for_model(asgcn).frames == 20
    arrn = build_for_spec("arrn_lstm", TINY_ARRN, spec)
    assert spec.for_model(arrn) == spec


@pytest.mark.parametrize("family, frames, input_frames", [("arrn_lstm", 8, 8), ("asgcn", 12, 14)])
def test_saved_checkpoints_load_without_the_training_engine(family, frames, input_frames):
    path = FIXTURES / f"{family}.ckpt"
    model, spec = load_checkpoint_model(path)
    assert (spec.frames, spec.input_frames) == (frames, input_frames)
    assert (spec.layout, spec.num_classes, spec.bodies) == ("florence8", 9, 1)
    assert not model.training
    expected = np.load(FIXTURES / "expected.npz")
    with torch.no_grad():
        logits = model(torch.from_numpy(expected[f"{family}_input"]))
    np.testing.assert_allclose(logits.numpy(), expected[f"{family}_logits"], rtol=1e-5, atol=1e-5)
    saved = read_saved_checkpoint(path)
    assert saved.model_name == family
    sampling = [t for t in saved.test_transforms() if t["name"] == "UniformSample"]
    assert sampling and sampling[0]["frames"] == input_frames  # ${input_frames} filled from the spec
