"""Fixtures of the training-engine tests: a store prepared from the real Florence3D features file."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def florence_store(sample_data, tmp_path_factory):
    """The complete Florence3D features file (215 real sequences, 9 classes) prepared into a store."""
    from skelact.data.prepare import prepare

    out = tmp_path_factory.mktemp("train_stores") / "florence3d"
    prepare("florence3d", sample_data / "florence3d", out, workers=1, progress=False)
    return out
