"""skelact.load / iter_samples / detect_format: dispatch, detection, gzip, options."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from prerequisites import RealFiles

import skelact
from skelact import ConfigError, SkeletonFormatError
from skelact.data import detect_format, io, iter_samples


class _Files(dict):
    """One real file per format; looked up when used, so a test of a bundled format runs on a
    fresh clone and only the MSRAction3D one needs ``../shared/data``."""

    def __init__(self, request, sample_data):
        super().__init__()
        self.request = request
        self.where = {
            "ntu": RealFiles(request, sample_data, "ntu_rgbd") / "S001C001P001R001A001.skeleton",
            "kinetics": RealFiles(request, sample_data, "kinetics_skeleton") / "__NrybzYzUg.json",
            "florence": RealFiles(request, sample_data, "florence3d") / "Florence_dataset_Features.txt",
        }

    def __getitem__(self, fmt):
        if fmt == "msr3d":
            shared = self.request.getfixturevalue("shared_data")
            return shared / "msr_action3d" / "MSRAction3DSkeletonReal3D" / "a02_s01_e01_skeleton3D.txt"
        return self.where[fmt]


@pytest.fixture
def files(request, sample_data):
    return _Files(request, sample_data)


@pytest.mark.parametrize("fmt", ["ntu", "kinetics", "msr3d", "florence"])
def test_detect_by_name(files, fmt):
    assert detect_format(files[fmt]) == fmt


@pytest.mark.parametrize("fmt", ["ntu", "kinetics", "msr3d", "florence"])
def test_detect_by_content(files, tmp_path, fmt):
    anonymous = tmp_path / "sample.dat"
    anonymous.write_bytes(files[fmt].read_bytes())
    assert detect_format(anonymous) == fmt
    packed = tmp_path / "sample.dat.gz"
    packed.write_bytes(gzip.compress(files[fmt].read_bytes()))
    assert detect_format(packed) == fmt


def test_msr_screen_form_detected_by_content(shared_data, tmp_path):
    src = shared_data / "msr_action3d" / "MSRAction3DSkeleton20joints" / "a02_s01_e01_skeleton.txt"
    anonymous = tmp_path / "x.txt"
    anonymous.write_bytes(src.read_bytes())
    assert detect_format(anonymous) == "msr3d"
    assert skelact.load(anonymous).meta["coordinates"] == "screen"


def test_undetectable_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello world\n")
    with pytest.raises(SkeletonFormatError, match="cannot tell the format"):
        skelact.load(path)


def test_load_and_iter_samples_agree(files):
    for fmt in ("ntu", "kinetics", "msr3d"):
        (only,) = list(iter_samples(files[fmt]))
        np.testing.assert_array_equal(only.data, skelact.load(files[fmt], format=fmt).data)
        assert skelact.data.load is io.load
    florence = list(iter_samples(files["florence"], format="florence"))
    assert len(florence) == 215


def test_gzip_load(files, tmp_path):
    packed = tmp_path / "__NrybzYzUg.json.gz"
    packed.write_bytes(gzip.compress(files["kinetics"].read_bytes()))
    sk = skelact.load(packed)
    np.testing.assert_array_equal(sk.data, skelact.load(files["kinetics"]).data)
    assert sk.meta["sample"] == "__NrybzYzUg"
    broken = tmp_path / "broken.skeleton.gz"
    broken.write_bytes(gzip.compress(files["ntu"].read_bytes())[:200])
    with pytest.raises(SkeletonFormatError, match="gzip"):
        skelact.load(broken)


def test_option_errors(files):
    with pytest.raises(ConfigError, match="unknown format"):
        skelact.load(files["ntu"], format="bvh")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) 'confidence' for format 'ntu'"):
        skelact.load(files["ntu"], confidence=True)
    with pytest.raises(ConfigError, match="known: channels, body_selection"):
        skelact.load(files["ntu"], colour=True)
    for bad in ({"max_bodies": "two"}, {"max_bodies": True}, {"max_bodies": 1.5}, {"candidates": 0},
                {"channels": 5}, {"noise_spread": "wide"}, {"body_selection": None}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            skelact.load(files["ntu"], **bad)
    with pytest.raises(ConfigError, match="candidates"):
        skelact.load(files["kinetics"], candidates=-1)
    assert skelact.load(files["ntu"], max_bodies=3.0).data.shape[1] == 3


def test_explicit_format_overrides_the_name(files, tmp_path):
    wrong = tmp_path / "a01_s01_e01.skeleton"  # looks like NTU and MSR by name; holds Kinetics JSON
    wrong.write_bytes(files["kinetics"].read_bytes())
    assert skelact.load(wrong, format="kinetics").layout == "openpose18"
    with pytest.raises(SkeletonFormatError):
        skelact.load(wrong)  # parsed as NTU: the JSON is not a .skeleton file


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        skelact.load(tmp_path / "nope.skeleton")
