"""The model input spec (``skelact.models.spec``) and checkpoint loading without the training engine
(``skelact.models.checkpoint``): one spec, saved as a plain dict, read back by everything that runs
a trained model; builders take the clip length as the uniform ``frames=``."""

from __future__ import annotations

import pickle
import re
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


# ------------------------------------------------------------ spec validation and its dict -------


@pytest.mark.parametrize("field", ["num_classes", "in_channels", "frames", "input_frames", "bodies"])
def test_a_spec_count_below_one_is_refused_naming_the_field_and_value(field):
    with pytest.raises(ConfigError, match=rf"^input spec: {field} must be >= 1, got 0$"):
        _spec(**{field: 0})


def test_the_checkpoint_dict_keeps_every_field_and_copies_the_normalize_specs():
    norm = ({"name": "PreNormalize3D", "axes": [1, 2]},)
    spec = _spec(bodies=1, frames=8, input_frames=11, normalize=norm, store_class_names=("a", "b"))
    saved = spec.to_dict()
    assert saved == {
        "num_classes": 5, "layout": "ntu25", "in_channels": 3, "class_names": list("abcde"),
        "frames": 8, "input_frames": 11, "dataset": "ntu60", "bodies": 1, "channels": ["x", "y", "z"],
        "normalize": [{"name": "PreNormalize3D", "axes": [1, 2]}], "store_class_names": ["a", "b"],
    }  # fmt: skip
    saved["normalize"][0]["axes"].append(3)  # editing the dict leaves the spec alone (deep copy)
    assert spec.normalize == ({"name": "PreNormalize3D", "axes": [1, 2]},)
    source = spec.to_dict()
    back = InputSpec.from_dict(source)
    assert back == spec and back.bodies == 1
    back.normalize[0]["axes"].append(4)  # and the spec read back does not share the dict's lists
    assert source["normalize"] == [{"name": "PreNormalize3D", "axes": [1, 2]}]
    assert _spec(normalize=None).to_dict()["normalize"] is None


def test_a_spec_dict_missing_keys_names_them_all():
    with pytest.raises(ConfigError, match=r"^input spec: missing num_classes, layout$"):
        InputSpec.from_dict({"in_channels": 3, "frames": 4})


def test_the_window_comes_from_the_dict_then_the_saved_config_then_input_frames():
    base = {"num_classes": 3, "layout": "ntu25", "in_channels": 3}
    saved = InputSpec.from_dict({**base, "frames": 6, "input_frames": 9}, frames=4)
    assert (saved.frames, saved.input_frames) == (6, 9)  # the dict's frames win over the config's
    old = InputSpec.from_dict({**base, "input_frames": 9}, frames=4)
    assert (old.frames, old.input_frames) == (4, 9)
    oldest = InputSpec.from_dict({**base, "input_frames": 9})  # no saved data.frames either
    assert (oldest.frames, oldest.input_frames) == (9, 9)
    no_input = InputSpec.from_dict({**base, "frames": 7})
    assert (no_input.frames, no_input.input_frames) == (7, 7)  # input_frames defaults to the window
    with pytest.raises(ConfigError, match=r"^input spec: no frames \(and no saved data.frames to take "
                                          r"them from\)$"):
        InputSpec.from_dict(base)


def test_a_spec_dict_fills_defaults_for_what_old_checkpoints_lack():
    spec = InputSpec.from_dict({"num_classes": "3", "layout": "kinect20", "in_channels": 2.0, "frames": 5,
                                "bodies": None, "class_names": None, "channels": None})
    assert spec == InputSpec(num_classes=3, layout="kinect20", in_channels=2, frames=5, input_frames=5)
    assert (spec.bodies, spec.class_names, spec.channels) == (2, (), ())
    assert spec.dataset is None and spec.normalize is None
    assert spec.store_class_names == ()
    assert InputSpec.from_dict({**spec.to_dict(), "bodies": 4}).bodies == 4


def test_a_disagreeing_model_frames_option_says_how_to_fix_it():
    with pytest.raises(ConfigError, match=r"the model is built for data.frames \(drop model.options.frames, "
                                          r"or set data.frames\)$"):
        build_for_spec("arrn_lstm", {**TINY_ARRN, "frames": 25}, _spec(frames=20, input_frames=20))
    # the same value, or an explicit None, is accepted and dropped
    assert build_for_spec("arrn_lstm", {**TINY_ARRN, "frames": None}, _spec()).hparams["frames"] == 20


def test_bad_model_options_become_config_errors_naming_the_model_key():
    spec = _spec()
    with pytest.raises(ConfigError, match=r"^model.options: _spec_with_frames: .*unexpected keyword.*bogus"):
        build_for_spec("_spec_with_frames", {"bogus": 1}, spec)
    with pytest.raises(ConfigError, match=r"^model.options: arrn_lstm: unknown option\(s\) bogus"):
        build_for_spec("arrn_lstm", {**TINY_ARRN, "bogus": 1}, spec)
    with pytest.raises(ConfigError, match=r"^model.name: unknown model 'no_such_model'; known: "):
        build_for_spec("no_such_model", None, spec)


# ------------------------------------------------------------------------ checkpoint files ---------


def _at(path) -> str:
    """``path`` as a regular expression matching it literally."""
    return re.escape(str(path))


def _saved_fixture(tmp_path, edit=None, name="edited.ckpt"):
    """The ARRN-LSTM fixture checkpoint, optionally edited (``edit(ckpt)``), saved under tmp_path."""
    ckpt = torch.load(FIXTURES / "arrn_lstm.ckpt", map_location="cpu", weights_only=True)
    if edit is not None:
        edit(ckpt)
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def test_a_missing_checkpoint_file_is_named():
    from skelact.models.checkpoint import read_checkpoint_file

    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*nowhere\.ckpt"):
        read_checkpoint_file(FIXTURES / "nowhere.ckpt")


def test_checkpoint_files_are_read_onto_the_cpu_as_plain_data(torch_load_kwargs):
    from skelact.models import checkpoint

    ckpt = checkpoint.read_checkpoint_file(FIXTURES / "arrn_lstm.ckpt")
    assert torch_load_kwargs == {"map_location": "cpu", "weights_only": True}
    assert ckpt["state_dict"]["model.fusion_alpha"].device.type == "cpu"


class _Pickled:
    """A class a checkpoint may not carry (it would run code when unpickled)."""


def test_a_checkpoint_that_carries_code_is_refused_without_running_it(tmp_path):
    from skelact.models.checkpoint import read_checkpoint_file

    path = tmp_path / "code.ckpt"
    torch.save({"state_dict": {}, "extra": _Pickled()}, path)
    with pytest.raises(ConfigError) as err:
        read_checkpoint_file(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: refused: the checkpoint holds more than tensors and plain data "
                          "(loading it would run code from its pickle; skelact reads checkpoints with "
                          "weights_only=True). ")
    with pytest.raises(pickle.UnpicklingError) as why:  # torch's reason: its first line ends the message
        torch.load(path, weights_only=True)
    first = str(why.value).splitlines()[0]
    assert msg.endswith(f"weights_only=True). {first}") and "\n" not in msg


def test_a_file_that_is_not_a_checkpoint_says_why(tmp_path):
    from skelact.models.checkpoint import read_checkpoint, read_checkpoint_file

    whole = (FIXTURES / "arrn_lstm.ckpt").read_bytes()
    path = tmp_path / "truncated.ckpt"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ConfigError, match="^" + _at(path) + r": not a readable checkpoint "
                                          r"\(RuntimeError: .*zip archive"):
        read_checkpoint_file(path)
    empty = tmp_path / "empty.ckpt"
    empty.touch()
    with pytest.raises(ConfigError, match=r"empty.ckpt: not a readable checkpoint \(EOFError: \)$"):
        read_checkpoint(empty)
    text = tmp_path / "config.ckpt"  # a text file under a checkpoint's name: not called "code"
    text.write_text('{"model": "arrn_lstm"}\n')
    head = repr(b'{"mo')  # the first four bytes, as the message shows them
    want = f"{text}: not a readable checkpoint (not a PyTorch file: it starts with {head})"
    with pytest.raises(ConfigError, match="^" + re.escape(want) + "$"):
        read_checkpoint_file(text)


@pytest.mark.parametrize("edit", [
    lambda c: c.pop("state_dict"),
    lambda c: c["hyper_parameters"].pop("config"),
    lambda c: c["hyper_parameters"].pop("spec"),
    lambda c: c.pop("hyper_parameters"),
    lambda c: c.update(hyper_parameters=["config", "spec"]),
])
def test_a_checkpoint_without_config_spec_or_weights_is_not_a_training_checkpoint(tmp_path, edit):
    from skelact.models.checkpoint import read_checkpoint

    path = _saved_fixture(tmp_path, edit)
    with pytest.raises(ConfigError, match="^" + _at(path) + r": not a skelact training checkpoint "
                                          r"\(no config/spec/state_dict\)$"):
        read_checkpoint(path)


def test_a_checkpoint_that_is_not_a_dict_is_not_a_training_checkpoint(tmp_path):
    from skelact.models.checkpoint import read_checkpoint

    path = tmp_path / "list.ckpt"
    torch.save([{"hyper_parameters": {"config": {}, "spec": {}}, "state_dict": {}}], path)
    with pytest.raises(ConfigError, match="not a skelact training checkpoint"):
        read_checkpoint(path)


@pytest.mark.parametrize("what", ["config", "spec"])
def test_a_checkpoint_whose_config_or_spec_is_not_a_mapping_is_refused(tmp_path, what):
    path = _saved_fixture(tmp_path, lambda c: c["hyper_parameters"].update({what: ["not", "a", "mapping"]}))
    with pytest.raises(ConfigError, match="^" + _at(path) + r": not a skelact training checkpoint "
                                          r"\(config/spec are not mappings\)$"):
        read_saved_checkpoint(path)


def test_a_saved_spec_without_frames_takes_the_saved_configs_data_frames(tmp_path):
    def edit(c):
        c["hyper_parameters"]["spec"]["input_frames"] = 12  # frames (8) only in the config

    saved = read_saved_checkpoint(_saved_fixture(tmp_path, edit))
    assert (saved.spec.frames, saved.spec.input_frames) == (8, 12)

    def no_data(c):
        edit(c)
        c["hyper_parameters"]["config"]["data"] = "florence3d"  # not a section: no saved frames

    saved = read_saved_checkpoint(_saved_fixture(tmp_path, no_data, "no_data.ckpt"))
    assert (saved.spec.frames, saved.spec.input_frames) == (12, 12)


def test_a_bad_saved_spec_is_reported_with_the_checkpoint_path(tmp_path):
    path = _saved_fixture(tmp_path, lambda c: c["hyper_parameters"]["spec"].pop("layout"))
    with pytest.raises(ConfigError, match="^" + _at(path) + r": input spec: missing layout$"):
        read_saved_checkpoint(path)


def test_a_saved_checkpoint_knows_its_path_model_and_weights(tmp_path):
    path = _saved_fixture(tmp_path)
    saved = read_saved_checkpoint(str(path))
    assert saved.path == path and isinstance(saved.path, Path)
    assert saved.model_name == "arrn_lstm" and saved.model_options["embed_dim"] == 8
    assert "fusion_alpha" in saved.state_dict and not any(k.startswith("model.") for k in saved.state_dict)


def test_a_saved_config_without_a_section_names_the_checkpoint_and_the_section(tmp_path):
    path = _saved_fixture(tmp_path, lambda c: c["hyper_parameters"]["config"].pop("data"))
    saved = read_saved_checkpoint(path)
    with pytest.raises(ConfigError, match="^" + _at(path) + r": the saved config has no data section$"):
        saved.test_transforms()
    path = _saved_fixture(tmp_path, lambda c: c["hyper_parameters"]["config"].pop("model"), "nomodel.ckpt")
    with pytest.raises(ConfigError, match="^" + _at(path) + r": the saved config has no model section$"):
        _ = read_saved_checkpoint(path).model_name


def test_a_checkpoint_whose_saved_options_no_longer_build_names_itself(tmp_path):
    path = _saved_fixture(
        tmp_path, lambda c: c["hyper_parameters"]["config"]["model"]["options"].update(bogus=1))
    with pytest.raises(ConfigError, match="^" + _at(path) + r" \(saved config\): model.options: "
                                          r"arrn_lstm: unknown option\(s\) bogus"):
        read_saved_checkpoint(path).build_model()
