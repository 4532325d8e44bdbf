"""`skelact prepare` and `skelact info` on the shared data: summaries, JSON, exit codes."""

from __future__ import annotations

import json
import shutil

import pytest

from skelact.cli import main
from skelact.data.store import SkeletonStore


@pytest.fixture
def ntu_src(tmp_path, shared_data):
    src = tmp_path / "raw"
    src.mkdir()
    for f in (shared_data / "ntu_rgbd").glob("*.skeleton"):
        shutil.copy(f, src)
    # a real file under a name on the official missing list: must be skipped, and counted
    shutil.copy(
        shared_data / "ntu_rgbd" / "S001C001P001R001A011.skeleton", src / "S001C003P002R001A055.skeleton"
    )
    shutil.copy(shared_data / "ntu_rgbd" / "samples_with_missing_skeletons.txt", src)
    return src


def test_prepare_then_info(tmp_path, ntu_src, capsys):
    out = tmp_path / "store"
    rc = main(
        ["prepare", "ntu60", "--src", str(ntu_src), "--out", str(out), "--workers", "2", "--no-progress"]
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert "prepared ntu60: 8 samples" in text
    assert "skipped 1 on the missing-skeleton list" in text
    assert len(SkeletonStore(out)) == 8

    assert main(["info", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "samples    8  frames 579" in text  # 103+82+74+71+42+66+76+65 frames in the shared files
    assert "sha256 verified" in text
    assert "drink water" in text

    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "store" and info["num_samples"] == 8 and info["num_frames"] == 579
    assert info["frames_per_sample"] == {"min": 42, "median": 72.5, "mean": 72.38, "max": 103}
    assert info["bodies"] == {"1": 3, "2": 5}
    assert sum(c["samples"] for c in info["classes"]) == 8
    assert info["prepare"]["skipped_missing"] == 1


def test_prepare_json_summary_and_existing_out(tmp_path, ntu_src, capsys):
    out = tmp_path / "store"
    args = ["prepare", "ntu60", "--src", str(ntu_src), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples_written"] == 8 and summary["skipped_missing"] == 1 and summary["bad_files"] == []
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--normalize", "PreNormalize3D"]) == 0
    assert SkeletonStore(out).manifest["prepare"]["normalize"] == [{"name": "PreNormalize3D"}]


def test_info_raw_ntu_file(shared_data, capsys):
    path = shared_data / "ntu_rgbd" / "S001C001P001R001A050.skeleton"
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "format     ntu  (layout ntu25)" in text
    assert "74 frames, 2 body slot(s) (2 used)" in text
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    [seq] = info["sequences"]
    assert (info["format"], seq["frames"], seq["bodies_present"], seq["joints"]) == ("ntu", 74, 2, 25)
    assert seq["meta"]["label"] == 49 and seq["meta"]["subject"] == 1


def test_info_errors_are_one_line_exit_2(tmp_path, capsys):
    partial = tmp_path / ".store.partial-abc"
    partial.mkdir()
    (partial / "data.bin").write_bytes(b"\0" * 16)
    assert main(["info", str(partial)]) == 2
    err = capsys.readouterr().err
    assert "not a complete skelact store" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "S001C001P001R001A001.skeleton"
    bad.write_text("2\n1\nnot numbers\n")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skelact info: error:") and len(err.strip().splitlines()) == 1
    assert main(["info", str(tmp_path / "absent")]) == 2
    assert main(["info", str(tmp_path)]) == 2
    assert "not a store" in capsys.readouterr().err


def test_prepare_bad_option_exit_2(tmp_path, shared_data, capsys):
    src = str(shared_data / "ntu_rgbd")
    assert main(["prepare", "ntu60", "--src", src, "--out", str(tmp_path / "s"), "--option", "nope"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["prepare", "ntu60", "--src", str(tmp_path / "none"), "--out", str(tmp_path / "s")]) == 2
    with pytest.raises(SystemExit):
        main(["prepare", "ntu61", "--src", src, "--out", str(tmp_path / "s")])


def test_bundled_sample_is_real_small_and_usable(tmp_path, shared_data, capsys):
    import gzip

    from skelact.data import bundled_path

    root = bundled_path()
    files = [p for p in root.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 2 * 2**20
    assert (root / "PROVENANCE.md").is_file()
    for rel, shared in [
        ("ntu_rgbd/S001C001P001R001A001.skeleton", "ntu_rgbd/S001C001P001R001A001.skeleton"),
        ("ntu_rgbd/S001C001P001R001A050.skeleton", "ntu_rgbd/S001C001P001R001A050.skeleton"),
        ("kinetics_skeleton/__NrybzYzUg.json", "kinetics_skeleton/__NrybzYzUg.json"),
        ("florence3d/README.txt", "florence3d/README.txt"),
    ]:
        assert bundled_path(rel).read_bytes() == (shared_data / shared).read_bytes()
    features = gzip.decompress(bundled_path("florence3d/Florence_dataset_Features.txt.gz").read_bytes())
    assert features == (shared_data / "florence3d" / "Florence_dataset_Features.txt").read_bytes()

    out = tmp_path / "ntu"
    assert main(["prepare", "ntu60", "--src", "bundled", "--out", str(out), "--no-progress"]) == 0
    assert "prepared ntu60: 2 samples" in capsys.readouterr().out
    assert main(["info", "bundled:ntu_rgbd/S001C001P001R001A001.skeleton"]) == 0
    assert "103 frames" in capsys.readouterr().out
    assert main(["prepare", "msr3d", "--src", "bundled", "--out", str(tmp_path / "m")]) == 2
    assert "no bundled sample of msr3d" in capsys.readouterr().err


def test_prepare_and_info_florence3d_bundled(tmp_path, capsys):
    out = tmp_path / "florence"
    assert main(["prepare", "florence3d", "--src", "bundled", "--out", str(out), "--no-progress"]) == 0
    assert "prepared florence3d: 215 samples, 4016 frames" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layout"] == "florence8" and info["num_classes"] == 9
    assert [c["name"] for c in info["classes"]][:2] == ["wave", "drink from a bottle"]
    assert sum(c["samples"] for c in info["classes"]) == 215
    assert info["prepare"]["untracked_joints"] == 1457 and info["prepare"]["reader_revision"] == 2
    assert main(["info", str(out)]) == 0
    assert "0 all-zero samples; 1457 untracked joint positions written as zeros" in capsys.readouterr().out

    assert main(["info", "bundled:florence3d/Florence_dataset_Features.txt.gz"]) == 0
    text = capsys.readouterr().out
    assert "sequences  215  frames 4016" in text and "... 212 more sequences" in text


def test_info_kinetics_clip(shared_data, capsys):
    assert main(["info", str(shared_data / "kinetics_skeleton" / "__NrybzYzUg.json"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    [seq] = info["sequences"]
    assert (info["format"], info["layout"], seq["frames"]) == ("kinetics", "openpose18", 299)
    assert seq["empty_frames"] == 234  # frames with nobody, per the shared PROVENANCE
    assert seq["meta"]["label_name"] == "abseiling"
