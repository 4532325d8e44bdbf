"""``skelact reproduce``: the selection rules (synthetic scores), the data handling it adds, and the
``--quick`` path of the same command on the real MSRAction3D data (report + JSON schema, no test
subject in any selection input, resuming from the work directory)."""

from __future__ import annotations

import json
import pathlib
import re
import shutil

import numpy as np
import pytest

from skelact.data.transforms import DropEmptyFrames, build_transforms
from skelact.errors import ConfigError
from skelact.evaluation import assert_disjoint
from skelact.train.config import load_config


def test_assert_disjoint_catches_test_samples_and_test_subjects():
    subjects = np.array([1, 1, 2, 2, 3, 3])
    assert_disjoint([np.array([0, 1]), np.array([2])], np.array([4, 5]), subjects)
    with pytest.raises(AssertionError, match="test sample"):
        assert_disjoint([np.array([0, 4])], np.array([4, 5]))
    with pytest.raises(AssertionError, match="test subject"):
        assert_disjoint([np.array([0, 2])], np.array([3]), subjects)


# ---------------------------------------------------------------------------------------------
# data handling added by the reproduction
# ---------------------------------------------------------------------------------------------
def test_drop_empty_frames_keeps_order_and_leaves_all_empty_samples_alone():
    x = np.zeros((3, 5, 4, 1), dtype=np.float32)
    x[:, 1] = 1.0
    x[:, 3] = 2.0
    out = DropEmptyFrames()(x)
    assert out.shape == (3, 2, 4, 1)
    np.testing.assert_array_equal(out[0, :, 0, 0], [1.0, 2.0])
    empty = np.zeros((3, 6, 4, 1), dtype=np.float32)
    assert DropEmptyFrames()(empty).shape == empty.shape
    assert build_transforms([{"name": "DropEmptyFrames"}]).transforms[0].__class__ is DropEmptyFrames


@pytest.fixture(scope="module")
def msr_store(shared_data, tmp_path_factory):
    from skelact.data.prepare import prepare

    out = tmp_path_factory.mktemp("repro_store") / "msr3d"
    prepare("msr3d", shared_data / "msr_action3d", out, workers=1, progress=False)
    return out


def test_configs_add_the_same_augmentation_before_the_length_transform(msr_store, tmp_path):
    from skelact.repro.targets import get_target, trainings_for
    from skelact.repro.unit_config import Context, build_config

    target = get_target("msr3d")
    ctx = Context(target, msr_store, tmp_path)
    names = {}
    for training in trainings_for(target, ["arrn_lstm", "asgcn"]):
        cfg, preset, overrides = build_config(ctx, training, target.units[1], seed=7)
        assert preset == training.preset_for(target.units[1]) and "as2" in preset
        assert cfg.seed == 7 and cfg.data.validation.fraction == 0.0 and cfg.fusion.fit is False
        train = [s["name"] for s in cfg.data.train_transforms]
        test = [s["name"] for s in cfg.data.test_transforms]
        assert train[0] == test[0] == "DropEmptyFrames"
        assert train[-4:-1] == ["RandomRotate", "RandomScale", "TimeWarp"]  # then the length transform
        assert not {"RandomRotate", "RandomScale", "TimeWarp"} & set(test)
        names[training.key] = train
        vertical = next(s["vertical"] for s in cfg.data.train_transforms if s["name"] == "RandomRotate")
        assert vertical == ("z" if "PreNormalize3D" in train else "y")
    assert names["arrn"] == names["rrn"]
    strong = Context(target, msr_store, tmp_path, augment="strong")
    cfg, _, _ = build_config(strong, trainings_for(target, ["arrn_lstm"])[0], target.units[0], seed=0)
    spec = {s["name"]: s for s in cfg.data.train_transforms}
    rotate, scale = spec["RandomRotate"], spec["RandomScale"]
    assert (rotate["max_angle"], rotate["max_tilt"]) == (30.0, 10.0)  # twice the standard angles
    assert (scale["low"], scale["high"], spec["TimeWarp"]["strength"]) == (0.8, 1.2, 0.3)
    ctx_none = Context(target, msr_store, tmp_path, augment="none")
    cfg, _, _ = build_config(ctx_none, trainings_for(target, ["arrn_lstm"])[0], target.units[0], seed=0)
    assert [s["name"] for s in cfg.data.train_transforms] == [
        "DropEmptyFrames",
        "CenterOnHip",
        "RandomSample",
    ]


# ---------------------------------------------------------------------------------------------
# the --quick path of the command
# ---------------------------------------------------------------------------------------------
REQUIRED = (
    "dataset",
    "model",
    "protocol",
    "variant",
    "folds",
    "mean",
    "std",
    "seeds",
    "config",
    "command",
    "hardware",
    "wall_time_s",
    "paper",
    "per_seed",
    "chosen",
)


def test_reproduce_quick_writes_report_and_json(shared_data, msr_store, tmp_path, capsys, monkeypatch):
    from skelact import __version__
    from skelact.cli import main
    from skelact.data.store import SkeletonStore
    from skelact.repro.provenance import code_version

    out, work = tmp_path / "reports", tmp_path / "work"
    argv = [
        "reproduce",
        "msr3d",
        "--quick",
        "--store",
        str(msr_store),
        "--out",
        str(out),
        "--work-dir",
        str(work),
        "--seeds",
        "3",
        "4",
    ]
    assert main(argv) == 0
    entries = json.loads((out / "reproduction.json").read_text())
    rows = {e["row"] for e in entries}
    assert rows == {
        "arrn_joint",
        "arrn_line",
        "arrn_two_stream",
        "rrn_joint",
        "rrn_line",
        "rrn_two_stream",
        "asgcn",
    }
    for e in entries:
        assert all(k in e for k in REQUIRED), [k for k in REQUIRED if k not in e]
        assert e["dataset"] == "msr3d" and e["quick"] is True and e["complete"] is True
        assert e["seeds"] == [3]  # --quick: the first seed, the first subset
        assert list(e["folds"]) == ["AS1"] and 0.0 <= e["mean"] <= 100.0
        assert e["mean"] == pytest.approx(e["folds"]["AS1"], abs=0.01)
        assert e["command"].startswith("skelact reproduce msr3d") and "--quick" in e["command"]
        assert "cores" in e["hardware"] and e["hardware_details"]["cpu_count"] >= 1
        assert e["architecture"] in ("arrn_lstm", "asgcn") and e["model"] == e["name"]
        assert e["config"]["presets"]["AS1"].startswith(("arrn_lstm/msr3d_as1", "asgcn/msr3d_as1"))
        assert "seed=3" not in e["config"]["overrides"]
        assert e["chosen"]["AS1"]["3"]["epoch"] == 2  # --quick: 2 epochs, the last one read
        (group,) = e["trained_with"]  # one unit, trained here, by this checkout
        assert group["recorded"] and group["units"] == 1 and group["code"] == code_version()
    main_row = next(e for e in entries if e["row"] == "arrn_two_stream")
    assert main_row["model"] == "Two-stream ARRN-LSTM" and main_row["variant"] == "Real3D, 20 joints"
    assert main_row["paper"]["value"] == 95.0 and main_row["paper"]["comparable"] is True
    assert main_row["paper"]["difference"] == pytest.approx(main_row["mean"] - 95.0, abs=0.01)
    preset_alpha = load_config("arrn_lstm/msr3d_as1").fusion.alpha  # chosen with the recipe
    assert main_row["chosen"]["AS1"]["3"]["alpha"] == preset_alpha
    assert next(e for e in entries if e["row"] == "rrn_joint")["paper"] is None
    # the attention-mask ablation: ARRN minus RRN of the same stream, unit and seed
    rrn_row = next(e for e in entries if e["row"] == "rrn_two_stream")
    ab = main_row["vs_without_attention"]
    assert ab["row"] == "rrn_two_stream" and ab["pairs"] == 1 and ab["standard_error"] is None
    assert ab["mean_difference"] == pytest.approx(main_row["mean"] - rrn_row["mean"], abs=0.02)
    assert ab["better"] + ab["equal"] + ab["worse"] == 1
    assert ab["paper_difference"] == {"ntu60-xsub": 4.2, "ntu60-xview": 5.4}  # Table 2: 81.8-77.6, 89.6-84.2
    assert "vs_without_attention" not in rrn_row
    # AS-GCN's prediction head: future-pose error per step against the two baselines, same targets
    fc = next(e for e in entries if e["row"] == "asgcn")["forecast"]
    assert fc["steps"] >= 1 and fc["units"] == 1 and fc["runs"] == 1
    assert set(fc["mpjpe"]) == {"model", "zero_velocity", "constant_velocity"}
    assert fc["body_frames"][0] > 0 and all(v > 0 for v in fc["mpjpe"]["zero_velocity"])
    assert fc["mean"]["model"] > 0 and list(fc["per_unit"]) == ["AS1"]
    assert all(e["forecast"] is None for e in entries if e["architecture"] == "arrn_lstm")

    md = (out / "reproduction.md").read_text()
    assert f"Units trained with: skelact {__version__}" in md
    assert "Quick run" in md and "| Two-stream ARRN-LSTM |" in md and "95.0" in md
    assert "a13_s09_e02" in md  # the all-zero sequence is counted
    assert "Future-pose forecast (AS-GCN prediction head)" in md and "| constant velocity |" in md
    assert "### The attention mask (ablation)" in md
    assert "| Two-stream ARRN-LSTM vs Two-stream RRN-LSTM |" in md
    assert (out / "figures" / "msr3d_asgcn_forecast_error.png").is_file()
    assert (out / "figures" / "msr3d_asgcn_forecast_example.png").is_file()
    for line in md.splitlines():
        if line.startswith("!["):
            assert (out / line.split("](")[1].rstrip(")")).is_file()
    assert list((out / "figures").glob("*.png"))

    # every model run trains on training subjects only and tests test subjects only
    store = SkeletonStore(msr_store)
    subjects = np.asarray(store.index["subject"])
    units = sorted(work.glob("msr3d/*/as1/seed_3/unit.json"))
    assert len(units) == 3
    for path in units:
        unit = json.loads(path.read_text())
        test = np.asarray(unit["test_positions"])
        assert test.size and set(subjects[test].tolist()) <= {2, 4, 6, 8, 10}
        assert unit["split"]["train_subjects"] == [1, 3, 5, 7, 9] and unit["selection"] == "last-epoch"

    # the same command again continues from the work directory: nothing is retrained
    capsys.readouterr()
    assert main(argv) == 0
    assert capsys.readouterr().err.count("done earlier") == 3

    # --report-only trains nothing: a seed not run yet is left out, and alone it is an error
    from skelact.repro import reproduce

    assert main([*argv[:-2], "3", "5", "--report-only"]) == 0  # --quick keeps the first seed
    err = capsys.readouterr().err
    assert err.count("done earlier") == 3 and "training on all" not in err
    assert "--report-only" not in json.loads((out / "reproduction.json").read_text())[0]["command"]
    with pytest.raises(ConfigError, match="no finished unit result"):
        reproduce(["msr3d"], store=msr_store, quick=True, seeds=[9], work_dir=work, out=tmp_path / "r2",
                  report_only=True, log=lambda s: None)

    # the unit records beside the report (OUT/units, committed with it) carry the run to a fresh
    # machine: with the work directory gone, --report-only rebuilds the same numbers from them
    records = out / "units"
    found = sorted(records.glob("msr3d/*/as1/seed_3/unit.json"))
    assert [p.parts[-4] for p in found] == ["arrn", "asgcn", "rrn"]
    for path in found:  # the same result as the work directory's
        assert json.loads(path.read_text()) == json.loads((work / path.relative_to(records)).read_text())
    assert (records / "msr3d/asgcn/as1/seed_3/forecast_example.npz").is_file()
    numbers = ("row", "folds", "mean", "per_seed", "chosen", "forecast", "wall_time_s", "trained_with")

    def report_numbers():
        return [{k: e[k] for k in numbers} for e in json.loads((out / "reproduction.json").read_text())]

    before = report_numbers()
    shutil.rmtree(work)
    shutil.rmtree(out / "figures")
    assert main([*argv, "--report-only"]) == 0
    err = capsys.readouterr().err
    assert err.count(f"done earlier ({records}") == 3 and "training on all" not in err
    assert report_numbers() == before
    assert "- Unit records: `units/`" in (out / "reproduction.md").read_text()
    assert (out / "figures" / "msr3d_asgcn_forecast_example.png").is_file()  # drawn from the record
    # a record whose fingerprint does not match the settings is not used (nor is it removed)
    record = records / "msr3d/arrn/as1/seed_3/unit.json"
    stale = {**json.loads(record.read_text()), "fingerprint": "0" * 16}
    record.write_text(json.dumps(stale))
    assert main([*argv, "--report-only"]) == 0
    assert "arrn AS1 seed 3: not run yet" in capsys.readouterr().err
    assert {e["row"] for e in json.loads((out / "reproduction.json").read_text())} == {
        "rrn_joint", "rrn_line", "rrn_two_stream", "asgcn"
    }  # fmt: skip
    assert json.loads(record.read_text()) == stale
    # --results none: the work directory only (now empty)
    assert main([*argv, "--report-only", "--results", "none"]) != 0
    err = capsys.readouterr().err
    assert f"no finished unit result in {work} for" in err
    assert not any(line.split() == ["mean"] for line in err.splitlines())  # no empty running table

    # an edited preset file (same preset name, same overrides) is not served from the cache
    import skelact.train.config as config_module

    real_load = config_module.load_config
    monkeypatch.setattr(
        config_module, "load_config", lambda src, ov=(): real_load(src, [*ov, "train.optim.lr=0.0123"])
    )
    with pytest.raises(ConfigError, match="no finished unit result"):
        reproduce(["msr3d"], store=msr_store, quick=True, seeds=[3], work_dir=work, out=tmp_path / "r3",
                  report_only=True, log=lambda s: None)


def test_results_are_keyed_by_the_data_not_by_where_the_store_lies(msr_store, tmp_path, monkeypatch):
    from skelact.data.store import SkeletonStore
    from skelact.repro import cache, reproduce

    kw = dict(quick=True, seeds=[0], models=["rrn"], log=lambda s: None)
    copy = tmp_path / "elsewhere" / "msr3d"
    shutil.copytree(msr_store, copy)
    sums = SkeletonStore(msr_store).manifest["checksum"]
    assert sums == SkeletonStore(copy).manifest["checksum"] and sums["data.bin"]
    records = tmp_path / "units"
    first = reproduce(["msr3d"], store=msr_store, out=tmp_path / "r0", work_dir=tmp_path / "w0",
                      results=records, **kw)  # fmt: skip
    record = records / "msr3d/rrn/as1/seed_0/unit.json"
    saved = json.loads(record.read_text())
    # a copy of the store under another path and another work directory finds it: same numbers
    again = reproduce(["msr3d"], store=copy, out=tmp_path / "r1", work_dir=tmp_path / "w1", results=records,
                      report_only=True, **kw)  # fmt: skip
    assert [e["per_seed"] for e in again["entries"]] == [e["per_seed"] for e in first["entries"]]
    assert json.loads(record.read_text()) == saved
    # other data under the same path is other data: not found
    monkeypatch.setattr(cache, "store_identity", lambda ctx: "store:0000000000000000")
    with pytest.raises(ConfigError, match="no finished unit result"):
        reproduce(["msr3d"], store=msr_store, out=tmp_path / "r2", work_dir=tmp_path / "w2", results=records,
                  report_only=True, **kw)  # fmt: skip


def test_report_only_prints_each_targets_table_once_at_the_end(msr_store, tmp_path, monkeypatch):
    """Rebuilding a report from many records logs a line per record and the accuracy table once per
    target, not once per record (a run that trains prints it after every unit and seed)."""
    from skelact.repro import reproduce, runner

    def records_found(runs, threads):  # what run_unit gives for records done earlier
        for i, (_, unit, seed, _) in enumerate(runs):
            yield i, _record(int(unit.key[-1]), seed, 10 + seed, "AMD EPYC"), None

    monkeypatch.setattr(runner, "_run_here", records_found)
    lines: list[str] = []
    reproduce(["msr3d"], store=msr_store, seeds=[0, 1], models=["arrn"], out=tmp_path / "r",
              work_dir=tmp_path / "w", results=None, report_only=True, log=lines.append)  # fmt: skip
    tables = [s for s in lines if s.lstrip().startswith("AS1")]
    assert len(tables) == 1, lines  # 6 records, 1 table
    assert sum(" seed " in s and "arrn_joint" in s for s in lines) == 6  # a line per record
    assert "Two-stream ARRN-LSTM" in tables[0] and "AS3" in tables[0].splitlines()[0]
    assert lines.index(tables[0]) > max(i for i, s in enumerate(lines) if " seed " in s)  # after them


def test_a_run_that_trains_prints_the_table_after_units_trained_now_only(msr_store, tmp_path, monkeypatch):
    """Resuming a long run: units found done earlier are logged a line each, without a table; the
    table follows each unit and seed trained in this run; a rerun with everything done earlier
    prints each target's table once, at the end."""
    import datetime

    from skelact.repro import reproduce, runner

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def half_done(runs, threads):  # seed 0 done earlier, seed 1 trained now
        for i, (_, unit, seed, _) in enumerate(runs):
            record = _record(int(unit.key[-1]), seed, 10 + seed, "AMD EPYC")
            if seed == 1:
                record["trained_with"] = {**record["trained_with"], "finished": now}
            yield i, record, None

    kw = dict(store=msr_store, models=["arrn"], out=tmp_path / "r", work_dir=tmp_path / "w", results=None)
    monkeypatch.setattr(runner, "_run_here", half_done)
    lines: list[str] = []
    reproduce(["msr3d"], seeds=[0, 1], log=lines.append, **kw)
    tables = [i for i, s in enumerate(lines) if s.lstrip().startswith("AS1")]
    seed_lines = [i for i, s in enumerate(lines) if " seed " in s and "arrn_joint" in s]
    assert len(seed_lines) == 6 and len(tables) == 3, lines  # AS1-AS3 x seeds 0, 1: three trained now
    trained_now = [i for i in seed_lines if " seed 1:" in lines[i]]
    assert [t - 1 for t in tables] == trained_now  # each table right after a seed-1 unit

    def all_done(runs, threads):
        for i, (_, unit, seed, _) in enumerate(runs):
            yield i, _record(int(unit.key[-1]), seed, 10 + seed, "AMD EPYC"), None

    monkeypatch.setattr(runner, "_run_here", all_done)
    lines.clear()
    reproduce(["msr3d"], seeds=[0, 1], log=lines.append, **kw)
    tables = [i for i, s in enumerate(lines) if s.lstrip().startswith("AS1")]
    assert len(tables) == 1 and tables[0] > max(i for i, s in enumerate(lines) if " seed " in s)


def _record(unit: int, seed: int, correct: int, device: str) -> dict:
    """A unit record of the two-stream ARRN run on MSRAction3D subset ``unit`` with ``correct`` of 19
    test sequences right in every row (what the report reads of a unit.json)."""
    cm = np.zeros((8, 8), dtype=int)
    cm[0, 0], cm[0, 1] = correct, 19 - correct
    row = {"top1": 100.0 * correct / 19, "top5": 100.0, "num_samples": 19, "confusion_matrix": cm.tolist(),
           "epoch": 150, "alpha": None}  # fmt: skip
    return {
        "target": "msr3d", "dataset": "msr3d", "training": "arrn", "model": "arrn_lstm", "unit": f"as{unit}",
        "unit_name": f"AS{unit}", "seed": seed, "selection": "last-epoch", "max_epochs": 150,
        "averaging": "ema", "preset": f"arrn_lstm/msr3d_as{unit}_two_stream_arrn",
        "overrides": ["data.num_workers=0", f"seed={seed}"], "class_names": [f"c{k}" for k in range(8)],
        "num_parameters": 1000, "forecast": None, "wall_time_s": 3600.0,
        "trained_with": {"skelact": "0.1.0", "code": "abc", "torch": "2.13.0+cpu", "device": device,
                         "threads": 1, "finished": "2026-12-03T00:00:00+00:00"},
        "rows": {"arrn_joint": row, "arrn_line": row, "arrn_two_stream": {**row, "alpha": 0.75}},
    }  # fmt: skip


def test_report_rounds_each_unit_once_names_devices_and_averages_to_the_mean(tmp_path):
    """The report built from unit records: a per-seed accuracy reads its raw top-1 rounded once
    (15/19 = 78.947 reads 78.9, not 79.0 by way of 78.95) in the JSON and the Markdown; the per-unit
    row averages the complete seeds only, so it averages to the Mean (an unfinished seed shows only
    in the per-seed table); the total names the devices the units were trained on."""
    from skelact.repro.report import write_report

    records = [_record(u, s, 15 if (u, s) == (1, 0) else 10 + u + s, "AMD EPYC" if s else "Intel Xeon")
               for u in (1, 2, 3) for s in (0, 1)] + [_record(1, 2, 19, "AMD EPYC")]  # fmt: skip
    _, md_path, entries = write_report(
        {"msr3d": records}, tmp_path, seeds=[0, 1, 2], models=["arrn"], facts={}, command="skelact reproduce",
        quick=False, work_dir=tmp_path / "work", log=lambda s: None,
    )  # fmt: skip
    markdown = md_path.read_text()
    entry = next(e for e in entries if e["row"] == "arrn_joint")
    assert entry["per_seed"]["0"]["folds"]["AS1"] == pytest.approx(78.947, abs=1e-3)
    section = markdown.split("\n## msr3d")[1]
    (line,) = [ln for ln in section.splitlines() if ln.startswith("| Joint-ARRN-LSTM | 0 |")]
    assert line.startswith("| Joint-ARRN-LSTM | 0 | 78.9 |"), line
    assert entry["seeds"] == [0, 1] and not entry["complete"]  # seed 2 has AS1 only
    assert np.mean(list(entry["folds"].values())) == pytest.approx(entry["mean"], abs=1e-3)
    assert entry["folds"]["AS1"] == pytest.approx(np.mean([100 * 15 / 19, 100 * 12 / 19]), abs=1e-3)
    assert "unfinished seed(s) 2 are in the per-seed table only" in markdown
    assert "| Joint-ARRN-LSTM | 2 | 100.0 | – | – | 100.0 |" in markdown
    (total,) = [ln for ln in markdown.splitlines() if ln.startswith("Total: ")]
    assert "on AMD EPYC (4 units" in total and "on Intel Xeon (3 units" in total, total
    assert "1 seed(s)" not in markdown and "\n\n\n" not in markdown  # 3 seeds asked for
    # one sitting: 7 trainings of an hour are 3.5 h with --jobs 2, past 2.5 h; 3 cores would do
    sitting = markdown.split("### One sitting")[1]
    assert "| msr3d | `arrn` | 7 | 60.0 min |" in sitting, sitting
    assert "needs at least 3.5 h of wall time: 1.4 sittings, so **one sitting is not reached**" in sitting
    assert "or at least 3 cores as fast as these" in sitting


def test_signed_differences_never_read_negative_zero():
    """A difference that rounds to zero reads +0.0 in every table (83.02 against 83.0189 is no loss);
    the committed reports hold no -0.0."""
    from skelact.repro.report import signed_points

    values = (3.0, -1.04, -0.0011, -0.04, 0.0, -0.06, 0.06)
    assert [signed_points(x) for x in values] == ["+3.0", "-1.0", "+0.0", "+0.0", "+0.0", "-0.1", "+0.1"]
    reports = pathlib.Path(__file__).resolve().parents[1] / "reports"
    for path in sorted(reports.rglob("*.md")):
        assert not re.search(r"[-−]0\.0(?!\d)", path.read_text()), path


def _unit_results(root):
    """The results of every unit.json under ``root`` without what says when and where it ran."""
    out = {}
    for path in sorted(root.glob("msr3d/*/as1/seed_*/unit.json")):
        unit = json.loads(path.read_text())
        for key in ("trained_with", "wall_time_s", "final"):
            unit.pop(key)
        out[path.parts[-4]] = unit
    return out


def test_reproduce_jobs_train_in_worker_processes_to_the_same_results(msr_store, tmp_path):
    import torch

    from skelact.repro import reproduce

    kw = dict(store=msr_store, quick=True, seeds=[0], models=["rrn", "asgcn"], threads=1, log=lambda s: None)
    threads = torch.get_num_threads()
    reproduce(["msr3d"], out=tmp_path / "serial", work_dir=tmp_path / "w_serial", **kw)
    assert torch.get_num_threads() == threads  # one thread for the runs only, as in each worker below
    serial = _unit_results(tmp_path / "w_serial")
    assert sorted(serial) == ["asgcn", "rrn"]

    # a run that fails in its worker is reported; the other finishes and is in the (partial) report
    work, out = tmp_path / "w_jobs", tmp_path / "jobs"
    blocker = work / "msr3d" / "rrn" / "as1" / "seed_0"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the unit's folder goes")
    with pytest.raises(RuntimeError, match=r"1 of 2 model run\(s\) failed:\n.*rrn AS1 seed 0"):
        reproduce(["msr3d"], out=out, work_dir=work, jobs=2, **kw)
    assert {e["row"] for e in json.loads((out / "reproduction.json").read_text())} == {"asgcn"}
    blocker.unlink()
    result = reproduce(["msr3d"], out=out, work_dir=work, jobs=2, **kw)
    assert len(result["entries"]) == 4
    # every run is seeded by itself: the same results as one after the other in one process
    assert _unit_results(work) == serial
    assert _unit_results(out / "units") == serial


def test_reproduce_on_a_local_ray_cluster_writes_the_same_unit_records(msr_store, tmp_path):
    """``--ray``: the model runs as tasks of a Ray instance with two worker CPUs give the same unit
    results and records as one after the other in this process."""
    import ray

    from skelact.repro import reproduce

    kw = dict(store=msr_store, quick=True, seeds=[0], models=["rrn", "asgcn"], threads=1, log=lambda s: None)
    reproduce(["msr3d"], out=tmp_path / "serial", work_dir=tmp_path / "w_serial", **kw)
    serial = _unit_results(tmp_path / "w_serial")
    logs: list[str] = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = reproduce(["msr3d"], out=tmp_path / "ray", work_dir=tmp_path / "w_ray", ray="local",
                           **{**kw, "log": logs.append})  # fmt: skip
        assert ray.is_initialized()  # a cluster the caller started is left running
    finally:
        ray.shutdown()
    assert any("2 model run(s) as Ray tasks" in line and "2 CPU(s) in the cluster" in line for line in logs)
    assert len(result["entries"]) == 4
    assert _unit_results(tmp_path / "w_ray") == serial
    assert _unit_results(tmp_path / "ray" / "units") == serial


def test_reproduce_refuses_bad_arguments(tmp_path, msr_store):
    from skelact.repro import reproduce

    with pytest.raises(ConfigError, match="unknown reproduce target"):
        reproduce(["msr4d"], work_dir=tmp_path)
    with pytest.raises(ConfigError, match="TARGET=DIR"):
        reproduce(["msr3d", "florence3d"], src=str(tmp_path), work_dir=tmp_path)
    with pytest.raises(ConfigError, match="not a prepared store"):
        reproduce(["msr3d"], store=tmp_path, work_dir=tmp_path)
    with pytest.raises(ConfigError, match="needs florence3d"):
        reproduce(["florence3d"], store=msr_store, work_dir=tmp_path)
    with pytest.raises(ConfigError, match="none of the models"):
        reproduce(["kinetics"], models=["arrn_lstm"], work_dir=tmp_path)
    with pytest.raises(ConfigError, match="jobs must be >= 1"):
        reproduce(["msr3d"], store=msr_store, jobs=0, work_dir=tmp_path)


def test_reproduce_quick_on_ntu_samples_uses_the_presets_validation_path(shared_data, tmp_path):
    """ntu60-xsub on the 8 shared NTU samples: the table presets through the training engine, the
    streams of the two-stream checkpoint scored once more (a few steps only)."""
    from skelact.repro import reproduce

    result = reproduce(
        ["ntu60-xsub"], src=shared_data / "ntu_rgbd", out=tmp_path / "reports", work_dir=tmp_path / "work",
        quick=True, epochs=1, log=lambda s: None,
    )  # fmt: skip
    entries = {e["row"]: e for e in result["entries"]}
    assert set(entries) == {"arrn_joint", "arrn_line", "arrn_two_stream", "rrn_joint", "rrn_line",
                            "rrn_two_stream", "asgcn"}  # fmt: skip
    assert entries["arrn_two_stream"]["paper"]["value"] == 81.8 and entries["asgcn"]["paper"]["value"] == 86.8
    assert entries["arrn_joint"]["paper"]["value"] == 79.6
    unit = result["results"]["ntu60-xsub"][0]
    assert unit["selection"] == "validation" and unit["split"]["test"] == 4
    assert (tmp_path / "work" / "ntu60-xsub" / "arrn" / "xsub" / "seed_0" / "run" / "metrics.json").is_file()
    # the fused row read back from the streams equals the engine's own test accuracy
    metrics = json.loads((tmp_path / "work/ntu60-xsub/arrn/xsub/seed_0/run/metrics.json").read_text())
    assert unit["rows"]["arrn_two_stream"]["top1"] == pytest.approx(metrics["test"]["top1"])
    assert "validation split" in (tmp_path / "reports" / "reproduction.md").read_text()


def test_training_keys_select_a_subset_of_the_ablation_runs():
    from skelact.errors import ConfigError
    from skelact.repro.targets import get_target, trainings_for

    msr = get_target("msr3d")
    assert [t.key for t in trainings_for(msr, ["arrn_lstm"])] == ["arrn", "rrn"]
    assert [t.key for t in trainings_for(msr, ["arrn"])] == ["arrn"]
    assert [t.key for t in trainings_for(msr, ["asgcn", "rrn"])] == ["rrn", "asgcn"]  # table order
    with pytest.raises(ConfigError, match="unknown model"):
        trainings_for(msr, ["lstm"])


def test_units_option_rejects_unknown_units_before_any_work(tmp_path):
    from skelact.errors import ConfigError
    from skelact.repro.runner import reproduce

    with pytest.raises(ConfigError, match="unknown unit.*as9.*known: as1, as2, as3"):
        reproduce(["msr3d"], units=["as9"], work_dir=tmp_path / "work", out=tmp_path / "out")
    assert not (tmp_path / "work").exists()


def test_report_flags_a_run_smaller_than_the_full_protocol():
    from skelact.repro.report import scope_notes

    full = {"msr3d": [{"training": k} for k in ("arrn", "rrn", "asgcn")]}
    assert scope_notes(full, [0, 1, 2], quick=False) == []
    assert scope_notes({"msr3d": [{"training": "arrn"}]}, [0], quick=True) == []  # --quick says so itself
    (seeds, rows) = scope_notes({"msr3d": [{"training": "arrn"}]}, [0], quick=False)
    assert "1 seed(s)" in seeds and "Two-stream RRN-LSTM, AS-GCN" in rows and "Two-stream ARRN" not in rows
    # a target without any finished unit is named as such (no row list)
    (note,) = scope_notes({**full, "florence3d": []}, [0, 1, 2], quick=False)
    assert note == "florence3d: no unit has finished yet, so it has no section below"


def test_options_of_the_removed_epoch_picking_protocol_fail_with_the_reason(capsys):
    from skelact.cli import main

    for option in (["--cv-folds", "2"], ["--smooth", "3"], ["--protocol", "cv-epochs"]):
        assert main(["reproduce", "msr3d", "--quick", *option]) == 2
        err = capsys.readouterr().err
        assert f"{option[0]}: removed with the epoch-picking protocol" in err, err


def _write_florence_world(path, rng) -> None:
    """A small 15-joint world-coordinates file in the dataset's format: 10 actors x 9 actions, one
    8-frame video each (random poses: only the pipeline is under test)."""
    lines, video = [], 0
    for actor in range(1, 11):
        for category in range(1, 10):
            video += 1
            for _ in range(8):
                coords = " ".join(f"{v:.3f}" for v in rng.normal(0.0, 300.0, 45))
                lines.append(f"{video} {actor} {category} {coords}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("variant", ["features", "world"])
def test_reproduce_quick_florence_runs_either_file(shared_data, tmp_path, variant):
    """The same command on the shared 8-joint features file (a labelled variant, not comparable with
    the paper) and on a 15-joint world-coordinates file (the paper's input): leave-one-subject-out
    fold 1 tests subject 1 only."""
    from skelact.repro import reproduce

    if variant == "features":
        src = shared_data / "florence3d"
    else:
        src = tmp_path / "florence_world"
        src.mkdir()
        _write_florence_world(src / "Florence_dataset_WorldCoordinates.txt", np.random.default_rng(0))
    result = reproduce(
        ["florence3d"], src=src, out=tmp_path / "reports", work_dir=tmp_path / "work", quick=True,
        models=["arrn"], log=lambda s: None,
    )  # fmt: skip
    entries = {e["row"]: e for e in result["entries"]}
    assert set(entries) == {"arrn_joint", "arrn_line", "arrn_two_stream"}
    main_row = entries["arrn_two_stream"]
    assert list(main_row["folds"]) == ["fold 1"] and main_row["paper"]["value"] == 98.52
    assert main_row["comparable"] is (variant == "world")
    assert main_row["variant"].startswith("features" if variant == "features" else "world")
    unit = json.loads(next((tmp_path / "work").glob("florence3d/arrn/fold01/seed_0/unit.json")).read_text())
    from skelact.data.store import SkeletonStore

    store = SkeletonStore(next((tmp_path / "work" / "stores").glob(f"florence3d-{variant}")))
    subjects = np.asarray(store.index["subject"])
    assert set(subjects[unit["test_positions"]].tolist()) == {1}
    assert 1 not in unit["split"]["train_subjects"]
    md = (tmp_path / "reports" / "reproduction.md").read_text()
    assert ("not the 15-joint world coordinates of the paper" in md) is (variant == "features")
    no_op = "hip centring, a no-op here: layout `florence8` has no hip joints"
    assert (no_op in md) is (variant == "features")


def test_attention_ablation_pairs_units_and_seeds_both_rows_hold():
    from skelact.repro.entries import attention_ablation

    def entry(row, attention, per_seed):
        return {"target": "msr3d", "architecture": "arrn_lstm", "row": row, "name": row,
                "attention": attention, "stream": "joint",
                "per_seed": {s: {"folds": f} for s, f in per_seed.items()}}  # fmt: skip

    arrn = entry("arrn_joint", True, {"0": {"AS1": 80.0, "AS2": 70.0}, "1": {"AS1": 75.0, "AS2": 60.0}})
    rrn = entry("rrn_joint", False, {"0": {"AS1": 78.0, "AS2": 70.0}, "1": {"AS1": 79.0}, "2": {"AS1": 1.0}})
    ab = attention_ablation(arrn, [arrn, rrn])
    # pairs: (0, AS1) +2, (0, AS2) 0, (1, AS1) -4; (1, AS2) and seed 2 have one side only
    assert ab["pairs"] == 3 and (ab["better"], ab["equal"], ab["worse"]) == (1, 1, 1)
    assert ab["mean_difference"] == pytest.approx(-2 / 3, abs=0.01)
    assert ab["std_difference"] == pytest.approx(np.std([2, 0, -4], ddof=1), abs=0.01)
    assert ab["standard_error"] == pytest.approx(np.std([2, 0, -4], ddof=1) / np.sqrt(3), abs=0.01)
    assert ab["paper_difference"] == {"ntu60-xsub": 5.0, "ntu60-xview": 4.7}  # Table 2: joint stream
    assert attention_ablation(rrn, [arrn, rrn]) is None  # the row without the mask has none
    assert attention_ablation(arrn, [arrn]) is None  # no RRN row
    assert attention_ablation(arrn, [arrn, {**rrn, "stream": "line"}]) is None  # another stream


def test_summary_cell_shows_spread_only_over_several_complete_seeds():
    from skelact.repro.report import mean_cell as _pm

    e = {"mean": 80.0, "std": 4.0, "seeds": [0, 1, 2], "folds": {"AS1": 80.0}, "units_planned": 3}
    assert _pm(e) == "80.0 ± 4.0 (n=3)"
    assert _pm({**e, "seeds": [0], "std": 0.0}) == "80.0 (n=1)"
    assert _pm({**e, "seeds": [], "folds": {"fold 1": 70.0, "fold 2": 90.0}, "units_planned": 10}) == (
        "80.0 (partial: 2 of 10 units)"
    )
    assert _pm({**e, "mean": None}) == "–"


def _load_script(name: str):
    """A file of scripts/ as a module (scripts are not part of the package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



def test_cv_curve_script_prints_the_curves_of_the_training_subjects_only(msr_store, tmp_path, capsys):
    """scripts/cv_curve.py (how the AS-GCN small-data optimiser was chosen) runs on a store."""
    module = _load_script("cv_curve")
    from skelact.repro.targets import QUICK_WIDTH

    tiny = list(QUICK_WIDTH["asgcn"])
    argv = ["msr3d", "as2", "asgcn", "--store", str(msr_store), "--every", "1", "--work-dir", str(tmp_path),
            "train.epochs=2", "train.aim.warmup_epochs=1", "train.optim.name=adam", "--forecast",
            "model.options.pred_zero_init=true", *tiny]  # fmt: skip
    assert module.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("  forecast MPJPE model ") for line in out) == 2
    assert out[-1].startswith("mean forecast MPJPE model ") and "x zero velocity" in out[-1]
    out = out[:-1]
    assert "train.optim.name=adam" in out[0] and "2 folds" in out[0]
    folds = [line for line in out if line.startswith("fold ")]
    assert len(folds) == 2
    assert sum(line.startswith("  logits 1:") and " 2:" in line for line in out) == 2
    held_out = [set(json.loads(f.split("held out subjects ")[1].split("]")[0] + "]")) for f in folds]
    assert held_out[0] | held_out[1] == {1, 3, 5, 7, 9} and not held_out[0] & held_out[1]  # no test subject
    assert out[-1].startswith("mean logits 1:") and "last epoch" in out[-1]


def test_cv_curve_script_prints_joint_line_and_fused_curves_of_two_streams(msr_store, tmp_path, capsys):
    """For ARRN-LSTM the script prints joint, line and fused curves (the fused one with the preset's
    alpha), each mean curve with its last epoch and its best."""
    module = _load_script("cv_curve")
    from skelact.repro.targets import QUICK_WIDTH

    argv = ["msr3d", "as1", "arrn", "--store", str(msr_store), "--every", "1", "--work-dir", str(tmp_path),
            "train.epochs=3", "fusion.alpha=0.25", *QUICK_WIDTH["arrn_lstm"]]  # fmt: skip
    assert module.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("fold ") for line in out) == 2
    assert sum(line.startswith("  joint 1:") for line in out) == 2
    assert sum(line.startswith("  line 1:") for line in out) == 2
    means = {line.split()[1]: line for line in out if line.startswith("mean ")}
    assert set(means) == {"joint", "line", "fused"}
    assert "alpha 0.25" in means["fused"] and "alpha" not in means["joint"]
    for line in means.values():  # last and best are read off the printed curve
        curve = [float(p.split(":")[1]) for p in line.split(";")[0].split()[2:]]
        last = float(line.split("last epoch ")[1].split(",")[0])
        best, epoch = line.split("best ")[1].split(" at epoch ")
        assert len(curve) == 3 and last == curve[-1] and float(best) == max(curve)
        assert curve[int(epoch.split(";")[0]) - 1] == max(curve)


def test_compare_reports_pairs_units_and_seeds_both_reports_hold(tmp_path, capsys):
    module = _load_script("compare_reports")

    def entry(row, per_seed):
        folds = {u: 0.0 for s in per_seed.values() for u in s}
        return {"target": "msr3d", "row": row, "name": row.upper(), "folds": folds,
                "per_seed": {k: {"folds": v} for k, v in per_seed.items()}}  # fmt: skip

    old = [
        entry("arrn_two_stream", {"0": {"AS1": 80.0, "AS2": 70.0}, "1": {"AS1": 84.0, "AS2": 74.0}}),
        entry("rrn_joint", {"0": {"AS1": 50.0}}),  # not in the new report: left out
    ]
    new = [entry("arrn_two_stream", {"0": {"AS1": 83.0, "AS2": 69.0}, "2": {"AS1": 90.0}})]
    old.append(entry("rrn_line", {"0": {"AS1": 83.02}}))  # two decimals, the same 44/53 as below
    new.append(entry("rrn_line", {"0": {"AS1": 83.0189}}))
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    pairs, rows = module.compare(a, b)
    assert [(p["row"], p["unit"], p["seed"]) for p in pairs] == [
        ("arrn_two_stream", "AS1", 0), ("arrn_two_stream", "AS2", 0), ("rrn_line", "AS1", 0)]  # fmt: skip
    assert [p["difference"] for p in pairs] == [3.0, -1.0, pytest.approx(-0.0011)]
    row, residue = rows
    assert residue["row"] == "rrn_line" and residue["pairs"] == 1
    assert row["pairs"] == 2 and row["mean_abs_difference"] == 2.0 and row["mean_difference"] == 1.0
    assert row["seed_spread_old"] == pytest.approx(np.std([80, 84], ddof=1))  # AS1 and AS2 alike
    assert row["seed_spread_new"] == pytest.approx(np.std([83, 90], ddof=1))  # AS2 has one seed only
    out = tmp_path / "cmp.md"
    assert module.main([str(a), str(b), "--out", str(out)]) == 0
    assert "| msr3d | ARRN_TWO_STREAM | AS1 | 0 | 80.0 | 83.0 | +3.0 |" in out.read_text()
    assert "| msr3d | RRN_LINE | AS1 | 0 | 83.0 | 83.0 | +0.0 |" in out.read_text()  # not -0.0
    assert "| msr3d | RRN_LINE | 1 | 0.0 | +0.0 |" in out.read_text()
    assert out.read_text() == capsys.readouterr().out
    other = tmp_path / "other.json"
    other.write_text(json.dumps([entry("asgcn", {"0": {"AS1": 60.0}})]))
    with pytest.raises(SystemExit, match="share no"):
        module.main([str(a), str(other)])
    with pytest.raises(SystemExit, match="not a reproduction.json"):
        module.main([str(a), str(tmp_path / "missing.json")])


def test_last_epoch_protocol_trains_once_and_scores_only_the_last_epoch(msr_store, tmp_path, monkeypatch):
    """One training per unit and seed on all training subjects, the test subjects scored once after
    the last epoch, the fused row with the preset's fixed alpha (no cross-validation training)."""
    from skelact.repro import protocol
    from skelact.repro.runner import reproduce
    from skelact.train import fit
    from skelact.train.config import load_config

    calls = []
    real = fit.fit_and_score

    def spy(cfg, train_idx, eval_idx, **kw):
        calls.append((len(train_idx), len(eval_idx), kw))
        return real(cfg, train_idx, eval_idx, **kw)

    monkeypatch.setattr(fit, "fit_and_score", spy)
    run = dict(store=str(msr_store), models=["arrn"], quick=True, units=["as1"], log=lambda s: None)
    real_build = protocol.build_config

    def without_alpha(ctx, tr, unit, seed):
        cfg, preset, overrides = real_build(ctx, tr, unit, seed)
        overrides = [*overrides, "fusion.alpha=null"]
        return load_config(preset, overrides), preset, overrides

    with monkeypatch.context() as m:
        m.setattr(protocol, "build_config", without_alpha)
        with pytest.raises(ConfigError, match="fusion.alpha"):
            reproduce(["msr3d"], work_dir=tmp_path / "w0", out=tmp_path / "r0", **run)
    assert calls == []
    out = reproduce(["msr3d"], work_dir=tmp_path / "w", out=tmp_path / "r", **run)  # the default protocol
    assert len(calls) == 1  # no cross-validation trainings
    n_train, n_test, kw = calls[0]
    assert kw["score_epochs"] == [kw["epochs"]]
    (result,) = out["results"]["msr3d"]
    assert result["selection"] == "last-epoch"
    alpha = load_config("arrn_lstm/msr3d_as1").fusion.alpha
    assert alpha is not None and result["rows"]["arrn_two_stream"]["alpha"] == alpha
    assert {r["epoch"] for r in result["rows"].values()} == {kw["epochs"]}
    assert set(result["split"]["train_subjects"]).isdisjoint(result["split"]["test_subjects"])
    assert result["split"]["num_train"] == n_train and result["split"]["num_test"] == n_test
    # the same command again trains nothing
    reproduce(["msr3d"], work_dir=tmp_path / "w", out=tmp_path / "r", **run)
    assert len(calls) == 1


def test_recipe_is_chosen_one_factor_at_a_time_on_training_subjects_only(msr_store, tmp_path, monkeypatch):
    """The coordinate ascent of ``scripts/choose_recipe.py`` with a stand-in training whose held-out
    accuracy is a known function of the settings: each stage keeps its best candidate (ties: the
    incumbent), trainings already run are reused, and no test subject is ever trained or scored."""
    from skelact.data import protocols
    from skelact.data.store import SkeletonStore
    from skelact.tune import recipe

    store = SkeletonStore(msr_store)
    subjects = np.asarray(store.index["subject"])
    tests = [protocols.split(store, f"msr3d-{u}")["test"] for u in recipe.UNITS]
    test_subjects = {int(s) for t in tests for s in subjects[t]}
    calls = []

    def fake_job(args):
        _, unit, settings, fold_train, fold_val, out, _ = args
        assert not {int(s) for s in subjects[fold_train + fold_val]} & test_subjects
        calls.append(out)
        o = settings.overrides
        constant = o["train.schedule.name"] == "none"
        # the constant-lr recipe ends higher than the cosine one but swings: 20 points lower at an
        # earlier epoch (its best lies elsewhere), so it is not eligible
        acc = 0.7 if constant else 0.6 + 0.1 * (o["model.options.dropout"] == "0.5")
        acc -= 0.1 * (o["model.options.readout"] == "concat") + 0.1 * (settings.augment == "none")
        acc += 0.05 * (o.get("model.options.label_smoothing") == "0.1")  # the regularisers: one helps
        rng = np.random.default_rng(len(fold_val))
        labels = np.asarray(store.index["label"])[fold_val] % 8
        n, epochs = len(labels), np.arange(1, int(o["train.epochs"]) + 1)
        joint = np.zeros((len(epochs), n, 8))
        for e in range(len(epochs)):
            a = acc + (0.2 if constant and e == len(epochs) // 2 else 0.0)
            right = np.arange(n) < round(a * n)
            joint[e, np.arange(n), np.where(right, labels, (labels + 1) % 8)] = 4.0
        line = joint / 2 + rng.normal(0, 0.01, joint.shape)  # a less confident copy of the joint stream
        np.savez(out, labels=labels, epochs=epochs, wall=np.array(1.0), scores_joint=joint, scores_line=line)
        return out

    monkeypatch.setattr(recipe, "_job", fake_job)
    result = recipe.choose_recipe(msr_store, tmp_path, folds=2, jobs=1, log=lambda s: None)
    chosen = [s["chosen"] for s in result["stages"]]
    # 150 epochs ties with 100 here, and so do strong augmentation, weight decay and clipping: the
    # incumbent stays; label smoothing scores higher and is taken
    assert chosen[:4] == ["cosine to zero + EMA 0.99", "dropout 0.5", "mean over time", "100 epochs"]
    assert chosen[4].startswith("standard") and chosen[5:] == ["none", "0.1", "none"]
    assert "train.schedule.name=cosine" in result["chosen"]["overrides"]
    assert "model.options.dropout=0.5" in result["chosen"]["overrides"]
    assert "model.options.label_smoothing=0.1" in result["chosen"]["overrides"]
    unchosen = ("train.optim.weight_decay", "train.gradient_clip")
    assert not any(o.startswith(unchosen) for o in result["chosen"]["overrides"])
    assert result["chosen"]["augment"] == "standard"
    # 10 distinct settings (each stage's incumbent is the previous winner), 3 subsets x 2 folds
    assert len(calls) == 10 * 3 * 2 == len(set(calls))
    assert result["alpha"]["value"] == 0.5  # every alpha scores the same here: the tie goes to 0.5
    first = result["stages"][0]["rows"]
    assert first[0]["criterion"] > first[1]["criterion"]  # higher at its last epoch, yet not chosen
    assert not first[0]["stable"] and first[1]["stable"]
    md = recipe.recipe_markdown(result)
    assert md.count("**(chosen)**") == len(recipe.STAGES)
    assert md.count("not eligible") == 1
    # again: everything is cached
    recipe.choose_recipe(msr_store, tmp_path, folds=2, jobs=1, log=lambda s: None)
    assert len(calls) == 60


def _key_paths(data, prefix=""):
    out = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path != "model.options":
            out += _key_paths(value, path + ".")
        else:
            out.append(path)
    return out


#: The config settings every committed unit record's fingerprint was taken over (before the settings
#: of ``ADDED_AT_DEFAULT`` existed).
RECORDED_SETTINGS = {
    "name", "description", "seed", "model.name", "model.options", "model.num_classes", "data.dataset",
    "data.store", "data.protocol", "data.fold", "data.frames", "data.train_transforms",
    "data.test_transforms", "data.validation.fraction", "data.validation.by", "data.validation.seed",
    "data.train_indices", "data.val_indices", "data.test_indices", "data.subset", "data.batch_size",
    "data.eval_batch_size", "data.num_workers", "data.pin_memory", "train.epochs", "train.optim.name",
    "train.optim.lr", "train.optim.momentum", "train.optim.nesterov", "train.optim.weight_decay",
    "train.optim.betas", "train.schedule.name", "train.schedule.step_size", "train.schedule.milestones",
    "train.schedule.gamma", "train.schedule.monitor", "train.schedule.mode", "train.schedule.patience",
    "train.schedule.min_lr", "train.aim.warmup_epochs", "train.aim.optim.name", "train.aim.optim.lr",
    "train.aim.optim.momentum", "train.aim.optim.nesterov", "train.aim.optim.weight_decay",
    "train.aim.optim.betas", "train.checkpoint.monitor", "train.checkpoint.mode", "train.checkpoint.evaluate",
    "train.accelerator", "train.devices", "train.num_nodes", "train.strategy", "train.precision",
    "train.gradient_clip", "train.deterministic", "train.log_every_n_steps", "train.val_every_n_epochs",
    "train.progress", "fusion.fit", "fusion.grid_points", "fusion.alpha", "reference.paper",
    "reference.table", "reference.metric", "reference.value", "reference.note",
}  # fmt: skip


def test_a_new_config_setting_does_not_move_the_fingerprints_of_recorded_units():
    """Every config setting enters the unit fingerprints (:func:`config_digest`), so a setting added to
    the schema would retrain every committed unit unless it is left out at its default
    (``ADDED_AT_DEFAULT``): a new setting must be listed there (and here)."""
    from skelact.repro.cache import ADDED_AT_DEFAULT, config_digest
    from skelact.train.config import config_to_dict, load_config

    cfg = load_config("arrn_lstm/msr3d_as1")
    added = tuple(f"{section}.{key}" for section, key, _ in ADDED_AT_DEFAULT)
    paths = {p for p in _key_paths(config_to_dict(cfg)) if not (p in added or p.startswith(added))}
    assert paths == RECORDED_SETTINGS, (
        f"config settings not in the recorded fingerprints: {sorted(paths - RECORDED_SETTINGS)}; "
        "add them to repro.cache.ADDED_AT_DEFAULT with their default"
    )
    # at their defaults the added settings leave the digest alone; set otherwise they change it
    assert config_digest(load_config("arrn_lstm/msr3d_as1", ["train.compile=false"])) == config_digest(cfg)
    assert config_digest(load_config("arrn_lstm/msr3d_as1", ["train.compile=true"])) != config_digest(cfg)
    averaged = load_config("arrn_lstm/msr3d_as1", ["train.averaging.name=none"])
    assert config_digest(averaged) != config_digest(cfg)  # the preset averages: not the default
    # a nested one (dotted section) too
    for fused, same in (("true", True), ("false", False)):
        digest = config_digest(load_config("arrn_lstm/msr3d_as1", [f"train.optim.fused={fused}"]))
        assert (digest == config_digest(cfg)) is same


def _recipe_row(name: str, fused: dict[str, float], stable: bool = True) -> dict:
    """A candidate's row of a recipe result: last-epoch CV accuracy per subset (joint 10 and line 5
    points under the fused score)."""
    under = {"joint": 10, "line": 5, "fused": 0}
    heads = tuple(under)
    per_unit = {u: {h: {"last": v - under[h]} for h in heads} for u, v in fused.items()}
    mean = {h: {"last": float(np.mean([p[h]["last"] for p in per_unit.values()]))} for h in heads}
    return {"candidate": name, "per_unit": per_unit, "mean": mean, "criterion": mean["fused"]["last"],
            "stable": stable}  # fmt: skip


def test_report_states_each_goal_and_what_limits_those_not_met(tmp_path):
    """The goals of goals.yaml stand beside the paper with met / not met (a spread over seeds needs
    two seeds), and where one is not met and the recipe's cross-validation lies beside the report,
    the report gives its evidence: each factor's gain, the weakest subset, the fusion gain and the
    CV accuracy against the final models'."""
    from skelact.repro.goals import cv_evidence
    from skelact.repro.report import write_report

    def record(unit: int, seed: int) -> dict:
        r = _record(unit, seed, 18, "AMD EPYC")  # joint: 18 of 19 right, 94.7
        r["rows"] = {**r["rows"], "arrn_line": _record(unit, seed, 16, "")["rows"]["arrn_line"],  # 84.2
                     "arrn_two_stream": _record(unit, seed, 17, "")["rows"]["arrn_two_stream"]}  # 89.5
        return r

    recipe = {"cv": {"folds": 2}, "stages": [
        {"factor": "schedule", "chosen": "cosine", "rows": [
            _recipe_row("constant", {"as1": 80, "as2": 60, "as3": 79}, stable=False),
            _recipe_row("cosine", {"as1": 79, "as2": 60, "as3": 78})]},
        {"factor": "label smoothing", "chosen": "0.1", "rows": [
            _recipe_row("none", {"as1": 79, "as2": 60, "as3": 78}),
            _recipe_row("0.1", {"as1": 82, "as2": 63, "as3": 81}),
            _recipe_row("0.2", {"as1": 81, "as2": 62, "as3": 80})]},
    ]}  # fmt: skip
    ev = cv_evidence(recipe)
    assert ev["start"] == pytest.approx(73.0) and ev["final"] == pytest.approx(226 / 3)
    assert [f["gain"] for f in ev["factors"]] == pytest.approx([-2 / 3, 3.0])
    assert ev["factors"][0]["for_stability"] and not ev["factors"][1]["for_stability"]
    assert ev["factors"][1]["other"] == "0.2" and ev["factors"][1]["other_difference"] == pytest.approx(-1.0)
    assert ev["weakest"] == "as2" and ev["weakest_gap"] == pytest.approx(18.5)
    assert ev["fusion_gain"] == pytest.approx(5.0)

    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    records = [record(u, s) for u in (1, 2, 3) for s in (0, 1, 2)]
    _, md_path, entries = write_report(
        {"msr3d": records}, tmp_path, seeds=[0, 1, 2], models=["arrn"], facts={}, command="skelact reproduce",
        quick=False, work_dir=tmp_path / "work", log=lambda s: None,
    )  # fmt: skip
    goals = {e["row"]: e["goal"] for e in entries}
    assert goals == {
        "arrn_joint": {"text": "≥ 86.1", "met": True}, "arrn_line": {"text": "≥ 86.1", "met": False},
        "arrn_two_stream": {"text": "≥ 90.0, std ≤ 2.0", "met": False},
    }  # fmt: skip
    md = md_path.read_text()
    assert "| msr3d | Joint-ARRN-LSTM | ≥ 86.1 | 94.7 ± 0.0 (n=3) | – | yes |" in md
    assert "| msr3d | Two-stream ARRN-LSTM | ≥ 90.0, std ≤ 2.0 | 89.5 ± 0.0 (n=3) | 95.0 | **no** |" in md
    limits = md.split("### What limits the goals not met")[1].split("\n## ")[0]
    assert "| label smoothing | 0.1 | +3.0 | 0.2 | -1.0 |" in limits
    assert "| schedule | cosine | -0.7 (chosen for a stable last epoch) |" in limits
    assert "from 73.0 (old preset) to 75.3" in limits
    assert "AS2 lies 18.5 points under the other subsets" in limits
    assert "fusion adds +5.0 points over the better stream" in limits
    assert "score 89.5 ± 0.0 (n=3) on the test subjects (+14.1)" in limits

    # one seed cannot show a spread: a goal on it is not met, however high the mean
    best = [_record(u, 0, 19, "AMD EPYC") for u in (1, 2, 3)]
    _, _, entries = write_report({"msr3d": best}, tmp_path / "one", seeds=[0], models=["arrn"], facts={},
                                 command="c", quick=False, work_dir=tmp_path / "work", log=lambda s: None)
    goals = {e["row"]: e["goal"]["met"] for e in entries}
    assert goals == {"arrn_joint": True, "arrn_line": True, "arrn_two_stream": False}
    md = (tmp_path / "one" / "reproduction.md").read_text()
    assert "## Goals" in md and "What limits" not in md  # no recipe.json beside this report



def _florence_record(fold: int, seed: int, correct: dict[str, int]) -> dict:
    """A unit record of the two-stream ARRN run on Florence3D fold ``fold`` (20 test sequences, 10 of
    class 0 and 10 of class 1), ``correct[row]`` of them right; the errors take class 0 for class 2
    before class 1 for class 3."""
    rows = {}
    for row, n in correct.items():
        cm = np.zeros((9, 9), dtype=int)
        wrong = 20 - n
        cm[0, 0], cm[0, 2] = 10 - min(wrong, 10), min(wrong, 10)
        cm[1, 1], cm[1, 3] = 10 - max(wrong - 10, 0), max(wrong - 10, 0)
        alpha = 0.5 if row.endswith("two_stream") else None
        rows[row] = {"top1": 100.0 * n / 20, "top5": 100.0, "num_samples": 20, "epoch": 150,
                     "confusion_matrix": cm.tolist(), "alpha": alpha}  # fmt: skip
    return {
        "target": "florence3d", "dataset": "florence3d", "training": "arrn", "model": "arrn_lstm",
        "unit": f"fold{fold:02d}", "unit_name": f"fold {fold}", "seed": seed, "selection": "last-epoch",
        "max_epochs": 150, "averaging": "ema", "preset": "arrn_lstm/florence3d_loso_two_stream_arrn",
        "overrides": ["data.num_workers=0", f"seed={seed}"], "class_names": [f"c{k}" for k in range(9)],
        "num_parameters": 1000, "forecast": None, "wall_time_s": 600.0,
        "trained_with": {"skelact": "0.1.0", "code": "abc", "torch": "2.13.0+cpu", "device": "AMD EPYC",
                         "threads": 1, "finished": "2026-12-03T00:00:00+00:00"},
        "rows": rows,
    }  # fmt: skip


def test_a_florence_goal_not_met_is_read_off_its_own_folds(tmp_path):
    """A leave-one-subject-out row under its goal: the report names its weakest fold (subject), the
    mean of the other folds and whether that reaches the goal, the weakest fold's most frequent errors
    pooled over seeds, and what fusion adds over the better stream; a goal that is met gets none of
    it, and the MSRAction3D recipe evidence is not needed for it."""
    from skelact.repro.goals import GOALS, fold_evidence
    from skelact.repro.report import write_report

    def counts(fold: int, seed: int) -> dict[str, int]:
        if fold == 6:  # the weak subject: 7 / 20 fused (35 %), seed 1 one worse
            return {"arrn_joint": 10, "arrn_line": 8, "arrn_two_stream": 7 - (seed == 1)}
        return {"arrn_joint": 19, "arrn_line": 17, "arrn_two_stream": 18}  # 90 % fused

    records = [_florence_record(f, s, counts(f, s)) for f in range(1, 11) for s in (0, 1, 2)]
    _, md_path, entries = write_report(
        {"florence3d": records}, tmp_path, seeds=[0, 1, 2], models=["arrn"], facts={}, command="c",
        quick=False, work_dir=tmp_path / "work", log=lambda s: None,
    )  # fmt: skip
    fused = next(e for e in entries if e["row"] == "arrn_two_stream")
    assert fused["mean"] == pytest.approx((9 * 90 + 100 * 20 / 60) / 10, abs=1e-3)  # 84.3: under 85
    assert not fused["goal"]["met"]
    ev = fused["goal"]["folds"]
    assert ev["weakest"] == "fold 6" and ev["weakest_value"] == pytest.approx(100 * 20 / 60, abs=1e-3)
    assert ev["others"] == pytest.approx(90.0) and ev["others_reach"]
    assert ev["at_goal"] == 9 and ev["folds"] == 10
    # fold 6 fused: 13 + 14 + 13 errors over the seeds; class 0 -> 2 takes the first 10 of each seed
    assert ev["confusions"] == [("c0", "c2", 30, 30), ("c1", "c3", 10, 30)]
    assert ev["streams"]["two_stream"] == pytest.approx(fused["mean"])
    joint = next(e for e in entries if e["row"] == "arrn_joint")
    assert ev["fusion_gain"] == pytest.approx(fused["mean"] - joint["mean"])  # joint is the better stream
    assert ev["fusion_gain"] < 0
    # only the goal not met carries the evidence (here the fused row misses 85 by fold 6 alone)
    assert [e["row"] for e in entries if "folds" in (e["goal"] or {})] == ["arrn_two_stream"]

    md = md_path.read_text()
    limits = md.split("### What limits the goals not met")[1].split("\n## ")[0]
    assert "9 of 10 folds reach the goal. The weakest, fold 6, scores 33.3; the other 9 average 90.0, " \
           "which reaches the goal: one held-out subject limits the row." in limits
    assert "c0 taken for c2 30 of 30; c1 taken for c3 10 of 30" in limits
    assert f"fusion at the preset's fixed weight adds {ev['fusion_gain']:+.1f} points" in limits
    assert "Evidence from the recipe's cross-validation" not in limits  # no recipe.json here

    # strict goals count a fold at the goal as not reaching it
    goal = GOALS[("florence3d", "asgcn")]
    assert goal.strict
    at = {**fused, "folds": {"fold 1": goal.mean, "fold 2": goal.mean + 1}}
    assert fold_evidence(at, entries, records, goal)["at_goal"] == 1

    # every fold above the goal: no section at all
    good = [_florence_record(f, s, counts(1, s)) for f in range(1, 11) for s in (0, 1, 2)]
    _, md_path, entries = write_report(
        {"florence3d": good}, tmp_path / "good", seeds=[0, 1, 2], models=["arrn"], facts={}, command="c",
        quick=False, work_dir=tmp_path / "work", log=lambda s: None,
    )  # fmt: skip
    assert all("folds" not in (e["goal"] or {}) for e in entries)
    assert "What limits" not in md_path.read_text()


def _timed_unit(root: pathlib.Path, target: str, training: str, unit: str, seed: int, seconds: float):
    path = root / target / training / unit / f"seed_{seed}" / "unit.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"target": target, "training": training, "unit": unit, "seed": seed,
              "final": {"wall_time_s": seconds, "epochs": [100]}}
    path.write_text(json.dumps(record))


def test_reproduction_cost_plans_the_rest_at_the_speed_measured_now(tmp_path):
    """scripts/reproduction_cost.py: the first records directory is the measurement; a figure only an
    earlier directory has is scaled by the ratio of the two on a target both timed, and every part
    of the plan fits the limit."""
    cost_script = _load_script("reproduction_cost")
    now, earlier = tmp_path / "now", tmp_path / "earlier"
    for training, seconds in (("arrn", 600.0), ("rrn", 400.0), ("asgcn", 900.0)):
        for seed, factor in enumerate((1.0, 1.0, 5.0)):  # one slow outlier: the median ignores it
            _timed_unit(now, "msr3d", training, "as1", seed, 2 * seconds * factor)
        _timed_unit(earlier, "msr3d", training, "as1", 0, seconds)
        _timed_unit(earlier, "florence3d", training, "fold01", 0, seconds / 2)
    cost, source = cost_script.combined_cost([now, earlier])
    assert cost[("msr3d", "arrn")] == pytest.approx(12.0)  # 1200 s / 100 epochs, measured now
    assert cost[("florence3d", "rrn")] == pytest.approx(2.0 * 2.0)  # earlier 200 s / 100, x 2
    assert "x 2.00" in source[("florence3d", "rrn")] and "msr3d" in source[("florence3d", "rrn")]
    assert source[("msr3d", "asgcn")] == f"`{now}`"

    only_earlier, _ = cost_script.combined_cost([tmp_path / "empty", earlier])
    assert only_earlier[("florence3d", "arrn")] == pytest.approx(3.0)  # nothing to calibrate on

    trainings, cores, longest = cost_script.one_sitting(cost, epochs=150, limit_h=2.5)
    per_unit = {t: sum(cost[(target, t)] * 150 * len(units) * 3 for target, units in
                       cost_script.TARGET_UNITS.items()) for t in cost_script.TRAININGS}  # fmt: skip
    assert trainings == 3 * 3 * (3 + 10)  # msr3d's 3 subsets and florence3d's 10 folds, 3 seeds, 3 runs
    assert (cores - 1) * 2.5 * 3600 < sum(per_unit.values()) <= cores * 2.5 * 3600  # the fewest that fit
    assert longest == max(cost.values()) * 150
    parts = cost_script.plan(cost, epochs=150, jobs=2, limit_h=2.5)
    assert all(part["core_s"] <= 2.5 * 3600 * 2 for part in parts)
    planned = [(p["target"], t, u) for p in parts for t in p["trainings"] for u in p["units"]]
    expected = [(target, t, u) for target, units in cost_script.TARGET_UNITS.items()
                for t in cost_script.TRAININGS for u in units]  # fmt: skip
    assert sorted(planned) == sorted(expected)  # every unit of every model run, once
    done = cost_script.finished(now)
    assert ("msr3d", "arrn", "as1", 2) in done
    as1_only = {"target": "msr3d", "trainings": ["arrn"], "units": ["as1"]}
    assert cost_script.part_progress(as1_only, done, cost, 150) == (3, 3, 0.0)
    assert "(done: its records are in" in cost_script.part_state(as1_only, done, cost, 150, 2, now)
    half = {**as1_only, "units": ["as1", "as2"]}  # as2's three seeds left: 3 x 12 s x 150 epochs
    assert cost_script.part_progress(half, done, cost, 150) == (3, 6, pytest.approx(3 * 12.0 * 150))
    assert cost_script.part_state(half, done, cost, 150, 2, now).startswith(
        f" (3 of 6 trainings done, their records in `{now}`; about 0.8 h left")  # 5400 / 2 / 3600 = 0.75
    assert cost_script.part_state({**as1_only, "units": ["as2"]}, done, cost, 150, 2, now) == ""


def test_a_run_whose_preset_no_longer_loads_keeps_its_settings_row_with_the_reason(tmp_path):
    """The settings table has a row per model run; one whose preset was renamed since the run says
    so (the preset named, the loader's error) instead of disappearing from the report."""
    from skelact.repro.report import write_report

    records = [_record(u, 0, 15, "AMD EPYC") for u in (1, 2, 3)]
    gone = {**_record(1, 0, 15, "AMD EPYC"), "training": "rrn", "preset": "arrn_lstm/renamed_since"}
    gone["rows"] = {key.replace("arrn", "rrn"): row for key, row in gone["rows"].items()}
    _, md_path, _ = write_report(
        {"msr3d": records + [gone]}, tmp_path, seeds=[0], models=["arrn", "rrn"], facts={},
        command="skelact reproduce", quick=False, work_dir=tmp_path / "work", log=lambda s: None,
    )  # fmt: skip
    lines = md_path.read_text().splitlines()
    (ok,) = [ln for ln in lines if ln.startswith("| msr3d | arrn | adam lr 0.001")]
    assert "| cosine | ema 0.99 | 16 |" in ok
    (missing,) = [ln for ln in lines if ln.startswith("| msr3d | rrn |")]
    assert "preset `arrn_lstm/renamed_since` does not load now (" in missing
    assert missing.count("|") == ok.count("|")  # the table keeps its columns


REPO = pathlib.Path(__file__).resolve().parents[1]


def test_the_committed_unit_records_are_found_by_the_current_code(msr_store, tmp_path):
    """Every MSRAction3D unit record committed under ``reports/units`` is found again by the code as
    it is now (same fingerprint: preset, overrides, resolved config, data checksums, protocol), so
    ``skelact reproduce msr3d --report-only`` rebuilds the committed report from them and a rerun
    trains none of them again. A change to a preset, to the config schema or to the reproduction's
    overrides that would silently retrain (or orphan) the committed results fails here."""
    from skelact.repro.cache import RESULT_FILE
    from skelact.repro.protocol import run_unit
    from skelact.repro.targets import ALL_TRAININGS, get_target
    from skelact.repro.unit_config import Context

    records_dir = REPO / "reports" / "units"
    records = sorted((records_dir / "msr3d").glob(f"*/*/seed_*/{RESULT_FILE}"))
    assert records, f"no MSRAction3D unit record committed under {records_dir}"
    target = get_target("msr3d")
    ctx = Context(target, msr_store, tmp_path, augment="strong", cached_only=True, results_dir=records_dir,
                  log=lambda s: None)  # fmt: skip
    for path in records:
        saved = json.loads(path.read_text())
        training = next(t for t in ALL_TRAININGS if t.key == saved["training"])
        unit = next(u for u in target.units if u.key == saved["unit"])
        found = run_unit(ctx, training, unit, int(saved["seed"]))
        assert found is not None, f"{path.relative_to(REPO)}: not recognised by the current code"
        assert found["fingerprint"] == saved["fingerprint"]
    assert not list(tmp_path.rglob(RESULT_FILE))  # nothing trained, nothing written to the work dir
