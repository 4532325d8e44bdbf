"""AS-GCN options: one dataclass, two presets (``"paper"``, ``"official"``), short aliases, one
resolver (:func:`resolve_config`).

Every ablation of the paper's Tables 1-3 is one option (see ``docs/models/asgcn.md``):

* Table 1, link types: ``links="s" | "a" | "as"`` and the S-link order ``order`` (``L``) 1..4.
* Table 2, A-link types and sparsity: ``num_link_types`` (``C``) 1..5 and the ghost prior
  ``ghost_prior`` (``P0``; ``0`` removes the ghost link type altogether).
* Table 3, prediction head: ``prediction_head`` (``pred``) on / off, for ``order`` 1..4.

A preset (``preset=``; ``variant=`` is its deprecated former spelling) fills every option; keyword
options given by the user override it. Unknown keys and bad values raise
:class:`~skelact.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError, warn_at_caller
from .aim import AGGREGATIONS, DECODERS, ENCODERS

__all__ = ["ALIASES", "PRESETS", "ASGCNConfig", "IgnoredOptionWarning", "resolve_config"]

# Block specs as data: (out_channels, temporal_kernel, stride).
_PAPER_BACKBONE = (64, 64, 64, 128, 128, 128, 256, 256, 256)  # Fig. 6
_PAPER_STRIDES = (1, 1, 1, 2, 1, 1, 2, 1, 1)  # Fig. 6: T = 300, 150, 75


@dataclass
class ASGCNConfig:
    """Resolved AS-GCN options (defaults = the ``"paper"`` preset)."""

    #: the preset the other options were filled from (:data:`PRESETS`).
    preset: str = "paper"
    # --- links (Sec. 4.1-4.3, Table 1) ---
    #: "s": S-links only (no AIM); "a": A-links + the skeleton graph (order forced to 1);
    #: "as": A-links + S-links (ASGC = SGC + lambda AGC).
    links: str = "as"
    #: "powers": paper eq. 5, 3 partitions x powers 1..order; "hops": official code, ST-GCN
    #: spatial partition over hop distances 0..order (1 + 2 order kernels).
    s_links: str = "powers"
    #: polynomial order L of the S-links (Tables 1, 3); the max hop for ``s_links="hops"``.
    order: int = 4
    bone_variant: str | None = None
    #: learnable edge importance M (eq. 5) on the structural kernels, one per block.
    edge_importance: bool = True
    #: a bias per kernel and output channel in the graph convolution, carried through the kernels
    #: (the official code's 1x1 convolution bias); off: ASGC is linear (Theorem 1).
    gcn_bias: bool = False
    # --- A-links (Sec. 4.1, eq. 2-4, Table 2) ---
    num_link_types: int = 3  # C
    ghost_prior: float = 0.95  # P0; 0 = no ghost type
    lambda_act: float = 0.5  # lambda of ASGC
    tau: float = 0.5  # Gumbel-softmax temperature (eq. 3)
    hard_links: bool = False  # official: straight-through one-hot Gumbel samples
    act_self_loops: bool = False  # official: A_c + I before normalising
    act_scale: float = 1.0  # official: 0.1
    #: paper: the recognition loss refines the A-links through the encoder; official: AIM frozen.
    refine_links: bool = True
    aim_hidden: int = 128
    aim_iterations: int = 2  # K joint<->link propagations of the encoder
    aim_frames: int = 50  # frames sampled from the sequence for the AIM
    aim_dropout: float = 0.0
    aim_variance: float = 5e-4  # sigma^2 of the Gaussian NLL
    #: decoder message aggregation F: "mean" over senders (paper); "nri": the official/NRI sum
    #: divided by the number of link types and by the coordinate dimension.
    aim_aggregation: str = "mean"
    #: encoder wiring: "eq2" (paper: p^(k+1) = F(Q^(k+1)) (+) p^(k)); "nri": the official / NRI
    #: code's (joints updated by the sum of their links / V alone, the next link MLP also reads the
    #: previous links Q^(k)).
    aim_encoder: str = "eq2"
    #: decoder: "poses" (paper steps a-d, messages from the observed poses, all frames at once);
    #: "recurrent": the official / NRI decoder, messages from the recurrent state, frame by frame.
    aim_decoder: str = "poses"
    # --- backbone (Fig. 5, 6) ---
    channels: tuple[int, ...] = _PAPER_BACKBONE
    strides: tuple[int, ...] = _PAPER_STRIDES
    temporal_kernel: int = 7  # Fig. 5: T-CN [d_out, d_out, 7, 1]; official code 9
    dropout: float = 0.5
    #: input batch-norm over "mvc" (bodies x joints x channels, ST-GCN), "vc" (official) or "none".
    data_bn: str = "mvc"
    num_bodies: int = 2
    init: str = "default"  # "official": N(0, 0.02) convolutions, N(1, 0.02) BN scales
    # --- future-pose prediction head (Fig. 7, eq. 6, Table 3) ---
    prediction_head: bool = True
    horizon: int = 10  # T'
    pred_weight: float = 0.01  # official w_pred (the paper gives no value)
    #: zero the scale of the head's output batch-norm, so the untrained head predicts the last
    #: observed pose (zero velocity) and learns displacements from there (the zero-gamma
    #: initialisation of Goyal et al. 2017); not in the paper or the official code, whose head
    #: starts with displacements of unit variance.
    pred_zero_init: bool = False
    #: "present": L2 over every body present in the sample; "first": body 0 only (official).
    pred_bodies: str = "present"
    #: how the output block's T' x C channels become poses: "frame_major" (frame t, coordinate c at
    #: channel t C + c, the last pose added to every frame); "official": the official code's readout,
    #: channel c T' + t, plus the last pose tiled frame-major (channel j gets coordinate j mod C).
    pred_readout: str = "frame_major"
    #: collapse stage, (channels, kernel, stride) per block; the last block is unpadded and maps
    #: its (resampled) input to one frame.
    pred_collapse: tuple[tuple[int, int, int], ...] = (
        (128, 7, 2),
        (128, 7, 2),
        (128, 7, 2),
        (128, 3, 2),
        (128, 5, 1),
    )
    #: refine stage at T = 1: output channels per block, each fed with the last pose appended.
    pred_refine: tuple[int, ...] = (64, 32)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def uses_aim(self) -> bool:
        return self.links in ("a", "as")

    @property
    def has_ghost(self) -> bool:
        return self.ghost_prior > 0


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # limaosen0/AS-GCN (config/as_gcn/ntu-xsub/train.yaml, net/as_gcn.py, net/utils/adj_learn.py).
    "official": {
        "s_links": "hops",
        "order": 4,
        "gcn_bias": True,
        "num_link_types": 2,  # edge_types 3 = ghost + 2 actional graphs
        "hard_links": True,
        "act_self_loops": True,
        "act_scale": 0.1,
        "refine_links": False,
        "aim_dropout": 0.5,
        "aim_aggregation": "nri",
        "aim_encoder": "nri",
        "aim_decoder": "recurrent",
        "temporal_kernel": 9,
        "data_bn": "vc",
        "init": "official",
        "pred_bodies": "first",
        "pred_readout": "official",
        "pred_collapse": ((128, 9, 1), (128, 9, 2), (128, 9, 2), (128, 9, 2), (128, 3, 2), (128, 5, 1)),
        "pred_refine": (),
    },
}

#: Short names accepted as options (the paper's symbols and brief forms).
ALIASES = {
    "L": "order",
    "max_hop": "order",
    "C": "num_link_types",
    "P0": "ghost_prior",
    "lambda": "lambda_act",
    "lam": "lambda_act",
    "K": "aim_iterations",
    "pred": "prediction_head",
    "T_pred": "horizon",
    "hidden": "aim_hidden",
    "w_pred": "pred_weight",
}

_CHOICES = {
    "links": ("s", "a", "as"),
    "s_links": ("powers", "hops"),
    "aim_aggregation": AGGREGATIONS,
    "aim_encoder": ENCODERS,
    "aim_decoder": DECODERS,
    "pred_readout": ("frame_major", "official"),
    "data_bn": ("mvc", "vc", "none"),
    "init": ("default", "official"),
    "pred_bodies": ("present", "first"),
}


class IgnoredOptionWarning(UserWarning):
    """An AS-GCN option was set that the rest of the configuration makes irrelevant."""


#: Options that only matter with the A-link inference module (``links`` "a" or "as").
AIM_OPTIONS = (
    "num_link_types", "ghost_prior", "lambda_act", "tau", "hard_links", "act_self_loops", "act_scale",
    "refine_links", "aim_hidden", "aim_iterations", "aim_frames", "aim_dropout", "aim_variance",
    "aim_aggregation", "aim_encoder", "aim_decoder",
)  # fmt: skip
#: Options that only matter with the future-pose prediction head.
PREDICTION_OPTIONS = (
    "horizon", "pred_weight", "pred_zero_init", "pred_bodies", "pred_readout", "pred_collapse",
    "pred_refine",
)  # fmt: skip


def _warn_ignored(cfg: ASGCNConfig, given: dict[str, Any]) -> None:
    """Warn about every option set to another value than its preset's that this configuration does
    not use (a value equal to the preset's changes nothing either way)."""
    defaults = ASGCNConfig(**PRESETS[cfg.preset])
    unused: list[tuple[str, str]] = []
    if not cfg.uses_aim:
        unused += [(k, f"links={cfg.links!r} has no A-link inference module") for k in AIM_OPTIONS]
    if not cfg.prediction_head:
        unused += [(k, "prediction_head=False") for k in PREDICTION_OPTIONS]
    if cfg.data_bn != "mvc":
        unused.append(("num_bodies", f"data_bn={cfg.data_bn!r} does not normalise per body"))
    for key, why in unused:
        if key in given and getattr(cfg, key) != getattr(defaults, key):
            warn_at_caller(f"asgcn option {key!r} is ignored: {why}", IgnoredOptionWarning)


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"asgcn option {key!r}: {message}")


#: The former name of the preset keyword, still accepted (with a ``DeprecationWarning``).
DEPRECATED_PRESET_KEY = "variant"


def resolve_config(preset: str | None = None, **options: Any) -> ASGCNConfig:
    """Preset ``preset`` (default ``"paper"``) updated by ``options`` (aliases allowed), validated.

    ``variant=`` is accepted as the deprecated spelling of ``preset=`` (configs and checkpoints
    written before the rename): a ``DeprecationWarning``, and a ``ConfigError`` when both are given
    and differ.
    """
    if DEPRECATED_PRESET_KEY in options:
        old = options.pop(DEPRECATED_PRESET_KEY)
        warn_at_caller(
            f"asgcn option {DEPRECATED_PRESET_KEY!r} is deprecated: name the preset with 'preset' "
            f"(preset: {old})",
            DeprecationWarning,
        )
        if preset is not None and preset != old:
            _fail(
                DEPRECATED_PRESET_KEY,
                f"{old!r} differs from preset={preset!r}; give the preset once, as 'preset'",
            )
        preset = old
    if preset is None:
        preset = "paper"
    if preset not in PRESETS:
        _fail("preset", f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    known = {f.name for f in dataclasses.fields(ASGCNConfig)} - {"preset"}
    given: dict[str, Any] = {}
    for key, value in options.items():
        name = ALIASES.get(key, key)
        if name not in known:
            _fail(key, f"unknown option (known: {', '.join(sorted(known | set(ALIASES)))})")
        if name in given:
            _fail(key, f"given twice (as {name!r} and an alias)")
        given[name] = value
    values = {**PRESETS[preset], **given, "preset": preset}
    for key in ("channels", "strides", "pred_refine"):
        if key in values:
            values[key] = tuple(int(v) for v in values[key])
    if "pred_collapse" in values:
        values["pred_collapse"] = tuple(tuple(int(v) for v in spec) for spec in values["pred_collapse"])
    cfg = ASGCNConfig(**values)
    if cfg.links == "a":
        if "order" in given and int(given["order"]) != 1:
            _fail("order", "links='a' uses the skeleton graph itself (order 1); use links='as' for S-links")
        cfg.order = 1
    _validate(cfg)
    _warn_ignored(cfg, given)
    return cfg


def _validate(cfg: ASGCNConfig) -> None:
    for key, choices in _CHOICES.items():
        if getattr(cfg, key) not in choices:
            _fail(key, f"must be one of {choices}, got {getattr(cfg, key)!r}")
    if not isinstance(cfg.gcn_bias, bool):
        _fail("gcn_bias", f"must be true or false, got {cfg.gcn_bias!r}")
    for key in (
        "order",
        "num_link_types",
        "aim_hidden",
        "aim_iterations",
        "aim_frames",
        "horizon",
        "temporal_kernel",
        "num_bodies",
    ):
        value = getattr(cfg, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            _fail(key, f"must be an integer >= 1, got {value!r}")
    if cfg.aim_frames < 2:
        _fail("aim_frames", "the AIM decoder needs at least 2 frames")
    if not 0.0 <= cfg.ghost_prior < 1.0:
        _fail("ghost_prior", f"must be in [0, 1), got {cfg.ghost_prior!r}")
    for key in ("tau", "aim_variance", "act_scale"):
        if not getattr(cfg, key) > 0:
            _fail(key, f"must be > 0, got {getattr(cfg, key)!r}")
    for key in ("dropout", "aim_dropout"):
        if not 0.0 <= getattr(cfg, key) < 1.0:
            _fail(key, f"must be in [0, 1), got {getattr(cfg, key)!r}")
    if cfg.pred_weight < 0 or cfg.lambda_act < 0:
        _fail("pred_weight" if cfg.pred_weight < 0 else "lambda_act", "must be >= 0")
    if cfg.temporal_kernel % 2 != 1:
        _fail("temporal_kernel", f"must be odd, got {cfg.temporal_kernel}")
    if not cfg.channels or len(cfg.channels) != len(cfg.strides):
        _fail(
            "strides", f"needs one stride per block: {len(cfg.channels)} channels, {len(cfg.strides)} strides"
        )
    if any(c < 1 for c in cfg.channels) or any(s < 1 for s in cfg.strides):
        _fail("channels", "channels and strides must be >= 1")
    if cfg.prediction_head:
        if not cfg.pred_collapse:
            _fail("pred_collapse", "needs at least one block")
        for spec in cfg.pred_collapse:
            if len(spec) != 3 or spec[0] < 1 or spec[1] < 1 or spec[1] % 2 != 1 or spec[2] < 1:
                _fail("pred_collapse", f"each block is (channels >= 1, odd kernel, stride >= 1), got {spec}")
