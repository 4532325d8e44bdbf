"""MSRAction3D reader: both released forms, all-zero frames, metadata, errors."""

from __future__ import annotations

import numpy as np
import pytest

import skelact
from skelact import SkeletonFormatError


@pytest.fixture(scope="module")
def msr(shared_data):
    return shared_data / "msr_action3d"


def _real3d(msr, name):
    return msr / "MSRAction3DSkeletonReal3D" / f"{name}_skeleton3D.txt"


def _screen(msr, name):
    return msr / "MSRAction3DSkeleton20joints" / f"{name}_skeleton.txt"


def test_real3d_values_equal_the_raw_text(msr):
    path = _real3d(msr, "a01_s01_e01")
    rows = np.array([line.split() for line in path.read_text().splitlines()], dtype=np.float64)
    sk = skelact.load(path)
    assert sk.layout == "kinect20" and sk.data.dtype == np.float32
    assert sk.data.shape == (rows.shape[0] // 20, 1, 20, 3)
    np.testing.assert_array_equal(sk.data.reshape(-1, 3), rows[:, :3].astype(np.float32))
    assert sk.data[0, 0, 0].tolist() == [np.float32(-0.371736), np.float32(0.371031), np.float32(2.674849)]
    assert sk.meta["coordinates"] == "world" and sk.meta["channels"] == ("x", "y", "z")
    assert {k: sk.meta[k] for k in ("sample", "label", "action", "subject", "replication")} == {
        "sample": "a01_s01_e01", "label": 0, "action": 1, "subject": 1, "replication": 1,
    }
    with_c = skelact.load(path, confidence=True)
    assert with_c.meta["channels"] == ("x", "y", "z", "confidence")
    np.testing.assert_array_equal(with_c.data.reshape(-1, 4), rows.astype(np.float32))


def test_screen_form_crlf_scientific_notation(msr):
    path = _screen(msr, "a01_s01_e01")
    raw = path.read_bytes()
    assert b"\r\n" in raw and b"e+002" in raw
    sk = skelact.load(path, confidence=True)
    assert sk.meta["coordinates"] == "screen" and sk.meta["channels"] == ("u", "v", "depth", "confidence")
    assert sk.data[0, 0, 0].tolist() == [120.0, 80.0, 669.0, 1.0]
    assert sk.data[0, 0, 2].tolist() == [139.0, 75.0, 646.0, 0.0]
    assert sk.num_frames == skelact.load(_real3d(msr, "a01_s01_e01")).num_frames


def test_frame_counts_differ_only_where_provenance_says(msr):
    assert skelact.load(_real3d(msr, "a13_s09_e03")).num_frames == 196
    assert skelact.load(_screen(msr, "a13_s09_e03")).num_frames == 255


def test_all_zero_sequences_are_kept_and_flagged(msr):
    empty = skelact.load(_real3d(msr, "a13_s09_e02"))
    assert empty.data.shape == (38, 1, 20, 3) and not empty.data.any()
    assert empty.meta["all_zero"] and empty.meta["num_zero_frames"] == 38
    partly = skelact.load(_real3d(msr, "a07_s04_e01"))
    assert partly.meta["num_zero_frames"] == 36 and not partly.meta["all_zero"]
    zero = partly.meta["zero_frames"]
    assert zero.shape == (45,) and zero.dtype == bool
    assert not partly.data[zero].any() and (np.abs(partly.data[~zero]).sum(axis=(1, 2, 3)) > 0).all()


def test_form_by_content_when_the_name_says_nothing(msr, tmp_path):
    screen = tmp_path / "a02_s03_e01.txt"
    screen.write_bytes(_screen(msr, "a02_s03_e01").read_bytes())
    assert skelact.load(screen).meta["coordinates"] == "screen"
    world = tmp_path / "a02_s03_e01.txt"
    world.write_bytes(_real3d(msr, "a02_s03_e01").read_bytes())
    assert skelact.load(world).meta["coordinates"] == "world"
    assert skelact.load(world, coordinates="screen").meta["channels"] == ("u", "v", "depth")
    with pytest.raises(skelact.ConfigError, match="coordinates"):
        skelact.load(world, coordinates="pixels")


def test_errors_name_file_and_line(msr, tmp_path):
    lines = _real3d(msr, "a01_s01_e01").read_text().splitlines()
    path = tmp_path / "a01_s01_e01_skeleton3D.txt"

    path.write_text("\n".join(lines[:59]) + "\n")  # 2 full frames + 19 lines
    with pytest.raises(SkeletonFormatError, match="incomplete frame") as info:
        skelact.load(path)
    assert info.value.line == 41

    bad = list(lines)
    bad[30] = "0.1 0.2 0.3"
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(SkeletonFormatError, match="expected 4 values per line, found 3") as info:
        skelact.load(path)
    assert info.value.line == 31

    bad = list(lines)
    bad[44] = "0.1 NaN 0.3 1"
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(SkeletonFormatError, match="not finite") as info:
        skelact.load(path)
    assert info.value.line == 45 and info.value.path == str(path)
