"""AS-GCN: blocks (Fig. 5), backbone (Fig. 6), recognition head, prediction head (Fig. 7), model.

Data flow of :class:`ASGCN` for a batch ``x`` ``(N, C, T, V, M)``:

1. With the prediction head on, the last ``horizon`` frames of ``x`` are the prediction target
   and are cut from the recognition input (as the official code does), so ``forward``,
   ``losses``, ``aim_losses`` and ``infer_links`` all see the observed part ``x[:, :, :-horizon]``;
   the dataset must supply :meth:`ASGCN.input_frames` ``(T) = T + horizon`` frames for a
   recognition window of ``T``. :meth:`ASGCN.forecast` instead treats all of ``x`` as observed.
2. The AIM encoder infers A-links per body from a window of the raw observed coordinates
   (:mod:`.aim`); they become the AGC kernels ``(N M, C, V, V)`` shared by every block.
3. Input batch-norm, bodies folded into the batch: ``(N M, C, T, V)`` (channels-last in memory).
4. The backbone's AS-GCN blocks (ASGC, BN, ReLU, T-CN, BN, dropout, residual, ReLU).
5. Recognition head: average over frames and joints, then over bodies, then a linear classifier.
6. Prediction head: AS-GCN blocks collapse the features to one frame, refine it with the last
   observed pose appended, and output ``horizon`` frames of displacements added to that pose.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...data.layouts import get_layout
from ...errors import ConfigError
from ..graph import structural_kernels
from ..registry import register_model
from ..units import Dropout, TemporalConv, collapse_time, residual_branch
from .aim import AIM
from .config import ASGCNConfig, resolve_config
from .links import ASGC, actional_kernels
from .losses import prediction_loss, recognition_loss

__all__ = ["ASGCN", "ASGCNBlock", "PredictionHead", "build_asgcn"]


class ASGCNBlock(nn.Module):
    """AS-GCN block (Fig. 5): ``ASGC -> BN -> ReLU -> T-CN (stride s) -> BN -> dropout (+ residual) -> ReLU``.

    Args:
        structural: S-link kernels ``(K_s, V, V)``; ``num_actional``: A-link kernels per call.
        kernel, stride: the temporal convolution.
        residual: ST-GCN residual branch (identity or strided 1x1 conv + BN).
        bias: the graph convolution's bias (option ``gcn_bias``, see :class:`~.links.ASGC`).
        collapse: resample the input to ``kernel`` frames and convolve without padding, so the
            block outputs exactly one frame (the last collapse block of the prediction head).
        activation: final ReLU (off for the prediction head's output block).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        structural: torch.Tensor,
        num_actional: int = 0,
        *,
        kernel: int = 9,
        stride: int = 1,
        residual: bool = True,
        dropout: float = 0.0,
        edge_importance: bool = True,
        lambda_act: float = 0.5,
        bias: bool = False,
        collapse: bool = False,
        activation: bool = True,
    ):
        super().__init__()
        self.kernel, self.collapse, self.activation = kernel, collapse, activation
        self.gcn = ASGC(
            in_channels, out_channels, structural, num_actional, edge_importance, lambda_act, bias
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.tcn = TemporalConv(out_channels, out_channels, kernel, stride, padding=not collapse)
        self.dropout = Dropout(dropout)
        self.residual = residual_branch(in_channels, out_channels, stride, residual and not collapse)

    def forward(self, x: torch.Tensor, actional: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C_in, T, V)`` -> ``(B, C_out, T / stride, V)`` (one frame when ``collapse``)."""
        if self.collapse:
            x = collapse_time(x, self.kernel)
        res = self.residual(x)
        # in-place ReLUs on fresh BN / sum outputs: their backward does not need them
        y = F.relu(self.bn(self.gcn(x, actional)), inplace=True)
        y = self.dropout(self.tcn(y)) + res
        return F.relu(y, inplace=True) if self.activation else y


class PredictionHead(nn.Module):
    """Future-pose prediction head (Fig. 7): collapse stage, refine stage, residual to the last pose.

    Args:
        in_channels: backbone output channels. pose_channels: channels of a pose (3).
        horizon: ``T'`` predicted frames.
        collapse: ``(channels, kernel, stride)`` per block; the last block outputs one frame.
        refine: output channels of the refine blocks (temporal kernel 1), each fed with the last
            observed pose appended to its input (paper: ``d_in = 128+3, 64+3, 32+3``).
        block: partial :class:`ASGCNBlock` constructor carrying the graph and shared options.
        readout: how the output block's ``T' C`` channels become poses: ``"frame_major"``
            (channel ``t C + c``, the last pose added to every frame) or ``"official"`` (the
            official code: channel ``c T' + t``, plus the last pose tiled frame-major, so output
            channel ``j`` gets coordinate ``j mod C`` of the last pose).
    """

    def __init__(
        self,
        in_channels: int,
        pose_channels: int,
        horizon: int,
        collapse: tuple[tuple[int, int, int], ...],
        refine: tuple[int, ...],
        block: Any,
        readout: str = "frame_major",
    ):
        super().__init__()
        self.pose_channels, self.horizon, self.readout = pose_channels, horizon, readout
        self.collapse = nn.ModuleList()
        prev = in_channels
        for i, (channels, kernel, stride) in enumerate(collapse):
            last = i == len(collapse) - 1
            self.collapse.append(block(prev, channels, kernel=kernel, stride=stride, collapse=last))
            prev = channels
        self.refine = nn.ModuleList()
        for channels in refine:
            self.refine.append(block(prev + pose_channels, channels, kernel=1))
            prev = channels
        self.out = block(
            prev + pose_channels, horizon * pose_channels, kernel=1, residual=False, activation=False
        )

    def zero_init_output(self) -> None:
        """Zero the output block's last BN scale: the head then outputs ``last_pose`` (zero velocity)."""
        nn.init.zeros_(self.out.tcn[-1].weight)

    def forward(
        self, h: torch.Tensor, last_pose: torch.Tensor, actional: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Features ``(B, C_h, T, V)``, last pose ``(B, C, 1, V)`` -> future poses ``(B, C, T', V)``."""
        for blk in self.collapse:
            h = blk(h, actional)  # ... -> (B, C_h', 1, V)
        for blk in self.refine:
            h = blk(torch.cat([h, last_pose], dim=1), actional)
        delta = self.out(torch.cat([h, last_pose], dim=1), actional)  # (B, T' C, 1, V)
        b, _, _, v = delta.shape
        if self.readout == "official":  # channel-major output, frame-major tiled pose
            base = last_pose.repeat(1, self.horizon, 1, 1)  # (B, T' C, 1, V): channel j = coord j mod C
            return (base + delta).reshape(b, self.pose_channels, self.horizon, v)  # (B, C, T', V)
        delta = delta.reshape(b, self.horizon, self.pose_channels, v).transpose(1, 2)  # (B, C, T', V)
        return last_pose + delta


class ASGCN(nn.Module):
    """Actional-structural graph convolutional network (Li et al., CVPR 2019).

    Build through the registry: ``skelact.models.build("asgcn", num_classes=60, layout="ntu25")``
    (options: :class:`~skelact.models.asgcn.config.ASGCNConfig`; resolved values in ``hparams``).
    """

    def __init__(
        self, num_classes: int, layout: str = "ntu25", in_channels: int = 3, config: ASGCNConfig | None = None
    ):
        super().__init__()
        cfg = config if config is not None else ASGCNConfig()
        lay = get_layout(layout)
        self.config, self.num_classes, self.in_channels, self.layout = cfg, num_classes, in_channels, lay.name
        self.hparams: dict[str, Any] = {
            "num_classes": num_classes,
            "layout": lay.name,
            "in_channels": in_channels,
            **cfg.to_dict(),
        }
        v = self.num_joints = lay.num_joints
        structural = torch.from_numpy(structural_kernels(lay, cfg.bone_variant, cfg.order, cfg.s_links))
        num_actional = cfg.num_link_types if cfg.uses_aim else 0

        bn_features = {"mvc": cfg.num_bodies * v * in_channels, "vc": v * in_channels}.get(cfg.data_bn)
        self.data_bn = nn.BatchNorm1d(bn_features) if bn_features else nn.Identity()

        block = partial(
            ASGCNBlock,
            structural=structural,
            num_actional=num_actional,
            dropout=cfg.dropout,
            edge_importance=cfg.edge_importance,
            lambda_act=cfg.lambda_act,
            bias=cfg.gcn_bias,
        )
        self.backbone = nn.ModuleList()
        prev = in_channels
        for i, (channels, stride) in enumerate(zip(cfg.channels, cfg.strides, strict=True)):
            self.backbone.append(
                block(prev, channels, kernel=cfg.temporal_kernel, stride=stride, residual=i > 0)
            )
            prev = channels
        self.fc = nn.Linear(prev, num_classes)
        self.predictor = (
            PredictionHead(
                prev, in_channels, cfg.horizon, cfg.pred_collapse, cfg.pred_refine, block, cfg.pred_readout
            )
            if cfg.prediction_head
            else None
        )
        self.aim = (
            AIM(
                v,
                in_channels,
                cfg.num_link_types,
                cfg.ghost_prior,
                frames=cfg.aim_frames,
                hidden=cfg.aim_hidden,
                iterations=cfg.aim_iterations,
                tau=cfg.tau,
                hard=cfg.hard_links,
                dropout=cfg.aim_dropout,
                variance=cfg.aim_variance,
                aggregation=cfg.aim_aggregation,
                encoder=cfg.aim_encoder,
                decoder=cfg.aim_decoder,
            )
            if cfg.uses_aim
            else None
        )
        if cfg.init == "official":
            self._official_init()
        if cfg.pred_zero_init and self.predictor is not None:
            self.predictor.zero_init_output()
        # Activations are channels-last; so are the convolution weights (no per-call reorder).
        self.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------------------- contract ---
    @property
    def has_aim(self) -> bool:
        return self.aim is not None

    def input_frames(self, frames: int) -> int:
        """Frames a sample must have for a recognition window of ``frames`` (+ the prediction target)."""
        return frames + (self.config.horizon if self.predictor is not None else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M)`` -> class logits ``(N, num_classes)`` (the target frames are cut first)."""
        x_obs = self.observed(x)
        h, _ = self.features(x_obs)
        return self._classify(h, x_obs.shape[0], x_obs.shape[-1])

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"loss", "ce"[, "pred"]}``: ``loss = CE + pred_weight * L_predict`` (eq. 6) with the head."""
        x_obs = self.observed(x)
        h, act = self.features(x_obs)
        ce = recognition_loss(self._classify(h, x_obs.shape[0], x_obs.shape[-1]), y)
        if self.predictor is None:
            return {"loss": ce, "ce": ce}
        target = x[:, :, x_obs.shape[2] :]
        pred = prediction_loss(self._predict(h, x_obs, act), target, self._pred_bodies(x, x_obs.shape[2]))
        return {"loss": ce + self.config.pred_weight * pred, "ce": ce, "pred": pred}

    def aim_losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """AIM warm-up objective ``{"loss", "nll", "kl"}`` on the observed frames of ``x``."""
        return self._require_aim("aim_losses").losses(self.observed(x))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Every parameter exactly once: ``backbone`` (blocks, heads, input BN), ``aim_encoder``,
        ``aim_decoder``."""
        enc = list(self.aim.encoder.parameters()) if self.aim is not None else []
        dec = list(self.aim.decoder.parameters()) if self.aim is not None else []
        aim_ids = {id(p) for p in enc + dec}
        return {
            "backbone": [p for p in self.parameters() if id(p) not in aim_ids],
            "aim_encoder": enc,
            "aim_decoder": dec,
        }

    @torch.no_grad()
    def infer_links(self, x: torch.Tensor, per_body: bool = False) -> torch.Tensor:
        """A-link probabilities (posterior, ghost first) ``(N, C + 1, V, V)``; ``[n, c, i, j]``: ``j -> i``.

        Inferred per body and averaged over the bodies present in the sample (all bodies if none
        is); ``per_body=True`` returns ``(N, M, C + 1, V, V)``. Use eval mode for deterministic
        output (training mode samples the AIM window at a random offset).
        """
        aim = self._require_aim("infer_links")
        x_obs = self.observed(x)
        n, m = x_obs.shape[0], x_obs.shape[-1]
        probs = aim.probabilities(x_obs)
        probs = probs.view(n, m, *probs.shape[1:])
        if per_body:
            return probs
        w = _present_bodies(x_obs).to(probs.dtype)  # (N, M)
        w = torch.where(w.sum(dim=1, keepdim=True) > 0, w, torch.ones_like(w))
        return (probs * w[:, :, None, None, None]).sum(dim=1) / w.sum(dim=1)[:, None, None, None]

    def forecast(self, x: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Future poses ``(N, C, steps, V, M)`` after all of ``x`` (``(N, C, T, V, M)``).

        Runs the prediction head ``ceil(steps / horizon)`` times, each time on the latest ``T``
        frames with the previous forecast appended.
        """
        if self.predictor is None:
            raise ConfigError("asgcn option 'prediction_head': forecast needs the prediction head")
        window, frames, chunks, done = x, x.shape[2], [], 0
        while done < steps:
            h, act = self.features(window)
            chunk = self._predict(h, window, act)  # (N, C, T', V, M)
            chunks.append(chunk)
            done += chunk.shape[2]
            if done < steps:
                window = torch.cat([window, chunk], dim=2)[:, :, -frames:]
        return torch.cat(chunks, dim=2)[:, :, :steps]

    # ------------------------------------------------------------------------------ internals ---
    def observed(self, x: torch.Tensor) -> torch.Tensor:
        """The recognition input: ``x`` without its last ``horizon`` frames when the head is on."""
        if x.dim() != 5:
            raise ValueError(f"AS-GCN expects (N, C, T, V, M), got shape {tuple(x.shape)}")
        if self.predictor is None:
            return x
        horizon = self.config.horizon
        if x.shape[2] <= horizon:
            raise ValueError(
                f"AS-GCN with the prediction head needs more than horizon={horizon} frames "
                f"(the last {horizon} are the target), got {x.shape[2]}"
            )
        return x[:, :, :-horizon]

    def features(self, x_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Backbone features ``(N M, C_out, T_out, V)`` and the AGC kernels used, for observed frames."""
        self._check_input(x_obs)
        act = self._actional(x_obs)
        h = self._embed(x_obs)
        for blk in self.backbone:
            h = blk(h, act)
        return h, act

    def _actional(self, x_obs: torch.Tensor) -> torch.Tensor | None:
        """AGC kernels ``(N M, C, V, V)`` (eq. 4) from the AIM encoder's links (eq. 3)."""
        if self.aim is None:
            return None
        cfg = self.config
        with torch.set_grad_enabled(torch.is_grad_enabled() and cfg.refine_links):
            links = self.aim.sample(self.aim.logits(self.aim.window(x_obs)))  # (N M, V, V-1, types)
            return actional_kernels(self.aim.actional(links), cfg.act_self_loops, cfg.act_scale)

    def _check_input(self, x: torch.Tensor) -> None:
        _, c, _, v, m = x.shape
        if v != self.num_joints:
            raise ValueError(
                f"AS-GCN was built for layout {self.layout!r} ({self.num_joints} joints), got V={v}"
            )
        if c != self.in_channels:
            raise ValueError(f"AS-GCN was built for in_channels={self.in_channels}, got C={c}")
        if self.config.data_bn == "mvc" and m != self.config.num_bodies:
            raise ValueError(
                f"AS-GCN was built for num_bodies={self.config.num_bodies} (data_bn='mvc'), got M={m}"
            )

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """Input batch-norm; ``(N, C, T, V, M)`` -> ``(N M, C, T, V)`` channels-last."""
        n, c, t, v, m = x.shape
        feats = m * v * c if self.config.data_bn == "mvc" else v * c
        h = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(-1, feats, t))  # (N | N M, feats, T)
        h = h.view(n, m, v, c, t).permute(0, 1, 4, 2, 3).reshape(n * m, t, v, c)  # (N M, T, V, C)
        return h.permute(0, 3, 1, 2)  # (N M, C, T, V), channels-last memory

    def _classify(self, h: torch.Tensor, n: int, m: int) -> torch.Tensor:
        """Recognition head: global average pool over frames and joints, then bodies; linear."""
        pooled = h.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)  # (N, C_out)
        return self.fc(pooled)

    def _predict(self, h: torch.Tensor, x_obs: torch.Tensor, act: torch.Tensor | None) -> torch.Tensor:
        """Prediction head on backbone features -> ``(N, C, T', V, M)``."""
        n, c, _, v, m = x_obs.shape
        last = x_obs[:, :, -1].permute(0, 3, 1, 2).reshape(n * m, c, 1, v)  # (N M, C, 1, V)
        pred = self.predictor(h, last, act)  # (N M, C, T', V)
        return pred.view(n, m, c, -1, v).permute(0, 2, 3, 4, 1)

    def _pred_bodies(self, x: torch.Tensor, observed: int) -> torch.Tensor:
        """What eq. 6 counts: ``(N, M)`` body 0 (``pred_bodies="first"``, official), or ``(N, T', M)``
        each body in each future frame where it is present, in that frame and in the last observed
        one (``"present"``): padding (an absent second person, zero frames) is never a target."""
        if self.config.pred_bodies == "first":
            mask = torch.zeros(x.shape[0], x.shape[-1], dtype=torch.bool, device=x.device)
            mask[:, 0] = True
            return mask
        present = x.detach().ne(0).any(dim=1).any(dim=2)  # (N, T, M)
        return present[:, observed:] & present[:, observed - 1 : observed]

    def _require_aim(self, what: str) -> AIM:
        if self.aim is None:
            raise ConfigError(
                f"asgcn option 'links': {what} needs A-links (links='a' or 'as'), got links='s'"
            )
        return self.aim

    def _official_init(self) -> None:
        """Official ``weights_init``: N(0, 0.02) convolution / linear / graph weights, N(1, 0.02) BN scales.

        Applied to the backbone and heads (the official model1), not to the AIM.
        """
        aim = set(self.aim.modules()) if self.aim is not None else set()
        for mod in self.modules():
            if mod in aim:
                continue
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(mod.weight, 0.0, 0.02)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
            elif isinstance(mod, ASGC):
                nn.init.normal_(mod.weight, 0.0, 0.02)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
                nn.init.normal_(mod.weight, 1.0, 0.02)
                nn.init.zeros_(mod.bias)


def _present_bodies(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, T, V, M)`` -> ``(N, M)`` bool: the body has a non-zero coordinate somewhere."""
    return x.detach().abs().sum(dim=(1, 2, 3)) > 0


def _training_recipe(model: nn.Module) -> str:
    """AS-GCN's training recipe (declared in the registry): ``"aim_warmup"`` (the AIM warm-up, then
    two optimisers) when the model has an A-link inference module (``links`` ``"a"`` / ``"as"``),
    ``"standard"`` otherwise (``links="s"``)."""
    if not isinstance(model, ASGCN):
        raise TypeError(f"the asgcn training recipe needs an ASGCN model, got {type(model).__name__}")
    return "aim_warmup" if model.config.uses_aim else "standard"


@register_model("asgcn", training=_training_recipe)
def build_asgcn(
    num_classes: int, layout: str = "ntu25", in_channels: int = 3, preset: str | None = None, **options: Any
) -> ASGCN:
    """Build AS-GCN from a preset (``preset="paper" | "official"``, default ``"paper"``) and option
    overrides (:func:`~skelact.models.asgcn.config.resolve_config`; ``variant=`` is the preset's
    deprecated former name).

    Options and aliases: :mod:`skelact.models.asgcn.config` (e.g. ``links="as"``, ``L=4``, ``C=3``,
    ``P0=0.95``, ``pred=True``, ``lambda_act=0.5``, ``horizon=10``, ``aim_hidden=128``, ``K=2``,
    ``tau=0.5``, ``dropout=0.5``, ``bone_variant="pyskl"``, ``edge_importance=True``).
    """
    return ASGCN(num_classes, layout, in_channels, resolve_config(preset, **options))
