"""ARRN-LSTM options: one dataclass, the per-dataset presets of Sec. 4.1, one resolver.

Every switch of the paper's Tables 1-2 and Sec. 4.1 is a field of :class:`ARRNOptions`. A preset
(``"ntu"``, ``"florence3d"``, ``"msr3d"``) fills the embedding size ``M`` and the mid LSTM size; by
default it follows the layout (:data:`LAYOUT_PRESETS`). Keyword options given by the user override
it. Unknown keys and bad values raise :class:`~skelact.errors.ConfigError` naming the key.

>>> resolve_config(layout="kinect20", attention=False).embed_dim
20
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ...data.layouts import Layout, get_layout
from ...errors import ConfigError, warn_at_caller

__all__ = [
    "ATTENTION_INITS",
    "ARRNOptions",
    "BODY_POOLS",
    "LAYOUT_PRESETS",
    "PRESETS",
    "READOUTS",
    "STREAMS",
    "resolve_config",
]

STREAMS = ("joint", "line")
READOUTS = ("mean", "last", "concat")
BODY_POOLS = ("mean", "max")
ATTENTION_INITS = ("ones", "random")

#: Per-dataset settings of Sec. 4.1: embedding size M and mid LSTM layer size. (Sec. 4.1's input
#: frames T, 100 / 25 / 20, are the configs' ``data.frames``; the builder takes ``frames=``.)
PRESETS: dict[str, dict[str, int]] = {
    "ntu": {"embed_dim": 50, "mid_size": 512},
    "florence3d": {"embed_dim": 20, "mid_size": 256},
    "msr3d": {"embed_dim": 20, "mid_size": 256},
}
#: Preset used when none is named, by layout.
LAYOUT_PRESETS: dict[str, str] = {
    "ntu25": "ntu",
    "openpose18": "ntu",
    "kinect20": "msr3d",
    "florence15": "florence3d",
    "florence8": "florence3d",
}


@dataclass
class ARRNOptions:
    """Every switch of the paper's Tables 1-2 and Sec. 4.1; ``None`` = from the preset / derived."""

    #: ``"ntu"`` | ``"florence3d"`` | ``"msr3d"`` (:data:`PRESETS`); ``None``: the layout's.
    preset: str | None = None
    attention: bool = True  # ARRN (mask, eq. 9) vs RRN
    iterations: int = 5  # E
    embed_dim: int | None = None  # M (preset: 50 / 20 / 20)
    message_hidden: int | None = None  # width of f's hidden layers (default M)
    attention_dim: int = 256  # FC of eq. 9
    lstm_layers: int = 3  # H
    hidden_size: int = 512  # h, output of the last LSTM layer
    mid_size: int | None = None  # middle LSTM layer(s) (preset: 512 / 256 / 256)
    lstm_sizes: tuple[int, ...] | None = None  # explicit per-layer sizes (overrides the three above)
    readout: str = "mean"  # eq. 11: "mean" | "last" | "concat"
    dropout: float = 0.0
    body_pool: str = "mean"  # "mean" | "max"
    attention_init: str = "ones"  # "ones" | "random"
    skip_empty_bodies: bool = True
    checkpoint: bool = False  # recompute RRN messages in backward (memory for compute)
    label_smoothing: float = 0.0  # of each stream's cross-entropy (not in the paper)


def resolve_config(preset: str | None = None, layout: str | Layout = "ntu25", **options: Any) -> ARRNOptions:
    """Preset ``preset`` updated by ``options`` (the other fields of :class:`ARRNOptions`), with the
    derived sizes filled in, validated.

    ``preset=None`` takes the layout's (:data:`LAYOUT_PRESETS`; ``"ntu"`` for a layout without
    one); the resolved options name the preset they were filled from.
    """
    if preset is None:
        preset = LAYOUT_PRESETS.get(get_layout(layout).name, "ntu")
    elif preset not in PRESETS:
        raise ConfigError(f"arrn_lstm: unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    known = {f.name for f in fields(ARRNOptions)} - {"preset"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"arrn_lstm: unknown option(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")
    _warn_ignored(options)
    opts = ARRNOptions(preset=preset, **options)
    for key, value in PRESETS[preset].items():
        if getattr(opts, key) is None:
            setattr(opts, key, value)
    if opts.message_hidden is None:
        opts.message_hidden = opts.embed_dim
    if opts.lstm_sizes is None:
        h = opts.lstm_layers
        opts.lstm_sizes = tuple(opts.mid_size if 0 < k < h - 1 else opts.hidden_size for k in range(h))
    else:
        opts.lstm_sizes = tuple(int(s) for s in opts.lstm_sizes)
        if not opts.lstm_sizes:
            raise ConfigError("arrn_lstm: lstm_sizes must name at least one layer, got []")
        if "lstm_layers" in options and len(opts.lstm_sizes) != opts.lstm_layers:
            raise ConfigError(f"arrn_lstm: lstm_sizes has {len(opts.lstm_sizes)} layers "
                              f"but lstm_layers={opts.lstm_layers}")
        opts.lstm_layers, opts.hidden_size = len(opts.lstm_sizes), opts.lstm_sizes[-1]

    checks = {
        "iterations": opts.iterations >= 1,
        "embed_dim": opts.embed_dim >= 1,
        "message_hidden": opts.message_hidden >= 1,
        "attention_dim": opts.attention_dim >= 1,
        "lstm_layers": opts.lstm_layers >= 1,
        "lstm_sizes": len(opts.lstm_sizes) >= 1 and min(opts.lstm_sizes) >= 1,
        "readout": opts.readout in READOUTS,
        "dropout": 0.0 <= opts.dropout < 1.0,
        "label_smoothing": 0.0 <= opts.label_smoothing < 1.0,
        "body_pool": opts.body_pool in BODY_POOLS,
        "attention_init": opts.attention_init in ATTENTION_INITS,
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise ConfigError(f"arrn_lstm: invalid value for {bad[0]}: {getattr(opts, bad[0])!r}")
    return opts


def _warn_ignored(options: dict[str, Any]) -> None:
    """Warn about options given explicitly that another option makes ineffective (a typo'd ablation
    should not pass silently): the mask's settings without the mask, sizes that ``lstm_sizes``
    replaces, a middle size without a middle layer."""
    ignored = []
    if not options.get("attention", True):
        if "attention_init" in options:  # the FC of eq. 9 (attention_dim) stays without the mask
            ignored.append(("attention_init", "attention=False has no mask to initialise (eq. 9)"))
    if options.get("lstm_sizes") is not None:
        ignored += [(k, "lstm_sizes is given") for k in ("hidden_size", "mid_size") if k in options]
    elif "mid_size" in options and options.get("lstm_layers", 3) <= 2:
        ignored.append(("mid_size", f"lstm_layers={options.get('lstm_layers')} has no middle layer"))
    for key, reason in ignored:
        warn_at_caller(f"arrn_lstm: option {key}={options[key]!r} has no effect: {reason}")
