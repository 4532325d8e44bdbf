"""Config schema, YAML inheritance, overrides and presets (no training here)."""

from __future__ import annotations

import pytest

from skelact.errors import ConfigError
from skelact.train.config import config_diff, config_to_dict, dump_config, load_config
from skelact.train.presets import list_presets, preset_source


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_names_dotted_key_file_and_suggestion(tmp_path):
    cfg = _write(tmp_path / "bad.yaml", "data:\n  batchsize: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    msg = str(e.value)
    assert "data.batchsize" in msg and str(cfg) in msg and "data.batch_size" in msg


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("train.epochs=abc", "train.epochs", "expected int"),
        ("train.epochs=true", "train.epochs", "expected int"),  # a bool is not an int
        ("data.validation.fraction=lots", "data.validation.fraction", "expected float"),
        ("train.optim.name=rmsprop", "train.optim.name", "'sgd'"),
        ("model.options=3", "model.options", "expected mapping"),
        ("data.fold=some", "data.fold", "'all'"),
        ("data.batch_size=0", "data.batch_size", ">= 1"),
        ("train.nope.deeper=1", "train.nope", "unknown key"),
    ],
)
def test_wrong_types_and_values_name_the_key(override, key, expected):
    with pytest.raises(ConfigError) as e:
        load_config("tiny/arrn_lstm", [override])
    assert key in str(e.value) and expected in str(e.value)


def test_overrides_are_typed():
    cfg = load_config(
        "tiny/arrn_lstm",
        [
            "train.epochs=5",
            "train.optim.lr=5e-4",
            "model.options.lstm_sizes=[4, 4]",
            "data.fold=all",
            "data.store=/x/y",
            "train.checkpoint.monitor=null",
            "data.fold=[1, 3]",
        ],
    )
    assert cfg.train.epochs == 5 and isinstance(cfg.train.epochs, int)
    assert cfg.train.optim.lr == pytest.approx(5e-4)  # YAML 1.1 reads 5e-4 as a string: accepted as float
    assert cfg.model.options["lstm_sizes"] == [4, 4]
    assert cfg.data.store == "/x/y" and cfg.train.checkpoint.monitor is None
    assert cfg.data.fold == [1, 3]
    with pytest.raises(ConfigError, match="expected dotted.key=value"):
        load_config("tiny/arrn_lstm", ["train.epochs"])


def test_base_inheritance_merges_maps_and_replaces_lists(tmp_path):
    _write(
        tmp_path / "base.yaml",
        "seed: 3\ndata:\n  frames: 10\n  train_transforms: [{name: PadTo, frames: 10}]\n"
        "train:\n  optim: {name: adam, lr: 0.01}\n",
    )
    child = _write(
        tmp_path / "child.yaml",
        "_base_: base.yaml\ndata:\n  train_transforms: []\ntrain:\n  optim: {lr: 0.5}\n",
    )
    cfg = load_config(child)
    assert cfg.name == "child" and cfg.seed == 3 and cfg.data.frames == 10
    assert cfg.data.train_transforms == []  # lists replace
    assert cfg.train.optim.name == "adam" and cfg.train.optim.lr == 0.5  # maps merge
    # a base can be a preset name; a cycle is an error naming the chain
    _write(tmp_path / "p.yaml", "_base_: tiny/arrn_lstm\ntrain: {epochs: 7}\n")
    assert load_config(tmp_path / "p.yaml").model.name == "arrn_lstm"
    _write(tmp_path / "a.yaml", "_base_: b.yaml\n")
    _write(tmp_path / "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(_write(tmp_path / "c.yaml", "_base_: missing.yaml\n"))


def test_unknown_preset_suggests_names():
    with pytest.raises(ConfigError, match="did you mean .*arrn_lstm/msr3d_as1"):
        load_config("arrn_lstm/msr3d_as")


def test_presets_cover_the_paper_tables():
    names = set(list_presets())
    expected = {
        "asgcn/ntu60_xsub",
        "asgcn/ntu60_xview",
        "asgcn/kinetics",
        "asgcn/ntu60_xsub_official",
        "asgcn/florence3d_loso",
        "asgcn/msr3d_as1",
        "asgcn/msr3d_as2",
        "asgcn/msr3d_as3",
        "arrn_lstm/ntu60_xsub",
        "arrn_lstm/ntu60_xview",
        "arrn_lstm/florence3d_loso",
        "arrn_lstm/msr3d_as1",
        "arrn_lstm/msr3d_as2",
        "arrn_lstm/msr3d_as3",
        "tiny/asgcn",
        "tiny/arrn_lstm",
        "tiny/arrn_lstm_two_stream",
        "demo/florence3d",
    }
    assert expected <= names
    # Table 1: S L1-4, A, AS L1-4; Table 2: C 1-5 and 5 priors; Table 3: L1-4 +/- head
    assert sum(n.startswith("asgcn/ntu60_xsub_t1_") for n in names) == 9
    assert sum(n.startswith("asgcn/ntu60_xsub_t2_") for n in names) == 10
    assert sum(n.startswith("asgcn/ntu60_xsub_t3_") for n in names) == 8
    # ARRN Tables 1-2: {xsub, xview} x {joint, line, two-stream} x {with, without attention}
    assert sum(n.startswith(("arrn_lstm/ntu60_xsub_", "arrn_lstm/ntu60_xview_")) for n in names) == 12


def test_generated_variant_values():
    t1 = load_config("asgcn/ntu60_xsub_t1_s_l2")
    assert t1.model.options["links"] == "s" and t1.model.options["order"] == 2
    assert t1.model.options["prediction_head"] is False
    assert t1.reference["value"] == 82.2 and t1.data.protocol == "ntu60-xsub"
    p0 = load_config("asgcn/ntu60_xsub_t2_p0_000")
    assert p0.model.options["ghost_prior"] == 0.0 and p0.reference["value"] == 81.1
    rrn = load_config("arrn_lstm/ntu60_xview_line_rrn")
    assert rrn.model.options == {"stream": "line", "attention": False, "preset": "ntu"}
    assert rrn.reference["value"] == 83.3
    ablation = load_config("arrn_lstm/msr3d_as2_joint_rrn")
    assert ablation.reference is None and ablation.model.options["attention"] is False
    data, where, _ = preset_source("asgcn/ntu60_xsub_t3_l4_pred")
    assert data["_base_"] == "asgcn/ntu60_xsub" and "_variants.yaml" in where


def test_paper_schedules_in_presets():
    a = load_config("asgcn/ntu60_xsub")
    assert (a.train.optim.name, a.train.optim.lr, a.train.optim.momentum, a.train.optim.weight_decay) == (
        "sgd",
        0.1,
        0.9,
        1e-4,
    )
    assert (a.train.schedule.name, a.train.schedule.step_size, a.train.schedule.gamma) == ("step", 20, 0.1)
    assert a.train.epochs == 100 and a.data.batch_size == 32
    assert a.train.aim.warmup_epochs > 0 and (a.train.aim.optim.name, a.train.aim.optim.lr) == ("adam", 5e-4)
    r = load_config("arrn_lstm/ntu60_xsub")
    assert (r.train.optim.name, r.train.optim.lr, r.train.schedule.name) == ("sgd", 0.01, "plateau")
    assert r.data.frames == 100 and r.data.validation.fraction > 0
    for name, frames in (("arrn_lstm/florence3d_loso", 25), ("arrn_lstm/msr3d_as3", 20)):
        c = load_config(name)
        assert c.train.optim.name == "adam" and c.data.frames == frames
    assert load_config("arrn_lstm/florence3d_loso").data.fold == "all"
    # small datasets: AS-GCN trains with ARRN-LSTM's optimiser, schedule and budget (identical treatment)
    for dataset in ("msr3d_as1", "florence3d_loso"):
        g, r = load_config(f"asgcn/{dataset}"), load_config(f"arrn_lstm/{dataset}")
        assert g.train.optim == r.train.optim and g.train.schedule == r.train.schedule
        assert g.train.averaging == r.train.averaging and g.train.averaging.name == "ema"
        assert g.train.epochs == r.train.epochs == 150 and g.data.batch_size == r.data.batch_size


def test_dump_roundtrip_and_diff(tmp_path):
    cfg = load_config("tiny/asgcn", ["train.epochs=3"])
    path = tmp_path / "config.yaml"
    dump_config(cfg, path)
    again = load_config(path)
    assert config_to_dict(again) | {"name": cfg.name} == config_to_dict(cfg)
    other = load_config("tiny/asgcn", ["train.epochs=4", "data.num_workers=3"])
    assert config_diff(cfg, other, ignore=("data.num_workers",)) == ["train.epochs"]
