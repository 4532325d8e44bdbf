"""Shared test fixtures. Real data is read from ../shared/data (beside the repo root)."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

# Two cores on CI: keep each test process single-threaded so xdist workers don't fight.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


from prerequisites import require  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    require(
        SHARED_DATA.is_dir(),
        f"the real datasets are not at {SHARED_DATA}",
        "these tests read ../shared/data beside the repository (see each dataset's PROVENANCE.md for "
        "its source); the tests on the bundled sample run without it",
    )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> pathlib.Path:
    """The real files the package bundles, laid out as in ``../shared/data`` (a fresh clone has
    them): ``florence3d/Florence_dataset_Features.txt`` (all 215 sequences), ``ntu_rgbd/``
    S001C001P001R001A001 and A050, ``kinetics_skeleton/__NrybzYzUg.json``. Byte-for-byte the
    shared files (``tests/test_cli_prepare_info.py`` checks it where both exist)."""
    import gzip
    import shutil

    from skelact.data.bundled import bundled_path

    root = tmp_path_factory.mktemp("sample_data")
    for folder in ("florence3d", "ntu_rgbd", "kinetics_skeleton"):
        (root / folder).mkdir()
        for f in bundled_path(folder).iterdir():
            if f.name.endswith(".gz"):
                with gzip.open(f, "rb") as src, open(root / folder / f.name[: -len(".gz")], "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copy(f, root / folder / f.name)
    return root
