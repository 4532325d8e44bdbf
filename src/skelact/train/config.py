"""Experiment configuration: a typed schema (dataclasses), YAML files with ``_base_`` inheritance,
and ``dotted.key=value`` overrides.

A config is loaded in four steps (:func:`load_config`):

1. the source is read: a YAML file path, or a preset name such as ``arrn_lstm/msr3d_as1``
   (see :mod:`skelact.train.presets`);
2. ``_base_`` (a file path relative to the including file, a preset name, or a list of them) is
   loaded first and the file's own keys are merged over it (mappings merge key by key, every
   other value, lists included, replaces);
3. overrides ``"train.epochs=5"`` are applied; the value is parsed as YAML (``5`` is an int,
   ``[1, 2]`` a list, ``null`` None);
4. the result is validated against :class:`ExperimentConfig`: an unknown key or a value of the
   wrong type raises :class:`~skelact.errors.ConfigError` naming the dotted key and the file.

Floats written like ``5e-4`` (a string for YAML 1.1) are accepted where a float is expected.
Transform arguments may use the placeholder ``${input_frames}``: the number of frames the model
takes, i.e. ``data.frames`` plus any extra frames the model needs (the prediction target of
AS-GCN's future-pose head); it is resolved when the data is set up.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..data.transforms import INPUT_FRAMES
from ..errors import ConfigError
from . import presets

__all__ = [
    "AimConfig",
    "AveragingConfig",
    "CheckpointConfig",
    "DataConfig",
    "ExperimentConfig",
    "FusionConfig",
    "INPUT_FRAMES",
    "ModelConfig",
    "OptimConfig",
    "PRECISIONS",
    "ScheduleConfig",
    "TrainConfig",
    "ValidationConfig",
    "apply_overrides",
    "config_diff",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "load_config",
    "merge",
]


#: The values ``train.precision`` accepts (Lightning's; ``"bf16"``, ``"16"``, ``"32"``, ``"64"`` and
#: the ints are its short spellings).
PRECISIONS: tuple[str | int, ...] = (
    "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
    "transformer-engine", "transformer-engine-float16", "32", "bf16", "16", "64", 32, 16, 64,
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------
@dataclass
class ModelConfig:
    """Which model to build: ``skelact.models.build(name, num_classes, layout, in_channels, **options)``."""

    name: str = "arrn_lstm"
    #: Model-specific options, checked by the model's builder (e.g. ``stream``, ``attention``).
    options: dict[str, Any] = field(default_factory=dict)
    #: Number of classes; ``None`` = from the store's class names.
    num_classes: int | None = None


@dataclass
class ValidationConfig:
    """A validation split carved from the training split (the papers pick settings on it)."""

    #: Share of the training split held out (0 = no validation split).
    fraction: float = 0.0
    #: ``"sample"`` (stratified by label) or ``"subject"`` (whole subjects held out).
    by: str = "sample"
    #: Seed of the carving; ``None`` = the experiment seed.
    seed: int | None = None


@dataclass
class DataConfig:
    """Where the data comes from and how it is split, transformed and batched."""

    #: Dataset name (``ntu60``, ``ntu120``, ``kinetics``, ``msr3d``, ``florence3d``).
    dataset: str | None = None
    #: Prepared store directory; ``None`` = ``$SKELACT_DATA/<dataset>`` (default root ``./data``).
    store: str | None = None
    #: Protocol of :func:`skelact.data.protocols.split` (``ntu60-xsub``, ``florence3d-loso``,
    #: ``msr3d-as1``, ...; short names resolve with the store's dataset); ``none`` when
    #: ``train_indices`` and ``test_indices`` are given.
    protocol: str = "xsub"
    #: Fold of a folded protocol: an int, ``"all"`` or a list of folds (one run directory each,
    #: plus a summary), or None for protocols without folds.
    fold: int | str | list[int] | None = None
    #: Frames T the model sees (before any extra frames the model asks for).
    frames: int = 300
    #: Transform specs for training (random augmentation allowed) and evaluation (deterministic).
    train_transforms: list[Any] = field(default_factory=list)
    test_transforms: list[Any] = field(default_factory=list)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    #: Explicit sample indices (positions in the store); each one set replaces the protocol's split.
    train_indices: list[int] | None = None
    val_indices: list[int] | None = None
    test_indices: list[int] | None = None
    #: Keep at most this many samples of the protocol's train and test splits (evenly spaced,
    #: before the validation split is carved; for quick checks and tests).
    subset: int | None = None
    #: Global batch size (split evenly across devices).
    batch_size: int = 32
    #: Batch size for validation / test / predict (``None`` = ``batch_size``).
    eval_batch_size: int | None = None
    num_workers: int = 2
    #: Pin host memory for faster GPU copies; ``None`` = when CUDA is available.
    pin_memory: bool | None = None


@dataclass
class OptimConfig:
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    #: PyTorch's fused kernel for the update where it has one (same update up to rounding, faster)
    fused: bool = True


@dataclass
class ScheduleConfig:
    """Learning-rate schedule, stepped once per epoch."""

    name: Literal["none", "step", "multistep", "plateau", "cosine"] = "none"
    step_size: int = 20  # step: x gamma every step_size epochs
    milestones: list[int] = field(default_factory=list)  # multistep
    gamma: float = 0.1
    monitor: str = "val/top1"  # plateau ("train/loss" when there is no validation split)
    mode: Literal["min", "max"] = "max"
    patience: int = 10
    min_lr: float = 0.0


@dataclass
class AimConfig:
    """AS-GCN's A-link inference module (AIM): warm-up epochs and its own optimiser.

    After the warm-up the AIM encoder is stepped by this optimiser with the gradients the
    recognition loss sends it; whether it sends any is the model's ``refine_links`` option
    (paper: yes; official code: the AIM is frozen).
    """

    #: Epochs of AIM warm-up (AIM losses only) before recognition training starts.
    warmup_epochs: int = 0
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(name="adam", lr=5e-4, momentum=0.0))


@dataclass
class AveragingConfig:
    """Weight averaging during training (``torch.optim.swa_utils.AveragedModel`` through Lightning's
    :class:`~pytorch_lightning.callbacks.EMAWeightAveraging`).

    With ``name: ema`` an exponential moving average of the weights (and buffers) is updated after
    every optimiser step, ``avg = decay * avg + (1 - decay) * w``; validation, the final model, every
    saved checkpoint's ``state_dict`` (so ``eval``, ``predict``, ``export`` and ``stream``) use the
    averaged weights. A checkpoint keeps the raw weights beside them for resuming.
    """

    name: Literal["none", "ema"] = "none"
    #: EMA decay per optimiser step (0.99: a horizon of about 100 steps).
    decay: float = 0.99


@dataclass
class CheckpointConfig:
    #: Metric choosing ``best.ckpt``; ``None`` = the last epoch is the best.
    monitor: str | None = "val/top1"
    mode: Literal["min", "max"] = "max"
    #: Which checkpoint the test metrics are computed from.
    evaluate: Literal["best", "last"] = "best"


@dataclass
class TrainConfig:
    #: Epochs of recognition training (AIM warm-up epochs come on top).
    epochs: int = 100
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    aim: AimConfig = field(default_factory=AimConfig)
    averaging: AveragingConfig = field(default_factory=AveragingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    accelerator: str = "auto"
    #: Devices per node: an int, ``-1`` (all) or ``"auto"``.
    devices: int | str = 1
    num_nodes: int = 1
    #: Lightning strategy: ``auto``, ``ddp``, ``ddp_spawn``, ...
    strategy: str = "auto"
    #: Lightning precision (:data:`skelact.train.config.PRECISIONS`): ``32-true``; ``bf16-mixed``
    #: (bfloat16 autocast of matrix products and convolutions; float32 weights, optimiser states and
    #: losses; works on CPUs too, but is fast only on GPUs and CPUs with bfloat16 instructions);
    #: ``16-mixed`` (float16 with loss scaling, GPUs); ``64-true``, ...
    precision: str | int = "32-true"
    #: ``torch.compile`` the model's training and evaluation calls (``losses``, ``aim_losses``, the
    #: forward pass, ``stream_logits``); the model itself is not wrapped, so checkpoints are unchanged
    #: and load in an uncompiled model. The first steps compile first (minutes on a small CPU); see
    #: :mod:`skelact.train.module`.
    compile: bool = False
    #: Keep the memory a step frees for the next step (glibc ``malloc`` tuned by
    #: :func:`skelact.allocator.keep_freed_memory`) instead of returning it to the system and faulting
    #: it in again page by page; the process's resident memory then stays at its peak. Off by
    #: default: on a CPU it took 1.46 s of system time off an NTU-sized ARRN-LSTM step (1.04x) but
    #: slowed the AS-GCN step (0.97x; ``benchmarks/results/allocator.md``). No effect off Linux/glibc.
    keep_freed_memory: bool = False
    gradient_clip: float | None = None
    #: ``torch.use_deterministic_algorithms``: true, false or ``"warn"``.
    deterministic: bool | str = "warn"
    log_every_n_steps: int = 10
    val_every_n_epochs: int = 1
    progress: bool = True


@dataclass
class FusionConfig:
    """Two-stream score fusion (ARRN-LSTM eq. 12)."""

    #: Fit the weight alpha on the validation split after training.
    fit: bool = True
    #: Number of evenly spaced alpha values in [0, 1] searched.
    grid_points: int = 21
    #: A fixed alpha (skips fitting).
    alpha: float | None = None


@dataclass
class ExperimentConfig:
    name: str = "experiment"
    description: str = ""
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    #: Published numbers this experiment reproduces, e.g. ``{paper: as-gcn, table: "1", top1: 81.5}``.
    reference: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------
# Dict <-> dataclass with validation
# ---------------------------------------------------------------------------------------------
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return tp.__name__
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (arg,) = typing.get_args(tp) or (Any,)
        return f"list of {_type_name(arg)}"
    if origin is dict:
        return "mapping"
    return "any" if tp is Any else str(tp)


class _Mismatch(Exception):
    pass


def _convert(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return the (possibly converted) value."""
    if tp is Any:
        return copy.deepcopy(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Mismatch
        return _build(tp, value, key, where)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _convert(value, arg, key, where)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is Literal:
        if value in typing.get_args(tp) and type(value) is not bool:
            return value
        raise _Mismatch
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        (arg,) = typing.get_args(tp) or (Any,)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(_convert(item, arg, f"{key}[{i}]", where))
            except _Mismatch:
                _fail(f"{key}[{i}]", where, f"expected {_type_name(arg)}, got {item!r}")
        return out
    if origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch
        return copy.deepcopy(value)
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
            return float(value)
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    raise TypeError(f"unsupported annotation {tp!r} for {key}")  # pragma: no cover - schema bug


def _fail(key: str, where: str, message: str) -> typing.NoReturn:
    prefix = f"{where}: " if where else ""
    raise ConfigError(f"{prefix}{key}: {message}")


def _build(cls: type, data: dict[str, Any], prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if k not in hints:
            close = difflib.get_close_matches(str(k), names, n=1)
            hint = f" (did you mean {(prefix + '.' if prefix else '') + close[0]!r}?)" if close else ""
            _fail(key, where, f"unknown key{hint}; known keys here: {', '.join(names)}")
        try:
            kwargs[k] = _convert(v, hints[k], key, where)
        except _Mismatch:
            _fail(key, where, f"expected {_type_name(hints[k])}, got {type(v).__name__} {v!r}")
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any], where: str = "") -> ExperimentConfig:
    """Validate a plain dict against :class:`ExperimentConfig` (``where`` names the source in errors)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where or 'config'}: expected a mapping at the top level, got {type(data).__name__}"
        )
    data = {k: v for k, v in data.items() if k != "_base_"}
    cfg = _build(ExperimentConfig, data, "", where)
    _check_values(cfg, where)
    return cfg


def _check_values(cfg: ExperimentConfig, where: str) -> None:
    d, t = cfg.data, cfg.train
    positive = {
        "data.frames": d.frames,
        "data.batch_size": d.batch_size,
        "train.epochs": t.epochs,
        "train.num_nodes": t.num_nodes,
        "train.log_every_n_steps": t.log_every_n_steps,
        "train.val_every_n_epochs": t.val_every_n_epochs,
        "fusion.grid_points": cfg.fusion.grid_points,
    }
    for key, value in positive.items():
        if value < 1:
            _fail(key, where, f"must be >= 1, got {value}")
    if d.eval_batch_size is not None and d.eval_batch_size < 1:
        _fail("data.eval_batch_size", where, f"must be >= 1, got {d.eval_batch_size}")
    if d.subset is not None and d.subset < 1:
        _fail("data.subset", where, f"must be >= 1, got {d.subset}")
    if d.num_workers < 0:
        _fail("data.num_workers", where, f"must be >= 0, got {d.num_workers}")
    if not 0.0 <= d.validation.fraction < 1.0:
        _fail("data.validation.fraction", where, f"must be in [0, 1), got {d.validation.fraction}")
    if d.validation.by not in ("sample", "subject"):
        _fail("data.validation.by", where, f"must be 'sample' or 'subject', got {d.validation.by!r}")
    if isinstance(d.fold, str) and d.fold != "all":
        _fail("data.fold", where, f"must be an int, 'all', a list of ints or null, got {d.fold!r}")
    if isinstance(d.fold, list) and not d.fold:
        _fail("data.fold", where, "an empty list of folds")
    if t.aim.warmup_epochs < 0:
        _fail("train.aim.warmup_epochs", where, f"must be >= 0, got {t.aim.warmup_epochs}")
    for key, opt in (("train.optim", t.optim), ("train.aim.optim", t.aim.optim)):
        if opt.lr <= 0:
            _fail(f"{key}.lr", where, f"must be > 0, got {opt.lr}")
    if isinstance(t.devices, str) and t.devices != "auto":
        _fail("train.devices", where, f"must be an int or 'auto', got {t.devices!r}")
    if isinstance(t.deterministic, str) and t.deterministic != "warn":
        _fail("train.deterministic", where, f"must be true, false or 'warn', got {t.deterministic!r}")
    if t.precision not in PRECISIONS:
        _fail(
            "train.precision", where,
            f"unknown precision {t.precision!r}; one of {', '.join(repr(p) for p in PRECISIONS)}",
        )  # fmt: skip
    if not 0.0 < t.averaging.decay < 1.0:
        _fail("train.averaging.decay", where, f"must be in (0, 1), got {t.averaging.decay}")
    if cfg.fusion.alpha is not None and not 0.0 <= cfg.fusion.alpha <= 1.0:
        _fail("fusion.alpha", where, f"must be in [0, 1], got {cfg.fusion.alpha}")


def config_to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as plain data (YAML/JSON-ready)."""
    return dataclasses.asdict(cfg)


def dump_config(cfg: ExperimentConfig, path: str | os.PathLike | None = None) -> str:
    """YAML text of the resolved config; also written (atomically) to ``path`` when given."""
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None, width=110)
    if path is not None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return text


# ---------------------------------------------------------------------------------------------
# Loading, inheritance, overrides
# ---------------------------------------------------------------------------------------------
def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key; any other value in ``over`` replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_bases(
    data: dict[str, Any], where: str, base_dir: Path | None, _stack: tuple[str, ...] = ()
) -> dict:
    """Return ``data`` merged over its ``_base_`` chain (recursively)."""
    bases = data.get("_base_")
    if bases is None:
        return dict(data)
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{where}: _base_ must be a file/preset name or a list of them, got {bases!r}")
    merged: dict[str, Any] = {}
    for ref in bases:
        base_data, base_where, base_base_dir = _load_ref(ref, base_dir, where)
        if base_where in _stack:
            raise ConfigError(f"{where}: _base_ cycle: {' -> '.join((*_stack, base_where))}")
        merged = merge(merged, resolve_bases(base_data, base_where, base_base_dir, (*_stack, where)))
    own = {k: v for k, v in data.items() if k != "_base_"}
    return merge(merged, own)


def _load_ref(ref: str, base_dir: Path | None, where: str) -> tuple[dict[str, Any], str, Path | None]:
    """Load a ``_base_`` reference: a YAML path (relative to ``base_dir``) or a preset name."""
    if ref.endswith((".yaml", ".yml")):
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ConfigError(f"{where}: _base_ file {ref!r} not found (looked for {path})")
        return presets.read_yaml(path), str(path), path.parent
    try:
        return presets.preset_source(ref)
    except KeyError as e:
        raise ConfigError(f"{where}: _base_ {e.args[0]}") from None


def load_raw(source: str | os.PathLike | dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """Read a config source with its ``_base_`` chain resolved: ``(data, where, default_name)``."""
    if isinstance(source, dict):
        data, where, base_dir, name = dict(source), "<dict>", None, "experiment"
    else:
        text = os.fspath(source)
        path = Path(text)
        if path.is_file():
            data, where, base_dir, name = presets.read_yaml(path), str(path), path.parent, path.stem
        elif text.endswith((".yaml", ".yml")) and not presets.is_preset(text):
            raise ConfigError(f"config file {text} not found")
        else:
            try:
                data, where, base_dir = presets.preset_source(text)
            except KeyError as e:
                raise ConfigError(str(e.args[0])) from None
            name = presets.normalise_name(text)
    own_name = data.get("name", name)
    merged = resolve_bases(data, where, base_dir)
    merged["name"] = own_name  # a config is named by its own file, never by a base
    return merged, where, own_name


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=1"`` -> ``("a.b", 1)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected dotted.key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: bad key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides to a plain config dict (returns a new dict)."""
    out = copy.deepcopy(data)
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {'.'.join(parts[: i + 1])} is not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def load_config(
    source: str | os.PathLike | dict[str, Any], overrides: list[str] | tuple[str, ...] = ()
) -> ExperimentConfig:
    """Load, merge, override and validate a config (see the module docstring)."""
    data, where, _ = load_raw(source)
    if overrides:
        data = apply_overrides(data, overrides)
        where = f"{where} (with overrides)"
    return config_from_dict(data, where)


def config_diff(a: ExperimentConfig, b: ExperimentConfig, ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values differ between two configs (``ignore``: key prefixes to skip)."""

    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(d, dict) and d:
            out: dict[str, Any] = {}
            for k, v in d.items():
                out.update(flat(v, f"{prefix}.{k}" if prefix else str(k)))
            return out
        return {prefix: d}

    fa, fb = flat(config_to_dict(a)), flat(config_to_dict(b))
    keys = sorted(set(fa) | set(fb))
    return [k for k in keys if fa.get(k) != fb.get(k) and not any(k.startswith(p) for p in ignore)]
