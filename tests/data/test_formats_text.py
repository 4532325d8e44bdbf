"""The vectorised tokeniser and number parser: bit-exact agreement with float()/int(), errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelact import SkeletonFormatError
from skelact.data.formats import _text

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

digits = st.text(alphabet="0123456789", min_size=1, max_size=12)
plain_decimals = st.builds(
    lambda sign, whole, frac: sign + whole + ("." + frac if frac is not None else ""),
    st.sampled_from(["", "-", "+"]),
    digits,
    st.none() | st.text(alphabet="0123456789", min_size=0, max_size=9),
)
other_numbers = st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr) | st.sampled_from(
    ["1e5", "-2.5E-03", "1.2000000e+002", ".5", "-.25", "5.", "0.000000000000000000001", "123456789012345678"]
)


def _tokens(words: list[str]) -> _text.Tokens:
    return _text.tokenize(" ".join(words).encode(), "mem.txt")


@SETTINGS
@given(st.lists(plain_decimals | other_numbers, min_size=1, max_size=40))
def test_parse_floats_is_bit_exact(words):
    tok = _tokens(words)
    got = _text.parse_floats(tok, np.arange(len(words)))
    expected = np.array([float(w) for w in words])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.view(np.int64), expected.view(np.int64))  # same bits, incl. -0.0


@SETTINGS
@given(st.lists(st.integers(-(10**17), 10**17) | st.integers(-(2**62), 2**62), min_size=1, max_size=30))
def test_parse_ints_is_exact(values):
    tok = _tokens([str(v) for v in values])
    assert _text.parse_ints(tok, np.arange(len(values))).tolist() == values


def test_parse_selected_tokens_in_any_shape():
    tok = _text.tokenize(b"1 2 3\n4.5 -6 7e1\n8 9 10", "m")
    assert len(tok) == 9
    assert tok.line_end.tolist() == [False, False, True] * 3
    got = _text.parse_floats(tok, np.array([[8, 0], [4, 5]]))
    assert got.tolist() == [[10.0, 1.0], [-6.0, 70.0]]
    assert _text.read_table(tok, 3).tolist() == [[1, 2, 3], [4.5, -6, 70], [8, 9, 10]]


def test_first_token_at_file_start_and_short_files():
    tok = _text.tokenize(b"7", "m")
    assert _text.parse_floats(tok, [0]).tolist() == [7.0]
    assert _text.parse_ints(tok, [0]).tolist() == [7]


@pytest.mark.parametrize(
    ("raw", "line", "match"),
    [
        (b"1 2\n3 x\n", 2, "'x'"),
        (b"1 2\n3 nan\n", 2, "not finite"),
        (b"1 2\n3 -inf\n", 2, "not finite"),
        (b"1 2\n3 1e999\n", 2, "not finite"),
        (b"1 2\n3 1..2\n", 2, "'1..2'"),
        (b"1 2\n3 --4\n", 2, "'--4'"),
        (b"1 2\n3 4\n5 \xff\n", 3, "number"),
    ],
)
def test_bad_numbers_name_their_line(raw, line, match):
    tok = _text.tokenize(raw, "bad.txt")
    with pytest.raises(SkeletonFormatError, match=match) as info:
        _text.parse_floats(tok, np.arange(len(tok)))
    assert info.value.line == line and info.value.path == "bad.txt"


def test_whitespace_is_canonicalised_without_moving_lines():
    tok = _text.tokenize(b"  1\t 2  \r\n3   4\r\n\r\n \n", "m")
    assert _text.read_table(tok, 2).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(SkeletonFormatError, match="blank line") as info:
        _text.tokenize(b"1 2\n\n3 4\n", "m")
    assert info.value.line == 2
    with pytest.raises(SkeletonFormatError, match="control character") as info:
        _text.tokenize(b"1 2\n3\x004\n", "m")
    assert info.value.line == 2
    with pytest.raises(SkeletonFormatError, match="empty") as info:
        _text.tokenize(b" \n\t\n", "m")
    assert info.value.line == 1


def test_read_table_checks_every_line():
    with pytest.raises(SkeletonFormatError, match="expected 3 values per line, found 2") as info:
        _text.read_table(_text.tokenize(b"1 2 3\n4 5 6\n7 8\n", "m"), 3)
    assert info.value.line == 3
    with pytest.raises(SkeletonFormatError, match="expected 28 or 48 values per line, found 3") as info:
        _text.read_table(_text.tokenize(b"1 2 3\n", "m"), (28, 48))
    assert info.value.line == 1


def test_crlf_lf_and_mixed_line_ends_give_the_same_tokens():
    expected = [[1.5, -2.0], [3.0, 4.25]]
    for raw in (b"1.5 -2\n3 4.25\n", b"1.5 -2\r\n3 4.25\r\n", b"1.5 -2\r\n3 4.25\n"):
        tok = _text.tokenize(raw, "m")
        assert _text.read_table(tok, 2).tolist() == expected, raw
        assert [tok.text(k) for k in range(len(tok))] == [b"1.5", b"-2", b"3", b"4.25"]
        assert tok.starts.tolist() == [raw.index(t) for t in (b"1.5", b"-2", b"3 ", b"4.25")]
    with pytest.raises(SkeletonFormatError, match="found 1") as info:
        _text.read_table(_text.tokenize(b"1 2\r\n3\r\n", "m"), 2)
    assert info.value.line == 2
    # A lone carriage return is not a line end (old Mac files are not supported): whitespace.
    assert _text.read_table(_text.tokenize(b"1.5 -2\r3 4.25\r", "m"), 4).tolist() == [[1.5, -2, 3, 4.25]]
