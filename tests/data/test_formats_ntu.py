"""NTU RGB+D .skeleton reader: exact values against the raw text, body selection, errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from prerequisites import RealFiles, require

import skelact
from skelact import SkeletonFormatError
from skelact.data.formats import ntu

# Frames per file, from ../shared/data/ntu_rgbd/PROVENANCE.md.
FRAMES = {
    "S001C001P001R001A001": 103, "S001C001P001R001A011": 82, "S001C001P001R001A050": 74,
    "S003C001P015R001A034": 71, "S017C003P020R002A054": 42, "S017C003P020R002A055": 66,
    "S017C003P020R002A057": 76, "S017C003P020R002A058": 65,
}
TWO_BODY = ("S001C001P001R001A050", "S017C003P020R002A054", "S017C003P020R002A055",
            "S017C003P020R002A057", "S017C003P020R002A058")


def reference_bodies(path) -> list[list[tuple[int, np.ndarray]]]:
    """Independent line-by-line parse: per frame, a list of (bodyID, joints (25, 12) float64)."""
    lines = path.read_text().splitlines()
    i, frames = 1, []
    for _ in range(int(lines[0])):
        bodies = []
        nb = int(lines[i])
        i += 1
        for _ in range(nb):
            body_id = int(lines[i].split()[0])
            nj = int(lines[i + 1])
            joints = np.array([[float(v) for v in lines[i + 2 + j].split()] for j in range(nj)])
            bodies.append((body_id, joints))
            i += 2 + nj
        frames.append(bodies)
    return frames


def reference_energy(frames, max_body=4, keep=2) -> np.ndarray:
    """The official AS-GCN / 2s-AGCN read_xyz selection, written out plainly: (T, keep, 25, 3)."""
    data = np.zeros((max_body, len(frames), 25, 3))
    for t, bodies in enumerate(frames):
        for m, (_, joints) in enumerate(bodies[:max_body]):
            data[m, t] = joints[:, :3]
    energy = []
    for s in data:
        valid = s[s.sum(-1).sum(-1) != 0]
        energy.append(sum(valid[:, :, c].std() for c in range(3)) if len(valid) else 0.0)
    order = sorted(range(max_body), key=lambda m: -energy[m])[:keep]  # stable: ties keep order
    return data[order].transpose(1, 0, 2, 3).astype(np.float32)


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def reader(request, monkeypatch):
    """Every test here runs with the compiled reader (where built) and with the NumPy reader."""
    if request.param == "compiled":
        require(ntu.use_compiled(), "the compiled NTU reader is not built", "pip install -e . builds it")
        monkeypatch.delenv(ntu.NO_C_ENV, raising=False)
    else:
        monkeypatch.setenv(ntu.NO_C_ENV, "1")
    return request.param


@pytest.fixture(scope="module")
def ntu_dir(request, sample_data):
    return RealFiles(request, sample_data, "ntu_rgbd")


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_matches_reference_parse(ntu_dir, name):
    path = ntu_dir / f"{name}.skeleton"
    frames = reference_bodies(path)
    sk = skelact.load(path)
    assert sk.layout == "ntu25"
    assert sk.data.dtype == np.float32
    assert sk.data.shape == (FRAMES[name], 2, 25, 3)
    np.testing.assert_array_equal(sk.data, reference_energy(frames))

    first = skelact.load(path, body_selection="first").data
    expected = np.zeros_like(first)
    for t, bodies in enumerate(frames):
        for m, (_, joints) in enumerate(bodies[:2]):
            expected[t, m] = joints[:, :3]
    np.testing.assert_array_equal(first, expected)
    assert sk.meta["bodies_per_frame"].tolist() == [len(b) for b in frames]

    # Every one of the 12 per-joint fields, bit for bit as float() reads the text.
    every = skelact.load(path, body_selection="first", channels="all").data
    expected = np.zeros_like(every)
    for t, bodies in enumerate(frames):
        for m, (_, joints) in enumerate(bodies[:2]):
            expected[t, m] = joints
    np.testing.assert_array_equal(every, expected)


def test_first_joint_equals_raw_text(ntu_dir):
    path = ntu_dir / "S001C001P001R001A001.skeleton"
    lines = path.read_text().splitlines()
    assert lines[:2] == ["103", "1"] and lines[3] == "25"
    x, y, z = (np.float32(float(v)) for v in lines[4].split()[:3])
    sk = skelact.load(path)
    assert sk.data[0, 0, 0].tolist() == [x, y, z]
    assert sk.data[0, 0, 0].tolist() == [np.float32(0.2181153), np.float32(0.1725972), np.float32(3.785547)]
    assert not sk.data[:, 1].any()  # single-person file: the second slot is zeros
    assert sk.meta["body_ids"][0].tolist() == [72057594037931101, -1]


def test_meta_from_name(ntu_dir):
    sk = skelact.load(ntu_dir / "S017C003P020R002A055.skeleton")
    assert sk.meta["sample"] == "S017C003P020R002A055"
    assert {k: sk.meta[k] for k in ("setup", "camera", "subject", "replication", "action", "label")} == {
        "setup": 17, "camera": 3, "subject": 20, "replication": 2, "action": 55, "label": 54,
    }
    assert sk.meta["channels"] == ("x", "y", "z")
    # NTU120 names (setups up to S032, actions up to A120).
    assert ntu.parse_name("S032C003P106R002A120") == {
        "setup": 32, "camera": 3, "subject": 106, "replication": 2, "action": 120, "label": 119,
    }
    assert ntu.parse_name("not_a_sample") == {}


@pytest.mark.parametrize("name", TWO_BODY)
def test_two_body_files_have_two_bodies(ntu_dir, name):
    sk = skelact.load(ntu_dir / f"{name}.skeleton")
    assert (sk.meta["bodies_per_frame"] == 2).all()
    assert (np.abs(sk.data).sum(axis=(2, 3)) > 0).all()  # both slots filled in every frame
    ids = sk.meta["body_ids"]
    assert (ids >= 0).all() and (ids[:, 0] != ids[:, 1]).all()


def test_crlf_and_lf_parse_the_same(ntu_dir, tmp_path):
    crlf = ntu_dir / "S001C001P001R001A011.skeleton"
    raw = crlf.read_bytes()
    assert b"\r\n" in raw
    lf = tmp_path / crlf.name
    lf.write_bytes(raw.replace(b"\r\n", b"\n"))
    np.testing.assert_array_equal(skelact.load(crlf).data, skelact.load(lf).data)
    lf.write_bytes(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    np.testing.assert_array_equal(skelact.load(crlf).data, skelact.load(lf).data)


def test_irregular_whitespace_is_accepted(ntu_dir, tmp_path):
    src = ntu_dir / "S001C001P001R001A050.skeleton"
    lines = src.read_text().splitlines()
    lines = ["  " + line.replace(" ", " \t ") + "  " for line in lines]
    out = tmp_path / src.name
    out.write_text("\n".join(lines) + "\n\n")
    np.testing.assert_array_equal(skelact.load(out).data, skelact.load(src).data)


def test_gzip_is_transparent(ntu_dir, tmp_path):
    src = ntu_dir / "S003C001P015R001A034.skeleton"
    out = tmp_path / (src.name + ".gz")
    out.write_bytes(gzip.compress(src.read_bytes()))
    sk = skelact.load(out)
    np.testing.assert_array_equal(sk.data, skelact.load(src).data)
    assert sk.meta["sample"] == "S003C001P015R001A034"


def test_extra_channels_on_request(ntu_dir):
    path = ntu_dir / "S001C001P001R001A001.skeleton"
    lines = path.read_text().splitlines()
    sk = skelact.load(path, channels="all")
    assert sk.meta["channels"] == ntu.FIELDS
    assert sk.data.shape == (103, 2, 25, 12)
    np.testing.assert_array_equal(sk.data[0, 0, 1], np.array(lines[5].split(), dtype=np.float32))
    picked = skelact.load(path, channels=("colorX", "trackingState", "z"))
    assert picked.meta["channels"] == ("colorX", "trackingState", "z")
    np.testing.assert_array_equal(picked.data, sk.data[..., [5, 11, 2]])
    assert set(np.unique(sk.data[:, 0, :, 11])) <= {0.0, 1.0, 2.0}  # tracking states
    with pytest.raises(skelact.ConfigError, match="unknown NTU field"):
        skelact.load(path, channels=("x", "speed"))


def _ntu_text(frames: list[list[tuple[int, np.ndarray]]]) -> str:
    """Write frames of (bodyID, joints (25, 3)) in the .skeleton format (other fields constant)."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body_id, joints in bodies:
            out.append(f"{body_id} 0 1 1 1 1 0 0.1 0.2 2")
            out.append("25")
            out.extend(f"{x:.6f} {y:.6f} {z:.6f} 1 2 3 4 0 0 0 1 2" for x, y, z in joints)
    return "\n".join(out) + "\n"


def _moving(rng, frames: int, scale: float, offset: float) -> list[np.ndarray]:
    """A person-like (4x taller than wide) joint cloud swaying along x."""
    base = rng.normal(size=(25, 3)) * np.array([0.1, 0.4, 0.1]) + offset
    return [base + scale * np.sin(t / 3.0) for t in range(frames)]


def test_energy_keeps_the_moving_bodies_and_zero_body_frames_are_zeros(tmp_path):
    rng = np.random.default_rng(0)
    static = 0.5 + 0.001 * rng.normal(size=(25, 3))  # a compact, motionless false detection
    a, b = _moving(rng, 20, 0.5, 1.0), _moving(rng, 20, 0.3, -1.0)
    frames = [[(7, static), (1, a[t]), (2, b[t])] for t in range(20)]
    frames[5] = []  # nobody tracked in frame 6
    path = tmp_path / "S001C001P001R001A050.skeleton"
    path.write_text(_ntu_text(frames))

    sk = skelact.load(path)
    assert sk.data.shape == (20, 2, 25, 3)
    assert not sk.data[5].any()
    assert sk.meta["bodies_per_frame"][5] == 0
    # The energy (std over frames x joints) of the static blob is ~0: dropped although listed
    # first; a moves most and comes first.
    np.testing.assert_allclose(sk.data[0, 0], a[0], atol=1e-6)
    np.testing.assert_allclose(sk.data[0, 1], b[0], atol=1e-6)
    assert set(np.unique(sk.meta["body_ids"])) == {-1, 1, 2}
    first = skelact.load(path, body_selection="first")
    np.testing.assert_allclose(first.data[0, 0], static, atol=1e-6)
    one = skelact.load(path, max_bodies=1)
    assert one.data.shape == (20, 1, 25, 3)
    np.testing.assert_array_equal(one.data[:, 0], sk.data[:, 0])


def test_track_follows_body_ids_and_drops_noise(tmp_path):
    rng = np.random.default_rng(1)
    a, b = _moving(rng, 30, 0.5, 1.0), _moving(rng, 30, 0.2, -1.0)
    wide_noise = np.zeros((25, 3))
    wide_noise[:, 0] = np.linspace(-2, 2, 25)  # 4 m wide, flat: not a person
    frames = []
    for t in range(30):
        bodies = [(10, a[t]), (20, b[t])]
        if t % 2:  # the listed order swaps every other frame
            bodies.reverse()
        if 10 <= t < 15:  # a short-lived detection, listed first
            bodies.insert(0, (99, rng.normal(size=(25, 3))))
        bodies.append((55, wide_noise + 0.01 * t))  # present throughout but wider than tall
        frames.append(bodies)
    path = tmp_path / "S001C001P001R001A051.skeleton"
    path.write_text(_ntu_text(frames))

    tracked = skelact.load(path, body_selection="track")
    ids = tracked.meta["body_ids"]
    assert (ids[:, 0] == 10).all() and (ids[:, 1] == 20).all()
    np.testing.assert_allclose(tracked.data[:, 0], np.stack(a), atol=1e-6)
    first = skelact.load(path, body_selection="first")
    assert not (first.meta["body_ids"][:, 0] == 10).all()  # positions swap: "first" mixes people


def test_track_packs_a_renumbered_body_into_its_slot(tmp_path):
    rng = np.random.default_rng(2)
    a, b = _moving(rng, 40, 0.5, 1.0), _moving(rng, 40, 0.2, -1.0)
    # Person A gets a new bodyID after frame 20 (Kinect lost and re-acquired them).
    frames = [[(1 if t < 20 else 3, a[t]), (2, b[t])] for t in range(40)]
    path = tmp_path / "S001C001P001R001A052.skeleton"
    path.write_text(_ntu_text(frames))
    sk = skelact.load(path, body_selection="track")
    np.testing.assert_allclose(sk.data[:, 0], np.stack(a), atol=1e-6)
    np.testing.assert_allclose(sk.data[:, 1], np.stack(b), atol=1e-6)
    assert sk.meta["body_ids"][:, 0].tolist() == [1] * 20 + [3] * 20


def test_bad_options(ntu_dir):
    path = ntu_dir / "S001C001P001R001A001.skeleton"
    with pytest.raises(skelact.ConfigError, match="body_selection"):
        skelact.load(path, body_selection="largest")
    with pytest.raises(skelact.ConfigError, match="max_bodies"):
        skelact.load(path, max_bodies=0)


# --- errors: file and 1-based line ----------------------------------------------------------


def _mutated(tmp_path, ntu_dir, edit) -> tuple:
    src = ntu_dir / "S001C001P001R001A001.skeleton"
    lines = src.read_text().splitlines()
    edit(lines)
    out = tmp_path / src.name
    out.write_text("\n".join(lines) + "\n")
    return out


def _error(path, **options) -> SkeletonFormatError:
    with pytest.raises(SkeletonFormatError) as info:
        skelact.load(path, **options)
    err = info.value
    assert err.path == str(path)
    return err


# Line layout of S001C001P001R001A001: 1 frame count; frame f (0-based) starts at line 2 + 28 f
# (body count), then header, joint count, 25 joint lines.
def _joint_line(frame: int, joint: int) -> int:
    return 2 + 28 * frame + 3 + joint  # 1-based


def test_error_truncated_file(tmp_path, ntu_dir):
    path = _mutated(tmp_path, ntu_dir, lambda lines: lines.__delitem__(slice(500, None)))
    err = _error(path)
    assert "ends early" in str(err) and err.line == 501


def test_error_truncated_inside_a_line(tmp_path, ntu_dir):
    def cut(lines):
        del lines[_joint_line(3, 7) :]
        lines[-1] = " ".join(lines[-1].split()[:5])

    err = _error(_mutated(tmp_path, ntu_dir, cut))
    assert err.line == _joint_line(3, 7) and "expected 12 value(s)" in str(err) and "found 5" in str(err)


def test_error_wrong_joint_count(tmp_path, ntu_dir):
    def edit(lines):
        lines[2 + 28 * 4 + 1] = "24"

    err = _error(_mutated(tmp_path, ntu_dir, edit))
    assert err.line == 2 + 28 * 4 + 2 and "expected 25 joints" in str(err)


def test_error_missing_value_on_a_joint_line(tmp_path, ntu_dir):
    def edit(lines):
        line = _joint_line(10, 3) - 1
        lines[line] = " ".join(lines[line].split()[:-1])

    err = _error(_mutated(tmp_path, ntu_dir, edit))
    assert err.line == _joint_line(10, 3) and "found 11" in str(err)


def test_error_compensating_line_lengths_are_caught(tmp_path, ntu_dir):
    def edit(lines):  # one value moves from one joint line to the next: same total count
        i = _joint_line(2, 4) - 1
        values = lines[i].split()
        lines[i] = " ".join(values[:-1])
        lines[i + 1] += " " + values[-1]

    err = _error(_mutated(tmp_path, ntu_dir, edit))
    assert err.line == _joint_line(2, 4)


@pytest.mark.parametrize("token", ["abc", "nan", "inf", "1.2.3", "--1", "0x10"])
def test_error_bad_number(tmp_path, ntu_dir, token):
    def edit(lines):
        i = _joint_line(7, 12) - 1
        values = lines[i].split()
        values[1] = token
        lines[i] = " ".join(values)

    err = _error(_mutated(tmp_path, ntu_dir, edit))
    assert err.line == _joint_line(7, 12) and token in str(err)


def test_bad_number_in_an_unrequested_column_is_caught_when_requested(tmp_path, ntu_dir):
    def edit(lines):
        i = _joint_line(0, 0) - 1
        values = lines[i].split()
        values[5] = "nan"  # colorX
        lines[i] = " ".join(values)

    path = _mutated(tmp_path, ntu_dir, edit)
    err = _error(path, channels="all")
    assert err.line == _joint_line(0, 0)


def test_error_bad_counts(tmp_path, ntu_dir):
    err = _error(_mutated(tmp_path, ntu_dir, lambda lines: lines.__setitem__(0, "zero")))
    assert err.line == 1 and "number of frames" in str(err)
    err = _error(_mutated(tmp_path, ntu_dir, lambda lines: lines.__setitem__(0, "0")))
    assert err.line == 1
    err = _error(_mutated(tmp_path, ntu_dir, lambda lines: lines.__setitem__(1 + 28 * 6, "-1")))
    assert err.line == 2 + 28 * 6 and "negative" in str(err)
    err = _error(_mutated(tmp_path, ntu_dir, lambda lines: lines.__setitem__(1 + 28 * 6, "2")))
    assert err.line is not None  # the frame claims a second body that is not there


def test_error_trailing_data_and_blank_lines(tmp_path, ntu_dir):
    err = _error(_mutated(tmp_path, ntu_dir, lambda lines: lines.append("1")))
    assert err.line == 1 + 103 * 28 + 1 and "after the last frame" in str(err)
    err = _error(_mutated(tmp_path, ntu_dir, lambda lines: lines.insert(40, "")))
    assert err.line == 41 and "blank line" in str(err)


def test_error_empty_and_binary(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_bytes(b"")
    assert _error(path).line == 1
    path.write_bytes(b"  \n\n")
    assert _error(path).line == 1
    path.write_bytes(b"3\n1\n\x00\x01\xff garbage\n")
    assert _error(path).line == 3


# --- missing-skeleton lists ------------------------------------------------------------------


def test_missing_skeleton_lists(ntu_dir):
    official = ntu.read_missing_list(ntu_dir / "NTU_RGBD_samples_with_missing_skeletons.txt")
    stgcn = ntu.read_missing_list(ntu_dir / "samples_with_missing_skeletons.txt")
    ntu120 = ntu.read_missing_list(ntu_dir / "NTU_RGBD120_samples_with_missing_skeletons.txt")
    assert len(official) == 302 and official == stgcn
    assert len(ntu120) == 535 and official <= ntu120
    assert "S001C002P005R002A008" in official and "S032C003P067R002A077" in ntu120
    assert not set(FRAMES) & ntu120  # none of the shared samples is on the list
