"""Florence3D reader: the features file (florence8) and a world-coordinates file (florence15)."""

from __future__ import annotations

import numpy as np
import pytest

import skelact
from skelact import SkeletonFormatError
from skelact.data import iter_samples


@pytest.fixture(scope="module")
def features(sample_data):
    return sample_data / "florence3d" / "Florence_dataset_Features.txt"


@pytest.fixture(scope="module")
def sequences(features):
    return list(iter_samples(features))


def test_features_file_counts(sequences):
    assert len(sequences) == 215
    assert sum(s.num_frames for s in sequences) == 4016
    assert {s.layout for s in sequences} == {"florence8"}
    assert {s.data.shape[1:] for s in sequences} == {(1, 8, 3)}
    assert sorted({s.meta["label"] for s in sequences}) == list(range(9))
    assert sorted({s.meta["subject"] for s in sequences}) == list(range(1, 11))
    assert len({s.meta["sample"] for s in sequences}) == 215


def test_features_values_equal_the_raw_text(features, sequences):
    rows = np.array([line.split() for line in features.read_text().splitlines()], dtype=np.float64)
    assert rows.shape == (4016, 28)
    by_video = {}
    for row in rows:
        by_video.setdefault(int(row[0]), []).append(row)
    assert list(by_video) == [s.meta["video"] for s in sequences]  # order of first appearance
    for sk in sequences[:: 20]:
        video = np.array(by_video[sk.meta["video"]])
        np.testing.assert_array_equal(sk.data[:, 0].reshape(-1, 24), video[:, 3:27].astype(np.float32))
        np.testing.assert_array_equal(sk.meta["frame_value"], video[:, 27].astype(np.float32))
        assert sk.meta["subject"] == int(video[0, 1]) and sk.meta["label"] == int(video[0, 2]) - 1
    first = sequences[0]
    # First line: "1 1 1 0.906422 0.403155 0.125956 0.0682901 0.80325 -0.591714 ..."
    assert first.data[0, 0, 0].tolist() == [np.float32(0.906422), np.float32(0.403155), np.float32(0.125956)]
    assert first.data[0, 0, 1].tolist() == [np.float32(0.0682901), np.float32(0.80325), np.float32(-0.591714)]
    assert first.meta["line"] == 1 and first.meta["replication"] == 1


def test_load_points_to_iter_samples(features):
    with pytest.raises(SkeletonFormatError, match="215 sequences; use skelact.data.iter_samples"):
        skelact.load(features)


WORLD_JOINTS = 15


def _world_line(video: int, actor: int, category: int, t: int) -> str:
    """One line: three multi-digit ids, then joint j channel c = video * 1000 + 10 j + c + t / 100."""
    coords = [f"{video * 1000 + j * 10 + c + t / 100:.2f}" for j in range(WORLD_JOINTS) for c in range(3)]
    return " ".join([str(video), str(actor), str(category), *coords])


def _write_world(path, spec) -> list[str]:
    lines = [_world_line(v, a, c, t) for v, a, c, frames in spec for t in range(frames)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def test_world_coordinates_file(tmp_path):
    path = tmp_path / "Florence_dataset_WorldCoordinates.txt"
    lines = _write_world(path, [(101, 12, 3, 4), (7, 1, 9, 2), (2150, 10, 1, 3)])
    seqs = list(iter_samples(path))
    assert [s.layout for s in seqs] == ["florence15"] * 3
    assert [s.num_frames for s in seqs] == [4, 2, 3]
    assert [(s.meta["video"], s.meta["subject"], s.meta["label"]) for s in seqs] == [
        (101, 12, 2), (7, 1, 8), (2150, 10, 0)
    ]
    assert seqs[0].meta["sample"] == "video101" and seqs[1].meta["sample"] == "video007"
    assert seqs[2].meta["line"] == 7
    expected = np.array([line.split()[3:] for line in lines[:4]], dtype=np.float32).reshape(4, 15, 3)
    np.testing.assert_array_equal(seqs[0].data[:, 0], expected)
    # Head of video 101, frame 0 = (101000, 101001, 101002); right ankle = joint 14.
    assert seqs[0].data[0, 0, 0].tolist() == [101000, 101001, 101002]
    assert seqs[0].data[0, 0, 14].tolist() == [101140, 101141, 101142]
    assert "frame_value" not in seqs[0].meta


def test_single_sequence_file_loads(tmp_path):
    path = tmp_path / "florence_one.txt"
    _write_world(path, [(5, 2, 4, 6)])
    sk = skelact.load(path)
    assert sk.data.shape == (6, 1, 15, 3) and sk.meta["label"] == 3


def test_interleaved_videos_are_grouped_in_file_order(tmp_path):
    path = tmp_path / "Florence_mixed.txt"
    path.write_text("\n".join([_world_line(1, 1, 1, 0), _world_line(2, 1, 1, 0), _world_line(1, 1, 1, 1)]))
    seqs = list(iter_samples(path))
    assert [(s.meta["video"], s.num_frames) for s in seqs] == [(1, 2), (2, 1)]
    assert seqs[0].data[1, 0, 0, 2] == np.float32(1002.01)
    assert [s.meta["replication"] for s in seqs] == [1, 2]


def test_errors(tmp_path):
    path = tmp_path / "Florence_bad.txt"
    text = [_world_line(1, 1, 1, t) for t in range(3)]

    path.write_text("\n".join([*text[:2], " ".join(text[2].split()[:-1])]) + "\n")
    with pytest.raises(SkeletonFormatError, match="expected 48 values per line, found 47") as info:
        skelact.load(path)
    assert info.value.line == 3

    path.write_text("1 2 3 4 5\n")
    with pytest.raises(SkeletonFormatError, match="28 or 48") as info:
        skelact.load(path)
    assert info.value.line == 1

    path.write_text("\n".join([text[0], "1.5" + text[1][1:], text[2]]) + "\n")
    with pytest.raises(SkeletonFormatError, match="integers") as info:
        skelact.load(path)
    assert info.value.line == 2

    path.write_text("\n".join([text[0], text[1], "1 2" + text[2][3:]]) + "\n")
    with pytest.raises(SkeletonFormatError, match="idactor") as info:
        skelact.load(path)
    assert info.value.line == 3
