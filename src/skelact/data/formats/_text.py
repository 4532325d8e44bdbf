"""Vectorised tokenising and number parsing for the whitespace-separated text formats.

The text readers (NTU ``.skeleton``, MSRAction3D, Florence3D) read files made of lines of numbers.
Parsing them token by token in Python (``line.split()`` + ``float``) costs microseconds per line,
and NTU RGB+D has 114,480 files of ~30k-100k tokens. This module parses a whole file with a few
NumPy passes instead:

1. :func:`tokenize` finds the separators with one comparison and one ``flatnonzero`` over the
   file, after checking that the whitespace is *canonical* (tokens separated by exactly one space,
   LF or CRLF). Files with other whitespace (tabs, runs of spaces, leading or trailing spaces) are
   first rewritten line by line to the canonical form, so line numbers never change.
2. :func:`parse_floats` converts only the tokens a reader asks for. Each token is right-aligned in
   a 16-byte window, gathered as one 16-byte item from an overlapping (stride-1) view of the file,
   with the bytes before the token cleared. The digits are combined SWAR-style (SIMD within a
   register) on the two little-endian 64-bit words of the window: three multiply-add-mask rounds
   turn 8 digit bytes into one 8-digit number; the dot is read as a 0 digit and its column comes
   from one multiplication. This gives an integer ``total`` below 10**15 (exact in float64), then
   the exact integer mantissa, and the value ``mantissa / 10**decimals``: a single correctly
   rounded division of two exact operands, hence bit-identical to ``float(token)``. Tokens outside
   the plain ``[+-]digits[.digits]`` form of at most 15 characters (exponents, ``nan``, garbage)
   fall back to ``float()`` one by one; anything that is not a finite number raises
   :class:`~skelact.SkeletonFormatError`.
3. Line numbers are not tracked while parsing; when an error needs one it is computed from the
   token's byte offset (newlines before it + 1).

Nothing here lets ``ValueError``/``IndexError``/``UnicodeDecodeError`` escape: malformed input
raises :class:`~skelact.SkeletonFormatError` naming the file and the 1-based line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...errors import SkeletonFormatError

_SPACE, _NEWLINE, _CR, _MINUS, _PLUS, _DOT, _ZERO = 32, 10, 13, 45, 43, 46, 48

# Float windows: 16 characters; at most 15 of them digits and dot (sign excluded), so the digit sum
# ``total`` stays below 10**15 < 2**53. Integer windows: 24 characters, at most 18 digits (int64).
_FLOAT_WIDTH = 16
_MAX_DIGITS_AND_DOT = 15
_INT_WIDTH = 24
_MAX_INT_DIGITS = 18

_POW10 = 10.0 ** np.arange(_INT_WIDTH + 1)
# Indexed by 2 * decimals + has_dot: 10**(d + 1) and 9 * 10**d with a dot, inf and 0 without.
_DOT_SCALE = np.stack([np.full(_FLOAT_WIDTH, np.inf), 10.0 ** np.arange(1, _FLOAT_WIDTH + 1)], axis=1).ravel()
_DOT_NINES = np.stack([np.zeros(_FLOAT_WIDTH), 9 * 10.0 ** np.arange(_FLOAT_WIDTH)], axis=1).ravel()

_U64 = np.uint64
_ZERO_TOKEN = np.array([0, 0x30 << 56], dtype=_U64)  # the window of the token "0"
_MAX_EXPONENT_SEARCH = 256
# 2 * (15 - column) + 1 for a dot at byte b of the low / high word of a float window, as byte 7 - b.
_ROW_LO = _U64(0x1F1D1B1917151311)
_ROW_HI = _U64(0x0F0D0B0907050301)
# SWAR rounds merging digit lanes of 1, 2 and 4 digits: (multiplier, shift, mask of merged lanes).
_SWAR_ROUNDS = (
    (_U64(1 + (10 << 8)), _U64(8), _U64(0x00FF00FF00FF00FF)),
    (_U64(1 + (100 << 16)), _U64(16), _U64(0x0000FFFF0000FFFF)),
    (_U64(1 + (10000 << 32)), _U64(32), _U64(0x00000000FFFFFFFF)),
)
# _KEEP[b]: the bytes of a little-endian word after its first b bytes.
_KEEP = np.array([(0xFFFFFFFFFFFFFFFF << (8 * b)) & 0xFFFFFFFFFFFFFFFF for b in range(8)] + [0], dtype=_U64)


def _pad_masks(width: int) -> np.ndarray:
    """Per number of leading bytes p (0..width) to clear: the window mask, one ``V<width>`` item."""
    before = np.clip(np.arange(width + 1)[:, None] - np.arange(0, width, 8)[None, :], 0, 8)
    return np.ascontiguousarray(_KEEP[before]).view(f"V{width}").ravel()  # (width + 1,)


_PAD_MASKS = {width: _pad_masks(width) for width in (_FLOAT_WIDTH, _INT_WIDTH)}


@dataclass(frozen=True)
class Tokens:
    """Byte spans of the whitespace-separated tokens of one text file.

    Attributes:
        buf: the file content (possibly followed by whitespace, which is not part of any token).
            Tokens are separated by exactly one ``b" "``, one ``b"\\n"`` or one ``b"\\r\\n"``.
        bytes_: uint8 view of ``buf`` up to the end of the last token.
        ends: int64 ``(n,)``; token ``k`` ends at ``ends[k]`` (exclusive), where its separator is;
            token ``k + 1`` starts right after that separator.
        line_end: bool ``(n,)``; token ``k`` is the last one on its line.
        path: the file name used in error messages.
        crlf: whether some separators are ``b"\\r\\n"`` (two bytes).
    """

    buf: bytes
    bytes_: np.ndarray
    ends: np.ndarray
    line_end: np.ndarray
    path: str
    crlf: bool = False

    def _after(self, sep: np.ndarray) -> np.ndarray:
        """Offsets of the first byte after separators at ``sep``."""
        after = sep + 1
        if self.crlf:
            after += self.bytes_[sep] == _CR
        return after

    @cached_property
    def starts(self) -> np.ndarray:
        """int64 ``(n,)`` start offsets (computed on first use)."""
        starts = np.empty_like(self.ends)
        starts[0] = 0
        starts[1:] = self._after(self.ends[:-1])
        return starts

    def spans(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) of tokens ``idx`` (int64 arrays), without building all starts."""
        ends = self.ends[idx]
        if idx.size and idx.min() > 0:
            return self._after(self.ends[idx - 1]), ends  # after the separator before each token
        first = idx == 0
        before = self.ends[idx - 1]  # wraps for token 0, which starts at 0
        before[first] = 0
        starts = self._after(before)
        starts[first] = 0
        return starts, ends

    def __len__(self) -> int:
        return int(self.ends.size)

    def text(self, k: int) -> bytes:
        """Raw bytes of token ``k``."""
        start = int(self._after(self.ends[k - 1 : k])[0]) if k else 0
        return self.buf[start : int(self.ends[k])]

    def line_of(self, k: int) -> int:
        """1-based line number of token ``k`` (``k >= len(self)``: the line after the last one)."""
        if k >= len(self):
            return self.buf.count(b"\n", 0, self.bytes_.size) + 2
        return self.buf.count(b"\n", 0, int(self.ends[k])) + 1

    def error(self, k: int, message: str) -> SkeletonFormatError:
        """A :class:`SkeletonFormatError` located at token ``k``."""
        return SkeletonFormatError(self.path, message, line=self.line_of(k))

    def int_at(self, k: int, what: str) -> int:
        """Token ``k`` as a Python int (for the few count tokens), or a located error."""
        if k >= len(self):
            raise self.error(k, f"file ends early: expected {what}")
        tok = self.text(k)
        try:
            return int(tok)
        except ValueError:
            raise self.error(k, f"expected {what} (an integer), found {show(tok)}") from None


def show(tok: bytes) -> str:
    """A short printable rendering of a token for error messages."""
    text = tok[:40].decode("ascii", errors="replace")
    return repr(text + ("..." if len(tok) > 40 else ""))


# --- tokenising ------------------------------------------------------------------------------


def tokenize(raw: bytes, path: str) -> Tokens:
    """Split a text file into tokens (see the module docstring).

    LF and CRLF line ends are both accepted; whitespace at the end of the file is ignored; a blank
    line or a control character inside the data is an error (with its line number).
    """
    tok = _split(raw, path)
    if tok is None:  # irregular whitespace: canonicalise line by line, then it must be regular
        raw = _canonical(raw[: _content_size(raw)], path)
        tok = _split(raw, path)
        if tok is None:
            a = np.frombuffer(raw, dtype=np.uint8)
            bad = int(np.flatnonzero((a < _SPACE) & (a != _NEWLINE))[0])
            line = raw.count(b"\n", 0, bad) + 1
            raise SkeletonFormatError(path, f"unexpected control character {chr(a[bad])!r}", line=line)
    return tok


def _content_size(raw: bytes) -> int:
    """Length of ``raw`` without its trailing whitespace (no copy of the content)."""
    size = len(raw)
    while size and raw[size - 1] <= _SPACE:
        size -= 1
    return size


def _canonical(raw: bytes, path: str) -> bytes:
    """Rewrite ``raw`` so tokens are separated by single spaces/newlines; keeps line numbers."""
    out = []
    for i, line in enumerate(raw.split(b"\n")):
        toks = line.split()
        if not toks:
            raise SkeletonFormatError(path, "unexpected blank line", line=i + 1)
        out.append(b" ".join(toks))
    return b"\n".join(out)


def _scratch(size: int) -> np.ndarray:
    """A reusable bool buffer of at least ``size`` entries (per thread).

    Tokenising needs two file-sized temporaries; allocating them per file costs page faults that
    are a large part of the parse time, so they are kept between calls.
    """
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.size < size:
        buf = _SCRATCH.buf = np.empty(max(size, 1 << 20), dtype=bool)
    return buf


_SCRATCH = threading.local()
_CR_BYTE = b"\r"


def _split(raw: bytes, path: str) -> Tokens | None:
    """Token spans if the whitespace of ``raw`` is canonical, else ``None``."""
    size = _content_size(raw)
    if size == 0:
        raise SkeletonFormatError(path, "file is empty", line=1)
    a = np.frombuffer(raw, dtype=np.uint8, count=size)
    scratch = _scratch(2 * size + 1)
    is_sep = scratch[: size + 1]
    np.less_equal(a, _SPACE, out=is_sep[:size])
    is_sep[size] = True  # a virtual separator after the last token
    crlf = _CR_BYTE in raw
    if crlf:  # b"\r\n" is one separator: the b"\r" ends the token, the b"\n" is skipped
        lf = np.flatnonzero(a == _CR) + 1  # never past the end: the content ends with a token
        if not (a[lf] == _NEWLINE).all():
            return None  # a lone carriage return
        is_sep[lf] = False
    ends = np.flatnonzero(is_sep)  # (n,) the separator after each token
    adjacent = np.logical_and(is_sep[1:size], is_sep[: size - 1], out=scratch[size + 1 : 2 * size])
    if is_sep[0] or np.count_nonzero(adjacent):
        return None  # leading whitespace, or an empty token between two separators
    seps = a[ends[:-1]]
    line_end = np.empty(ends.size, dtype=bool)
    np.equal(seps, _NEWLINE, out=line_end[:-1])
    if crlf:
        line_end[:-1] |= seps == _CR
    line_end[-1] = True
    if np.count_nonzero(line_end) - 1 + np.count_nonzero(seps == _SPACE) != seps.size:
        return None  # a tab or control character among the separators
    return Tokens(raw, a, ends, line_end, path, crlf)


# --- number parsing --------------------------------------------------------------------------


def _windows(tok: Tokens, idx: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned token characters as little-endian words ``(n, width / 8)`` uint64, and the
    token lengths ``(n,)``; ``words.view(np.uint8)`` is the ``(n, width)`` character matrix.

    Row ``i`` holds the ``width`` bytes that end where token ``idx[i]`` ends, the bytes before the
    token's start set to 0. The rows are gathered as single ``width``-byte items from an
    overlapping (stride-1) view of the file and masked as whole little-endian 8-byte words.
    """
    starts, ends = tok.spans(idx)
    lengths = ends - starts
    words = _items(tok.buf, width, ends - width).view("<u8").reshape(-1, width // 8)  # (n, width / 8)
    # Bytes before the token -> 0: a per-row mask, gathered as one item per row like the windows.
    words &= _PAD_MASKS[width][np.maximum(width - lengths, 0)].view("<u8").reshape(-1, width // 8)
    return words, lengths


def _items(buf: bytes, width: int, first: np.ndarray) -> np.ndarray:
    """The ``width``-byte windows of ``buf`` starting at offsets ``first`` (``(n,)`` of ``V<width>``).

    Windows that start before the file (tokens near its start) read b"0" there, from a small
    padded copy of the file's head.
    """
    items = np.ndarray(shape=(max(len(buf) - width + 1, 0),), dtype=f"V{width}", buffer=buf, strides=(1,))
    if first.min() >= 0:
        gathered: np.ndarray = items[first]
        return gathered
    early = first < 0
    head = b"0" * width + buf[:width].ljust(width, b"0")
    head_items = np.ndarray(shape=(width + 1,), dtype=f"V{width}", buffer=head, strides=(1,))
    out = np.empty(first.size, dtype=f"V{width}")
    out[~early] = items[first[~early]]
    out[early] = head_items[first[early] + width]
    return out


def _leading_sign(chars: np.ndarray, lengths: np.ndarray, plus: bool) -> tuple[np.ndarray, np.ndarray]:
    """(negative, signed) bool masks ``(n,)``: the token starts with ``-`` (or ``+`` if ``plus``)."""
    n, width = chars.shape
    pos = np.arange(width, n * width + 1, width) - np.minimum(lengths, width)  # first character
    first = chars.reshape(-1)[pos]
    neg = first == _MINUS
    return neg, (neg | (first == _PLUS)) if plus else neg


def _row_count(flags: np.ndarray) -> np.ndarray:
    """Set entries per row of a C-contiguous bool ``(n, 8k)`` matrix, int64 ``(n,)``; clobbers it.

    Each row is read as k little-endian words of 0/1 bytes; multiplying a word by 0x0101...01
    adds its 8 bytes into the top byte.
    """
    w = flags.view("<u8")  # (n, k)
    np.multiply(w, _U64(0x0101010101010101), out=w)
    np.right_shift(w, _U64(56), out=w)
    total = w[:, 0].astype(np.int64)
    for j in range(1, w.shape[1]):
        total += w[:, j].astype(np.int64)
    return total


def _swar_digits(words: np.ndarray) -> np.ndarray:
    """In place: each little-endian word of 8 digit-value bytes (0-9, first digit in the lowest
    byte) becomes the 8-digit number it spells.

    SWAR: three rounds merge adjacent lanes of 1, 2 and 4 digits. Multiplying by
    ``1 + (10**k << bits)`` adds ``10**k`` times each lane into the next one (never overflowing
    it); shifting right by ``bits`` moves the merged lanes down and the mask keeps every other one.
    """
    for scale, shift, mask in _SWAR_ROUNDS:
        np.multiply(words, scale, out=words)
        np.right_shift(words, shift, out=words)
        np.bitwise_and(words, mask, out=words)
    return words


def _digit_value(words: np.ndarray) -> np.ndarray:
    """The integer spelled by rows of digit-value words ``(n, k)``, float64 ``(n,)``; clobbers them.

    Exact while the result is below 2**53.
    """
    lanes = _swar_digits(words)
    total = lanes[:, 0].astype(np.float64)
    for j in range(1, lanes.shape[1]):
        total *= 1e8
        total += lanes[:, j]
    return total


def parse_floats(tok: Tokens, idx: np.ndarray, what: str = "value") -> np.ndarray:
    """Parse tokens ``idx`` (any shape) as finite float64, exactly as ``float()`` would.

    Raises:
        SkeletonFormatError: at the line of the first token that is not a finite number.
    """
    idx = np.asarray(idx, dtype=np.int64)
    flat = idx.ravel()
    values = np.empty(flat.size, dtype=np.float64)
    if flat.size:
        words, lengths = _windows(tok, flat, _FLOAT_WIDTH)  # (n, 2) uint64, right-aligned
        # Exponent forms (Kinect's C# writes tiny values as "-4.248406E-05") are rare: they are
        # read as "0" here and by float() below, so the others keep the all-at-once checks.
        exponent = _exponent_rows(tok, flat)
        words[exponent] = _ZERO_TOKEN
        lengths[exponent] = 1
        chars = words.view(np.uint8)  # (n, 16)
        neg, signed = _leading_sign(chars, lengths, plus=True)
        # Digit values; every other byte (sign, dot, the cleared bytes before the token) wraps
        # to >= 10 and is then set to 0: the dot reads as a 0 digit.
        np.subtract(chars, np.uint8(_ZERO), out=chars)
        is_dot = chars == np.uint8(_DOT - _ZERO + 256)
        is_digit = chars <= 9
        np.multiply(chars, is_digit, out=chars)
        # row = 2 * decimals + has_dot, from the dot's column: a word holding the dot at byte b
        # is 1 << 8 b, so the top byte of word * K is byte 7 - b of K (K spells the rows).
        dots = is_dot.view("<u8")  # (n, 2)
        row = (dots[:, 0] * _ROW_LO) >> _U64(56)
        row += (dots[:, 1] * _ROW_HI) >> _U64(56)
        np.minimum(row, _U64(2 * _FLOAT_WIDTH - 1), out=row)  # bounded even for malformed tokens
        row = row.astype(np.intp)
        body = lengths - signed  # digits and dot
        ok = _plain_decimals(is_digit, is_dot, row, body)
        total = _digit_value(words)  # the digit columns as one integer (< 10**15, exact)
        # With d decimals, total = int_part * 10**(d + 1) + frac (the dot is a 0 column), so
        # mantissa = total - 9 * 10**d * floor(total / 10**(d + 1)); without a dot it is total.
        # total < 10**15, so the division rounds to the exact quotient: every step is exact.
        np.subtract(total, np.floor(total / _DOT_SCALE[row]) * _DOT_NINES[row], out=values)
        values /= _POW10[row >> 1]  # one correctly rounded division of exact values
        np.copyto(values, -values, where=neg)
        fallback = exponent if ok is True else np.union1d(exponent, np.flatnonzero(~ok))
        for i in fallback.tolist():
            values[i] = _float_token(tok, int(flat[i]), what)
    return values.reshape(idx.shape)


def _exponent_rows(tok: Tokens, flat: np.ndarray) -> np.ndarray:
    """Rows of ``flat`` whose token holds an ``E``/``e`` (found with ``bytes.find``: few, fast)."""
    buf, size = tok.buf, tok.bytes_.size
    letters: list[int] = []
    for letter in (b"E", b"e"):
        at = buf.find(letter, 0, size)
        while at >= 0 and len(letters) <= _MAX_EXPONENT_SEARCH:
            letters.append(at)
            at = buf.find(letter, at + 1, size)
    if not letters:
        return np.zeros(0, dtype=np.intp)
    found = np.asarray(letters)
    if len(letters) > _MAX_EXPONENT_SEARCH:  # many: a vectorised search
        a = tok.bytes_
        found = np.flatnonzero((a == ord("E")) | (a == ord("e")))
    marked = np.zeros(len(tok), dtype=bool)
    marked[np.searchsorted(tok.ends, found)] = True  # the token holding each letter
    return np.flatnonzero(marked[flat])


def _plain_decimals(
    is_digit: np.ndarray, is_dot: np.ndarray, row: np.ndarray, body: np.ndarray
) -> np.ndarray | bool:
    """Which tokens are plain decimals the vectorised parser read exactly.

    A token qualifies if, apart from a leading sign, it is digits and at most one dot, with at
    least one digit and at most 15 characters. Checked for all tokens at once with counts (per
    token, digits + dots <= body with equality exactly when all characters are digits or dots);
    only if that fails is each token looked at.

    Returns:
        True if every token qualifies, else a bool mask ``(n,)``.
    """
    has_dot = row > 0
    dots = np.count_nonzero(is_dot)
    if (
        np.count_nonzero(is_digit) + dots == body.sum()
        and dots == np.count_nonzero(has_dot)  # no token with two dots
        and (body - has_dot).min() >= 1
        and body.max() <= _MAX_DIGITS_AND_DOT
    ):
        return True
    n_dots = _row_count(is_dot)
    n_digits = _row_count(is_digit)
    ok: np.ndarray = (n_digits + n_dots == body) & (n_dots <= 1) & (n_digits >= 1)
    ok &= body <= _MAX_DIGITS_AND_DOT
    return ok


def _float_token(tok: Tokens, k: int, what: str) -> float:
    text = tok.text(k)
    try:
        value = float(text)
    except ValueError:
        raise tok.error(k, f"expected a number ({what}), found {show(text)}") from None
    if not np.isfinite(value):
        raise tok.error(k, f"{what} is not finite: {show(text)}")
    return value


def parse_ints(tok: Tokens, idx: np.ndarray, what: str = "integer") -> np.ndarray:
    """Parse tokens ``idx`` (any shape) as exact int64 (optionally signed decimal integers)."""
    idx = np.asarray(idx, dtype=np.int64)
    flat = idx.ravel()
    values = np.zeros(flat.size, dtype=np.int64)
    if flat.size:
        words, lengths = _windows(tok, flat, _INT_WIDTH)  # (n, 3) uint64, right-aligned
        chars = words.view(np.uint8)  # (n, 24)
        neg, _ = _leading_sign(chars, lengths, plus=False)
        np.subtract(chars, np.uint8(_ZERO), out=chars)
        is_digit = chars <= 9
        np.multiply(chars, is_digit, out=chars)
        n_digits = _row_count(is_digit)
        ok = (n_digits + neg == lengths) & (n_digits >= 1) & (n_digits <= _MAX_INT_DIGITS)
        lanes = _swar_digits(words).astype(np.int64)  # (n, 3) 8-digit numbers
        # Up to 18 digits: exact in int64.
        values[:] = (lanes[:, 0] * 10**8 + lanes[:, 1]) * 10**8 + lanes[:, 2]
        values[neg] = -values[neg]
        for i in np.flatnonzero(~ok):
            k = int(flat[i])
            text = tok.text(k)
            try:
                values[i] = int(text)
            except (ValueError, OverflowError):
                raise tok.error(k, f"expected {what} (an integer), found {show(text)}") from None
    return values.reshape(idx.shape)


# --- tables ----------------------------------------------------------------------------------


def line_lengths(tok: Tokens) -> np.ndarray:
    """Number of tokens on each line ``(n_lines,)`` (canonical files have no blank lines)."""
    return np.diff(np.flatnonzero(tok.line_end), prepend=-1)


def read_table(tok: Tokens, ncols: int | tuple[int, ...], what: str = "value") -> np.ndarray:
    """Parse a file whose every line holds the same number of numbers.

    Args:
        tok: the tokenised file.
        ncols: the allowed column count(s); the first line decides among several.

    Returns:
        float64 ``(n_lines, ncols)``.
    """
    allowed = (ncols,) if isinstance(ncols, int) else tuple(ncols)
    counts = line_lengths(tok)
    width = int(counts[0])
    if width not in allowed:
        expected = " or ".join(str(v) for v in allowed)
        raise SkeletonFormatError(tok.path, f"expected {expected} values per line, found {width}", line=1)
    bad = np.flatnonzero(counts != width)
    if bad.size:
        line = int(bad[0])
        raise SkeletonFormatError(
            tok.path, f"expected {width} values per line, found {int(counts[line])}", line=line + 1
        )
    return parse_floats(tok, np.arange(len(tok)).reshape(-1, width), what)
