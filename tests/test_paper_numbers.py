"""The published numbers have one source per use, and the two agree.

``src/skelact/repro/paper.yaml`` (the reproduction report's paper column) and the presets'
``reference:`` blocks (what ``skelact train`` records beside its result) quote the same tables:
every paper number of a reproduction row must equal the reference of the preset that trains that
row, and every preset the reproduction trains that cites a paper must be in ``paper.yaml``.
"""

from __future__ import annotations

import pytest

from skelact.repro.paper import PAPER_RESULTS
from skelact.repro.targets import ALL_TRAININGS, TARGETS
from skelact.train.config import load_config


def _preset(target: str, row: str) -> str:
    """The preset that trains ``row`` of ``target`` on its own: the two-stream ARRN-LSTM and AS-GCN
    are the unit's table preset, the other ARRN-LSTM rows its ``_<stream>_<arrn|rrn>`` variant."""
    unit = TARGETS[target].units[0]
    r = next(r for t in ALL_TRAININGS for r in t.rows if r.key == row)
    name = f"{r.model}/{unit.preset}"
    if r.model == "arrn_lstm" and row != "arrn_two_stream":
        name += f"_{r.stream}_{'arrn' if r.attention else 'rrn'}"
    return name


@pytest.mark.parametrize(("target", "row"), sorted(PAPER_RESULTS))
def test_paper_numbers_match_the_presets_references(target, row):
    paper, ref = PAPER_RESULTS[(target, row)], load_config(_preset(target, row)).reference
    assert ref is not None, f"{_preset(target, row)} has no reference block"
    assert (ref["paper"], ref["metric"], ref["value"], ref.get("top5")) == (
        paper.paper, paper.metric, paper.value, paper.top5
    )  # fmt: skip


def test_every_cited_reproduction_preset_is_in_paper_yaml():
    for name, target in TARGETS.items():
        for training in ALL_TRAININGS:
            for row in training.rows if training.model in target.models else ():
                ref = load_config(_preset(name, row.key)).reference
                missing = ref is not None and (name, row.key) not in PAPER_RESULTS
                assert not missing, f"{_preset(name, row.key)} cites {ref}; not in paper.yaml"
