"""``train.precision=bf16-mixed`` and ``train.compile=true`` on the CPU, for a tiny two-stream
ARRN-LSTM and a tiny AS-GCN (AS-links, prediction head, one AIM warm-up epoch under the manual
optimisation of :class:`~skelact.train.module.AIMScheduleModule`), trained on the bundled
Florence3D sample through :func:`skelact.train.runner.run_experiment`.

bf16 is checked where it acts: forward hooks on the model's layers record the dtype of their
outputs during the training steps (bfloat16 under ``bf16-mixed``, float32 under ``32-true``, the
same test as control). Compilation: ARRN-LSTM with the default inductor backend (about a minute
on a small CPU); AS-GCN with ``backend="aot_eager"`` (Dynamo capture + AOT autograd, no code
generation), since inductor takes several minutes for it on a small CPU.
"""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import pytest
import torch

from skelact.errors import ConfigError
from skelact.models.checkpoint import load_checkpoint_model, read_checkpoint_file
from skelact.train import module as train_module
from skelact.train import runner
from skelact.train.config import PRECISIONS, config_to_dict, load_config
from skelact.train.module import MODEL_CALLS, AIMScheduleModule, make_module

LAYERS = (torch.nn.Linear, torch.nn.Conv2d)
#: AS-GCN: the checkpoint evaluated is the last epoch's (not the warm-up epoch's, should its
#: validation score be the best), so it holds weights both optimisers changed.
LAST_EPOCH = ("train.checkpoint.monitor=null",)


def _cfg(store, preset, *overrides):
    return load_config(preset, [f"data.store={store}", "train.progress=false", *overrides])


class Capture:
    """Wraps ``runner.prepare_experiment``: keeps the experiment and its initial weights, and
    records ``(layer name, output dtype, phase)`` of every Linear / Conv2d output in training mode
    (phase: ``"warmup"`` during AS-GCN's AIM warm-up, else ``"train"``); ``hooks=False``: no
    hooks (they would break the graphs of a compiled model)."""

    def __init__(self, monkeypatch, hooks: bool = True):
        self.exp = None
        self.initial: dict[str, torch.Tensor] = {}
        self.records: list[tuple[str, torch.dtype, str]] = []
        original = runner.prepare_experiment

        def prepare(cfg):
            exp = original(cfg)
            self.exp = exp
            self.initial = {k: v.detach().clone() for k, v in exp.model.state_dict().items()}
            for name, layer in exp.model.named_modules() if hooks else ():
                if isinstance(layer, LAYERS):
                    layer.register_forward_hook(self._hook(name))
            return exp

        monkeypatch.setattr(runner, "prepare_experiment", prepare)

    def _hook(self, name):
        def hook(layer, _inputs, out):
            if not layer.training:  # evaluation passes (validation, test, forecast) are left out
                return
            module = self.exp.module
            warmup = isinstance(module, AIMScheduleModule) and module.in_warmup
            self.records.append((name, out.dtype, "warmup" if warmup else "train"))

        return hook

    def dtypes(self, prefix: str = "", phase: str = "train") -> set[torch.dtype]:
        return {d for n, d, p in self.records if n.startswith(prefix) and p == phase}


def _logged(out: Path, column: str) -> list[float]:
    with open(out / "logs" / "version_0" / "metrics.csv", newline="") as f:
        return [float(row[column]) for row in csv.DictReader(f) if row.get(column)]


def _test_batch(exp, n: int = 4) -> torch.Tensor:
    ds = exp.dm.dataset("test")
    return torch.stack([ds[i][0] for i in range(n)])


def _changed(exp, initial, prefix: str) -> bool:
    state = exp.module.model.state_dict()
    keys = [k for k in state if k.startswith(prefix) and state[k].is_floating_point()]
    assert keys, prefix
    return any(not torch.equal(state[k], initial[k]) for k in keys)


# -- config ----------------------------------------------------------------------------------------
def test_precision_and_compile_are_validated(florence_store):
    cfg = _cfg(florence_store, "tiny/arrn_lstm", "train.precision=bf16-mixed", "train.compile=true")
    assert cfg.train.precision == "bf16-mixed" and cfg.train.compile is True
    default = _cfg(florence_store, "tiny/arrn_lstm")
    assert default.train.compile is False and config_to_dict(default)["train"]["compile"] is False
    assert "bf16-mixed" in PRECISIONS and 16 in PRECISIONS
    with pytest.raises(ConfigError, match=r"train\.precision: unknown precision 'bf32'.*'bf16-mixed'"):
        _cfg(florence_store, "tiny/arrn_lstm", "train.precision=bf32")
    with pytest.raises(ConfigError, match=r"train\.compile: expected bool"):
        _cfg(florence_store, "tiny/arrn_lstm", "train.compile=1")


def test_compile_leaves_the_model_and_its_state_dict_keys_alone(florence_store):
    from skelact.train.inputs import build_experiment_model, open_store

    cfg = _cfg(florence_store, "tiny/arrn_lstm_two_stream", "train.compile=true")
    _, spec = build_experiment_model(cfg, open_store(cfg))
    compiled = make_module(config_to_dict(cfg), spec.to_dict())
    plain = make_module(config_to_dict(_cfg(florence_store, "tiny/arrn_lstm_two_stream")), spec.to_dict())
    assert compiled.compiled and not plain.compiled
    assert type(compiled.model) is type(plain.model)  # not an OptimizedModule
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert not any("_orig_mod" in k for k in compiled.state_dict())
    assert copy.deepcopy(compiled).compiled  # weight averaging copies the module
    assert set(MODEL_CALLS) == {"losses", "aim_losses", "logits", "stream_logits"}


# -- bf16-mixed ------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*treespec")
@pytest.mark.parametrize("precision, dtype", [("32-true", torch.float32), ("bf16-mixed", torch.bfloat16)])
def test_arrn_lstm_two_stream_trains_in_the_precision_asked_for(florence_store, tmp_path, monkeypatch,
                                                                precision, dtype):  # fmt: skip
    cap = Capture(monkeypatch)
    cfg = _cfg(florence_store, "tiny/arrn_lstm_two_stream", f"train.precision={precision}")
    metrics = runner.run_experiment(cfg, tmp_path)
    exp = cap.exp
    # every Linear of both streams (embedding, RRN, attention, classifier) computed in `dtype`
    for stream in ("streams.joint.", "streams.line."):
        assert cap.dtypes(stream) == {dtype}, stream
    losses = _logged(tmp_path, "train/loss")
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert math.isfinite(metrics["test"]["loss"]) and metrics["fusion"]["source"] == "validation"
    assert _changed(exp, cap.initial, "streams.joint.") and _changed(exp, cap.initial, "streams.line.")

    # the checkpoint holds float32 weights and loads in a plain model that gives the trained logits
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    state = read_checkpoint_file(ckpt)["state_dict"]
    assert {v.dtype for k, v in state.items() if v.is_floating_point()} == {torch.float32}
    model, _ = load_checkpoint_model(ckpt)
    x = _test_batch(exp)
    with torch.no_grad():
        expected = exp.module.model.eval()(x)
        assert torch.allclose(model(x), expected, atol=1e-6)
    assert float(model.fusion_alpha) == pytest.approx(metrics["fusion"]["alpha"])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*treespec")
def test_asgcn_with_aim_warmup_trains_in_bf16_mixed(florence_store, tmp_path, monkeypatch):
    cap = Capture(monkeypatch)
    cfg = _cfg(florence_store, "tiny/asgcn", "train.precision=bf16-mixed", "train.epochs=1", *LAST_EPOCH)
    metrics = runner.run_experiment(cfg, tmp_path)
    exp = cap.exp
    assert isinstance(exp.module, AIMScheduleModule) and exp.module.trainer.current_epoch == 2
    # warm-up epoch: the AIM (manual_backward + its own optimiser) under bf16 autocast
    assert cap.dtypes("aim.encoder.", "warmup") == {torch.bfloat16}
    assert cap.dtypes("aim.decoder.", "warmup") == {torch.bfloat16}
    assert not cap.dtypes("backbone.", "warmup")  # the backbone does not run in the warm-up
    # recognition epoch: backbone convolutions, classifier and prediction head in bf16
    assert cap.dtypes("backbone.", "train") == {torch.bfloat16}
    assert cap.dtypes("fc", "train") == {torch.bfloat16}
    assert cap.dtypes("predictor.", "train") == {torch.bfloat16}
    aim_losses, losses = _logged(tmp_path, "train/aim_loss"), _logged(tmp_path, "train/loss")
    assert len(aim_losses) == 1 and len(losses) == 1
    assert all(math.isfinite(v) for v in aim_losses + losses + [_logged(tmp_path, "train/pred")[0]])
    assert math.isfinite(metrics["test"]["loss"]) and math.isfinite(metrics["forecast"]["mean"]["model"])
    # both optimisers stepped: the AIM encoder in the warm-up, the backbone afterwards
    assert _changed(exp, cap.initial, "aim.encoder.") and _changed(exp, cap.initial, "backbone.")

    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    model, _ = load_checkpoint_model(ckpt)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    x = _test_batch(exp)
    with torch.no_grad():
        assert torch.allclose(model(x), exp.module.model.eval()(x), atol=1e-6)


# -- torch.compile ---------------------------------------------------------------------------------
@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    yield torch._dynamo.utils.counters
    torch._dynamo.reset()


def _check_compiled_run(cap, tmp_path, metrics, fresh_dynamo, calls):
    exp = cap.exp
    assert exp.module.compiled and type(exp.module.model).__name__ != "OptimizedModule"
    assert fresh_dynamo["stats"]["unique_graphs"] > 0  # Dynamo captured graphs
    assert {name for name, _ in train_module._compiled} >= set(calls)
    losses = _logged(tmp_path, "train/loss")
    assert losses and all(math.isfinite(v) for v in losses) and math.isfinite(metrics["test"]["loss"])

    # the checkpoint's keys are the uncompiled model's; it loads into a plain model, which gives the
    # logits of the trained module's compiled forward pass
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    keys = list(read_checkpoint_file(ckpt)["state_dict"])
    assert keys == [f"model.{k}" for k in exp.module.model.state_dict()]
    model, _ = load_checkpoint_model(ckpt)
    assert type(model) is type(exp.module.model)
    x = _test_batch(exp)
    exp.module.eval()
    with torch.no_grad():
        compiled_logits = exp.module(x)  # through compiled_call("logits")
        assert torch.allclose(model(x), compiled_logits, atol=1e-5, rtol=1e-5)
    return model


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*treespec", "ignore:.*script_method")
def test_arrn_lstm_two_stream_trains_compiled_with_inductor(florence_store, tmp_path, monkeypatch,
                                                            fresh_dynamo):  # fmt: skip
    cap = Capture(monkeypatch, hooks=False)
    cfg = _cfg(florence_store, "tiny/arrn_lstm_two_stream", "train.compile=true", "train.epochs=1")
    metrics = runner.run_experiment(cfg, tmp_path)
    assert train_module.COMPILE_OPTIONS == {}  # the default backend: inductor
    model = _check_compiled_run(cap, tmp_path, metrics, fresh_dynamo, ["losses", "logits", "stream_logits"])
    assert _changed(cap.exp, cap.initial, "streams.")
    assert float(model.fusion_alpha) == pytest.approx(metrics["fusion"]["alpha"])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*treespec", "ignore:.*script_method")
def test_asgcn_trains_compiled_through_the_aim_warmup(florence_store, tmp_path, monkeypatch, fresh_dynamo):
    monkeypatch.setitem(train_module.COMPILE_OPTIONS, "backend", "aot_eager")
    cap = Capture(monkeypatch, hooks=False)
    cfg = _cfg(florence_store, "tiny/asgcn", "train.compile=true", "train.epochs=1", *LAST_EPOCH)
    metrics = runner.run_experiment(cfg, tmp_path)
    _check_compiled_run(cap, tmp_path, metrics, fresh_dynamo, ["aim_losses", "losses", "logits"])
    assert _changed(cap.exp, cap.initial, "aim.encoder.") and _changed(cap.exp, cap.initial, "backbone.")
    assert math.isfinite(_logged(tmp_path, "train/aim_loss")[0])
