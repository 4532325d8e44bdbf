"""The compiled NTU reader (``_cntu``): built, bit-identical to the NumPy reader and to ``float()``,
and it hands everything it does not accept to the NumPy reader (which locates the errors)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prerequisites import require

import skelact
from skelact.data.formats import ntu

OPTIONS = [
    {},
    {"channels": "all"},
    {"body_selection": "first"},
    {"body_selection": "track"},
    {"max_bodies": 1},
    {"max_bodies": 4, "candidates": 4},
    {"channels": ("depthX", "x", "depthX", "trackingState")},
]


@pytest.fixture(scope="module")
def cntu():
    require(ntu._cntu is not None, "the compiled NTU reader is not built", "pip install -e . builds it")
    return ntu._cntu


def test_compiled_reader_is_built():
    """setup.py builds it as optional (so an install without a compiler still works); where a
    compiler is present, as on CI, a silently missing build would lose the fast path."""
    import shutil

    require(shutil.which("cc") or shutil.which("gcc"), "no C compiler here")
    assert ntu._cntu is not None, "skelact.data.formats._cntu was not built (pip install -e . builds it)"
    assert ntu.use_compiled()


def _load_both(path, monkeypatch, **options):
    monkeypatch.delenv(ntu.NO_C_ENV, raising=False)
    fast = skelact.load(path, **options)
    monkeypatch.setenv(ntu.NO_C_ENV, "1")
    slow = skelact.load(path, **options)
    monkeypatch.delenv(ntu.NO_C_ENV)
    return fast, slow


def _assert_same(fast, slow):
    assert fast.data.dtype == slow.data.dtype == np.float32
    assert fast.data.shape == slow.data.shape
    assert np.array_equal(fast.data.view(np.uint32), slow.data.view(np.uint32))  # bit for bit
    assert fast.meta.keys() == slow.meta.keys()
    for key, value in fast.meta.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == slow.meta[key].dtype and np.array_equal(value, slow.meta[key]), key
        else:
            assert value == slow.meta[key], key


def _option_id(options: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in options.items()) or "default"


@pytest.mark.parametrize("options", OPTIONS, ids=_option_id)
def test_bit_identical_to_the_numpy_reader_on_the_shared_files(cntu, sample_data, monkeypatch, options):
    """Every shared NTU file where ``../shared/data`` is (CI), else the two bundled ones."""
    from prerequisites import SHARED_DATA

    root = SHARED_DATA if SHARED_DATA.is_dir() else sample_data
    files = sorted((root / "ntu_rgbd").glob("*.skeleton"))
    assert len(files) == (8 if root == SHARED_DATA else 2)
    for path in files:
        _assert_same(*_load_both(path, monkeypatch, **options))


def _one_body_file(x_tokens: list[bytes], newline: bytes = b"\n") -> bytes:
    """A valid NTU file with one body per frame; joint 1's x of frame t is ``x_tokens[t]``."""
    lines = [str(len(x_tokens)).encode()]
    for x in x_tokens:
        lines += [b"1", b"72057594037931101 0 0 1 0 1 0 0.1 -0.2 2", b"25"]
        for j in range(25):
            first = x if j == 0 else b"0.5"
            lines.append(first + b" 0.25 -3.5 1 2 3 4 0.1 0.2 0.3 0.4 2")
    return newline.join(lines) + newline


def _x_values(cntu, content: bytes) -> np.ndarray:
    result = cntu.parse(content, bytes([0, 1, 2]), 4)
    assert result is not None
    nbodies, ids, values = (
        np.frombuffer(b, dtype=d) for b, d in zip(result, ("<i8", "<i8", "<f8"), strict=True)
    )
    assert (nbodies == 1).all() and (ids == 72057594037931101).all()
    return values.reshape(-1, 25, 3)[:, 0, 0]


def _bits(values) -> list[int]:
    return [struct.unpack("<Q", struct.pack("<d", v))[0] for v in values]


# Plain decimals as Kinect writes them, exponent forms (C# writes tiny values as -4.248406E-05),
# and the edge cases of the fast path: 19+ significant digits, powers beyond 10**22, signed zeros.
FIXED = [
    b"0", b"-0", b"-0.0", b"+1.5", b"1.", b".5", b"-4.248406E-05", b"1.2e+002", b"3E0", b"1e22", b"1e23",
    b"1e-22", b"1e-23", b"9007199254740993", b"0.1234567890123456789012", b"123456789012345678901234",
    b"0.000000000000000000000000001", b"1.7976931348623157e308", b"4.9e-324", b"-2.2250738585072014e-308",
]  # fmt: skip


def test_fixed_tokens_match_float(cntu):
    values = _x_values(cntu, _one_body_file(FIXED))
    assert _bits(values) == _bits([float(t) for t in FIXED])


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False).map(lambda v: repr(v).encode()),
            st.floats(-10, 10, allow_nan=False).map(lambda v: f"{v:.6f}".encode()),
            st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.7E}".encode()),
            st.from_regex(r"\A[+-]?[0-9]{0,25}\.[0-9]{1,25}\Z").map(str.encode),
            st.from_regex(r"\A-?[0-9]{1,20}[eE][+-]?[0-9]{1,3}\Z").map(str.encode),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_numbers_are_bit_identical_to_float(cntu, tokens, newline):
    expected = [float(t) for t in tokens]
    content = _one_body_file(tokens, newline)
    if not all(np.isfinite(expected)):  # e.g. 1e999: not a value the reader accepts
        assert cntu.parse(content, bytes([0, 1, 2]), 4) is None
        return
    assert _bits(_x_values(cntu, content)) == _bits(expected)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda c: c.replace(b"0.25 -3.5", b"0.25  -3.5", 1), "two spaces"),
        (lambda c: c.replace(b"0.25 -3.5", b"0.25\t-3.5", 1), "a tab"),
        (lambda c: c.replace(b"\n25\n", b"\n\n25\n", 1), "a blank line"),
        (lambda c: b" " + c, "leading space"),
        (lambda c: c.replace(b"0.5 0.25", b"nan 0.25", 1), "nan"),
        (lambda c: c.replace(b"0.5 0.25", b"1_0 0.25", 1), "an underscore (float() accepts it)"),
        (lambda c: c.replace(b"0.5 0.25", b"1e999 0.25", 1), "an infinite value"),
        (lambda c: c.replace(b"\n25\n", b"\n025\n", 1), "joint count 025"),
        (lambda c: c.replace(b"\n25\n", b"\n24\n", 1), "joint count 24"),
        (lambda c: c.replace(b"\n1\n", b"\n+1\n", 1), "a signed body count"),
        (lambda c: c + b"1\n", "data after the last frame"),
        (lambda c: c[: len(c) // 2], "truncated"),
        (lambda c: c.replace(b"72057594037931101", b"1234567890123456789012", 1), "a bodyID beyond int64"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_irregular_or_bad_input_is_left_to_the_numpy_reader(cntu, edit, why):
    content = _one_body_file([b"0.5", b"0.75"])
    assert cntu.parse(content, bytes([0, 1, 2]), 4) is not None
    assert cntu.parse(edit(content), bytes([0, 1, 2]), 4) is None, why


def test_unrequested_columns_and_positions_are_not_converted(cntu):
    content = _one_body_file([b"0.5"]).replace(b"0.1 0.2 0.3 0.4 2", b"0.1 0.2 0.3 0.4 oops", 1)
    assert cntu.parse(content, bytes([0, 1, 2]), 4) is not None  # trackingState not asked for
    assert cntu.parse(content, bytes([0, 11]), 4) is None
    result = cntu.parse(content, bytes([0, 11]), 0)  # no record converted: only the structure is read
    assert result is not None and len(result[1]) == 0 and len(result[2]) == 0


def test_bad_column_index_is_a_value_error(cntu):
    with pytest.raises(ValueError, match="column"):
        cntu.parse(b"1\n0\n", bytes([12]), 4)


def test_frames_without_bodies(cntu):
    result = cntu.parse(b"3\r\n0\r\n0\r\n0\r\n\r\n", bytes([0, 1, 2]), 4)
    assert result is not None
    assert np.frombuffer(result[0], dtype="<i8").tolist() == [0, 0, 0]
