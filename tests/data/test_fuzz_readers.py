"""Fuzzing the readers with mutated real files: a valid Skeleton or a SkeletonFormatError, never
anything else (no IndexError/ValueError/KeyError/UnicodeDecodeError/JSONDecodeError/MemoryError)."""

from __future__ import annotations

import contextlib
import gzip
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelact import SkeletonFormatError
from skelact.data import LAYOUTS, iter_samples
from skelact.data.formats import ntu

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# (relative path, lines kept from the start (None = all)); names are kept so detection works.
SOURCES = [
    ("ntu_rgbd/S001C001P001R001A001.skeleton", None),  # LF, one body
    ("ntu_rgbd/S001C001P001R001A011.skeleton", None),  # CRLF
    ("ntu_rgbd/S017C003P020R002A054.skeleton", None),  # two bodies
    ("kinetics_skeleton/__vOysOPoCY.json", None),  # compact JSON, empty frames
    ("kinetics_skeleton/--33Lscn6sk.json", 4000),  # pretty-printed (cut: mostly invalid JSON)
    ("ntu_rgb_openpose_json/S004C003P003R001A007_rgb.json", None),
    ("msr_action3d/MSRAction3DSkeletonReal3D/a01_s01_e01_skeleton3D.txt", None),
    ("msr_action3d/MSRAction3DSkeleton20joints/a01_s01_e01_skeleton.txt", None),  # CRLF, 1.2e+002
    ("florence3d/Florence_dataset_Features.txt", 300),
]

GARBAGE = [b"nan", b"NaN", b"inf", b"-inf", b"1e999", b"abc", b"-", b".", b"1.2.3", b"0x1F", b"\xff\xfe",
           b"\x00", b"\t", b"  ", b"", b"{", b"]", b'"pose"', b"null", b"true", b"99999999999999999999",
           b"-1", b"0", b"25", b"3", b"1e5", b",", b":"]


@contextlib.contextmanager
def _numpy_reader():
    """Switch the compiled NTU reader off for the duration."""
    old = os.environ.get(ntu.NO_C_ENV)
    os.environ[ntu.NO_C_ENV] = "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ[ntu.NO_C_ENV]
        else:
            os.environ[ntu.NO_C_ENV] = old


@st.composite
def mutations(draw, lines: list[bytes]):
    """Apply 1-3 random edits to the lines of a file; returns the new content."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "delete", "duplicate", "replace", "inject", "token", "byte"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            break
        if op == "truncate":
            text = b"\n".join(lines)
            cut = draw(st.integers(0, len(text)))
            lines = text[:cut].split(b"\n")
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "replace":
            lines[i] = draw(st.sampled_from(GARBAGE) | st.binary(max_size=30))
        elif op == "inject":
            tokens = lines[i].split(b" ")
            tokens.insert(draw(st.integers(0, len(tokens))), draw(st.sampled_from(GARBAGE)))
            lines[i] = b" ".join(tokens)
        elif op == "token":
            tokens = lines[i].split(b" ")
            tokens[draw(st.integers(0, len(tokens) - 1))] = draw(st.sampled_from(GARBAGE))
            lines[i] = b" ".join(tokens)
        else:
            text = bytearray(b"\n".join(lines))
            if text:
                text[draw(st.integers(0, len(text) - 1))] = draw(st.integers(0, 255))
            lines = bytes(text).split(b"\n")
    content = b"\n".join(lines)
    if draw(st.booleans()) and draw(st.integers(0, 4)) == 0:  # sometimes gzip, maybe cut short
        packed = gzip.compress(content)
        content = packed[: draw(st.integers(0, len(packed)))] if draw(st.booleans()) else packed
    return content


def _check(path, fmt=None):
    try:
        skeletons = list(iter_samples(path, format=fmt))
    except SkeletonFormatError as e:
        assert e.path == str(path)
        assert e.line is None or e.line >= 1
        if path.suffix == ".skeleton":  # the NumPy reader finds the same error
            with _numpy_reader(), pytest.raises(SkeletonFormatError) as again:
                list(iter_samples(path, format=fmt))
            assert str(again.value) == str(e)
        return
    if path.suffix == ".skeleton" and ntu.use_compiled():  # differential: compiled vs NumPy reader
        with _numpy_reader():
            slow = list(iter_samples(path, format=fmt))
        assert len(slow) == len(skeletons)
        for fast, ref in zip(skeletons, slow, strict=True):
            assert np.array_equal(fast.data.view(np.uint32), ref.data.view(np.uint32))
    assert skeletons
    for sk in skeletons:
        assert sk.data.dtype == np.float32 and sk.data.ndim == 4
        assert sk.data.shape[0] >= 1
        assert sk.data.shape[2] == LAYOUTS[sk.layout].num_joints
        assert np.isfinite(sk.data).all()
        assert "sample" in sk.meta


@pytest.mark.parametrize(("source", "keep"), SOURCES, ids=[s.rsplit("/", 1)[1] for s, _ in SOURCES])
def test_mutated_files_parse_or_raise_format_errors(request, sample_data, tmp_path_factory, source, keep):
    # the bundled files run everywhere; the others need ../shared/data
    root = sample_data if (sample_data / source).is_file() else request.getfixturevalue("shared_data")
    original = (root / source).read_bytes()
    lines = original.split(b"\n")[:keep]
    folder = tmp_path_factory.mktemp("fuzz")
    name = source.rsplit("/", 1)[1]
    if not (keep and name.endswith(".json")):  # the source itself parses (a cut JSON does not)
        path = folder / name
        path.write_bytes(b"\n".join(lines))
        assert list(iter_samples(path))

    @FUZZ
    @given(content=mutations(lines))
    def run(content):
        path = folder / (name + ".gz" if content[:2] == b"\x1f\x8b" else name)
        path.write_bytes(content)
        _check(path)
        path.unlink()

    run()
