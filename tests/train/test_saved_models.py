"""Saved models keep loading: small checkpoints written by ``skelact train`` at some commit
(``tests/fixtures/checkpoints/``, made by ``scripts/make_compat_checkpoints.py``) load with the
current code and give the logits they gave when they were saved. A change that breaks users'
saved checkpoints fails here; a deliberate format change ships a migration and its own test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skelact.train.checkpoint import load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"


@pytest.mark.parametrize("family", ["arrn_lstm", "asgcn"])
def test_a_saved_checkpoint_loads_and_gives_its_saved_logits(family):
    path = FIXTURES / f"{family}.ckpt"
    assert path.stat().st_size < 1 << 20
    model, cfg = load_model(path)
    assert cfg.model.name == family
    expected = np.load(FIXTURES / "expected.npz")
    with torch.no_grad():
        logits = model(torch.from_numpy(expected[f"{family}_input"]))
    np.testing.assert_allclose(logits.numpy(), expected[f"{family}_logits"], rtol=1e-5, atol=1e-5)
    assert logits.shape == (2, len(model.spec["class_names"]))
