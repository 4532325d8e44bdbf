"""``skelact.allocator.keep_freed_memory``: after it, memory a step frees is reused by the next step
instead of being faulted in again; the trainer applies it as ``train.keep_freed_memory`` says."""

from __future__ import annotations

import subprocess
import sys

import pytest

from skelact.errors import ConfigError
from skelact.train.config import config_to_dict, load_config

#: Ten "training steps", each allocating and filling activations of 48, 40, 64 and 8 MiB and freeing
#: them at its end; prints the minor page faults of the last three. Above 32 MiB (glibc's largest mmap
#: threshold) every block is a fresh mapping by default. With ``keep``, the steps reuse the heap's
#: blocks once it holds them; glibc 2.36 (this project's machines) needs a few steps for that (the
#: 64-byte aligned blocks PyTorch asks for do not fit in the freed ones at first).
_STEPS = """
import resource, sys, torch
from skelact.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # a second call changes nothing and says so again
def step():
    kept = [torch.empty(mib * 2**18).fill_(1.0) for mib in (48, 40, 64, 8)]
    del kept
for _ in range(7):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

PAGES = (48 + 40 + 64) * 2**20 // 4096  # pages of one step's blocks above 32 MiB


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _STEPS, mode], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    assert _faults("default") >= 3 * PAGES * 0.9  # every step maps and faults in its large blocks afresh
    assert _faults("keep") < PAGES * 0.02  # the earlier steps' memory, reused in place


@pytest.mark.parametrize("keep", [True, False])
def test_the_trainer_applies_it_as_the_config_says(florence_store, monkeypatch, keep):
    from skelact.train import runner
    from skelact.train.inputs import build_experiment_model, open_store
    from skelact.train.module import make_module

    calls = []
    monkeypatch.setattr(runner, "keep_freed_memory", lambda: calls.append(1) or True)
    overrides = [f"data.store={florence_store}", "train.progress=false", f"train.keep_freed_memory={keep}"]
    cfg = load_config("tiny/arrn_lstm", overrides)
    assert cfg.train.keep_freed_memory is keep
    _, spec = build_experiment_model(cfg, open_store(cfg))
    runner.build_trainer(cfg, None, has_val=False, module=make_module(config_to_dict(cfg), spec.to_dict()))
    assert calls == ([1] if keep else [])


def test_it_is_off_by_default_and_validated(florence_store):
    cfg = load_config("tiny/arrn_lstm", [f"data.store={florence_store}"])
    assert cfg.train.keep_freed_memory is False and config_to_dict(cfg)["train"]["keep_freed_memory"] is False
    with pytest.raises(ConfigError, match=r"train\.keep_freed_memory: expected bool"):
        load_config("tiny/arrn_lstm", [f"data.store={florence_store}", "train.keep_freed_memory=1"])
