"""Frame-by-frame (incremental) inference with a trained ARRN-LSTM: one frame of compute per frame.

Everything ARRN-LSTM does before its LSTM depends on one frame only: the line features (eq. 2), the
embedding (eqs. 1, 3), the RRN over the joints of each body (eqs. 4-8), the pooling over the bodies
of the frame and the attention (eq. 9). Only the LSTM stack of eq. 10 links frames, through its
state ``(h, c)``. :class:`IncrementalARRN` therefore computes the per-frame part once for each new
frame (:meth:`ARRNStream.relate <skelact.models.arrn.model.ARRNStream.relate>` on a 1-frame input)
and advances every LSTM layer by one time step from the state the previous frame left (the cell
equations of ``nn.LSTM`` on the layer's own weights, see :func:`_lstm_step`). The last
``T`` LSTM outputs ``q_t`` are kept in a fixed ring, and the readout of eq. 11 (the model's
``readout``: ``"mean"``, ``"last"`` or ``"concat"`` of the held outputs), the classifier and, for
two streams, the score fusion of eq. 12 (the model's ``fusion_alpha``) run on that ring. A frame
costs the same however long ``T`` is; a readout costs one classifier call.

How its predictions relate to the windowed model's (the model run on the last ``T`` frames):

* **the same weights**: the wrapper calls the model's own submodules; nothing is copied or refit;
* **the first T frames** of a stream (and of every stream after :meth:`IncrementalARRN.reset`):
  the LSTM starts from zero, as it does at the first frame of every training clip, so after
  exactly ``T`` frames the logits equal ``model(frames[0:T])`` (up to float rounding; tested to
  1e-5). With ``readout="mean"`` or ``"last"``, after ``t < T`` frames they equal ``model(frames[0:t])``
  (the model on the frames so far, not zero-padded to ``T``); ``"concat"`` needs ``T`` outputs and
  gives nothing before frame ``T``;
* **later**: the LSTM is never restarted, so at frame ``t > T`` the outputs ``q_{t-T+1} .. q_t`` in
  the readout are those of one LSTM run over **all** frames since the stream began (or since the last
  reset), not of a run restarted at frame ``t - T + 1`` as in the windowed model. The readout window
  is the same ``T`` frames; what differs is the state the LSTM brings into it, which carries the
  history before the window (the windowed model's readout sees none of it). Predictions therefore
  differ from the windowed model's after frame ``T``; how much is a property of the trained LSTM
  (``reset()`` at a known action boundary restores the equality).

The model must be in eval mode (dropout off). Batches work: a ``(N, C, V, M)`` frame advances ``N``
independent streams; the batch size is fixed from the first frame until :meth:`reset`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fusion import fused_log_scores
from .model import ARRNLSTM, ARRNStream

__all__ = ["IncrementalARRN"]


def _lstm_step(layer: nn.LSTM, x: torch.Tensor,
               state: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of a one-layer ``nn.LSTM`` with its own weights: ``(h, c)`` after input ``x (N, I)``.

    The cell equations of ``nn.LSTM`` (gates ``i, f, g, o`` in that order in ``weight_ih_l0`` /
    ``weight_hh_l0``); ``state`` None is the zero state. Calling ``nn.LSTM`` itself on one time step
    gives the same numbers but costs some 30x more on CPU (the fused kernel's set-up per call).
    """
    if state is None:
        zeros = x.new_zeros(x.shape[0], layer.hidden_size)
        state = (zeros, zeros)
    h, c = state
    gates = F.linear(x, layer.weight_ih_l0, layer.bias_ih_l0)
    gates = gates + F.linear(h, layer.weight_hh_l0, layer.bias_hh_l0)  # (N, 4 hidden)
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class _StreamState:
    """The recurrent state of one stream: each LSTM layer's ``(h, c)`` and the ring of outputs."""

    def __init__(self, layers: int) -> None:
        self.lstm: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * layers  # None: zero state
        self.ring: torch.Tensor | None = None  # (N, 2T, h): each output written at i and i + T


class IncrementalARRN:
    """Run a built (and trained) :class:`~skelact.models.arrn.model.ARRNLSTM` one frame at a time.

    Args:
        model: the model, in eval mode; its submodules are used as they are (no weight copies).
        window: ``T``, how many of the newest LSTM outputs the readout reads (default: the model's
            clip length ``frames``; ``readout="concat"`` needs exactly it).

    ``step(frame)`` runs the per-frame part and one LSTM step, then returns the logits of the
    readout over the last ``T`` outputs, ``(N, K)`` (for two streams the fused log-scores of eq. 12,
    as the model's forward returns them), or None while the readout cannot be formed (``"concat"``
    before ``T`` frames). :meth:`advance` and :meth:`logits` are the two halves, for callers that
    want a prediction only every few frames. See the module docstring for how the predictions
    relate to the windowed model's.
    """

    def __init__(self, model: ARRNLSTM, window: int | None = None):
        if not isinstance(model, ARRNLSTM):
            raise TypeError("incremental inference needs an ARRN-LSTM PyTorch model (ARRNLSTM), "
                            f"got {type(model).__name__}")
        if model.training:
            raise ValueError("incremental inference needs the model in eval mode (call model.eval())")
        self.model = model
        self.streams: dict[str, ARRNStream] = dict(model.streams.items())
        for stream in self.streams.values():
            for layer in stream.temporal.layers:
                plain = isinstance(layer, nn.LSTM) and layer.num_layers == 1 and not layer.bidirectional
                if not plain or layer.proj_size:
                    raise TypeError(f"incremental inference steps one-layer one-way nn.LSTMs, got {layer}")
        first = next(iter(self.streams.values()))
        self.readout = first.readout
        frames = first.frames
        if window is None:
            window = frames
        if window is None:
            raise ValueError("the readout window T is needed: the model does not know its clip length "
                             "(pass window=T, the training frames)")
        window = int(window)
        if window < 1:
            raise ValueError(f"window must be >= 1 frame, got {window}")
        if self.readout == "concat" and window != frames:
            raise ValueError(f"readout='concat' reads exactly the model's T={frames} outputs, "
                             f"got window={window}")
        self.window = window
        self._fuse = model.stream == "two_stream"
        self.reset()

    # -- state -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new stream: LSTM state back to zero, no outputs held."""
        self._states = {name: _StreamState(len(s.temporal.layers)) for name, s in self.streams.items()}
        self._next = 0  # ring slot the next output goes to, in [0, T)
        self._size = 0  # outputs held, <= T
        self.frames_seen = 0  # frames advanced since the start / the last reset
        self._batch: int | None = None

    @property
    def held(self) -> int:
        """LSTM outputs in the readout window now, ``min(frames_seen, T)``."""
        return self._size

    @property
    def ready(self) -> bool:
        """Whether :meth:`logits` can form the readout (``"concat"`` needs ``T`` outputs)."""
        return self._size == self.window if self.readout == "concat" else self._size > 0

    # -- per frame -------------------------------------------------------------------------------
    def _as_batch(self, frame: torch.Tensor) -> torch.Tensor:
        frame = torch.as_tensor(frame)
        if frame.dim() == 3:
            frame = frame.unsqueeze(0)
        if frame.dim() != 4:
            raise ValueError(f"a frame is (C, V, M) or (N, C, V, M), got shape {tuple(frame.shape)}")
        if self._batch is None:
            self._batch = frame.shape[0]
        elif frame.shape[0] != self._batch:
            raise ValueError(f"this stream has batch size {self._batch}, got a frame of {frame.shape[0]} "
                             "(reset() to start streams of another size)")
        param = next(self.model.parameters())
        return frame.to(device=param.device, dtype=param.dtype)

    def _advance_stream(self, stream: ARRNStream, state: _StreamState, x: torch.Tensor) -> torch.Tensor:
        """Eqs. 1-9 on the one frame ``x (N, C, 1, V, M)`` and one step of eq. 10: ``q_t (N, h)``."""
        w = stream.relate(x)  # (N, 1, V, D): one RRN call for this frame's bodies
        q = stream.input_dropout(stream.attention(w))  # (N, 1, attention_dim), eq. 9
        q = q[:, 0]  # (N, attention_dim)
        for k, layer in enumerate(stream.temporal.layers):
            if k:
                q = stream.temporal.dropout(q)
            state.lstm[k] = _lstm_step(layer, q, state.lstm[k])
            q = state.lstm[k][0]  # (N, sizes[k])
        return q

    def advance(self, frame: torch.Tensor) -> None:
        """Feed one frame ``(C, V, M)`` or ``(N, C, V, M)`` (already preprocessed as the model's input:
        e.g. hip-centred): per-frame features and one LSTM step per stream, output into the ring."""
        with torch.inference_mode():
            x = self._as_batch(frame).unsqueeze(2)  # (N, C, 1, V, M)
            t = self.window
            slot = self._next
            for name, stream in self.streams.items():
                state = self._states[name]
                q = self._advance_stream(stream, state, x)  # (N, h)
                if state.ring is None:
                    state.ring = q.new_zeros(q.shape[0], 2 * t, q.shape[1])
                state.ring[:, slot] = q
                state.ring[:, slot + t] = q
            self._next = (slot + 1) % t
            self._size = min(self._size + 1, t)
            self.frames_seen += 1

    # -- readout ---------------------------------------------------------------------------------
    def outputs(self, name: str) -> torch.Tensor:
        """The held LSTM outputs of stream ``name``, oldest first, ``(N, held, h)`` (a view)."""
        ring = self._states[name].ring
        if ring is None:
            raise RuntimeError("no frame advanced yet")
        end = self._next + self.window
        return ring[:, end - self._size : end]

    def stream_logits(self) -> dict[str, torch.Tensor] | None:
        """Each stream's logits from the readout over the held outputs (eq. 11), or None when not
        :attr:`ready`."""
        if not self.ready:
            return None
        out = {}
        with torch.inference_mode():
            for name, stream in self.streams.items():
                out[name] = stream.classify(self.outputs(name))  # (N, held, h) -> (N, K)
        return out

    def logits(self) -> torch.Tensor | None:
        """The model's output for the current readout window, ``(N, K)``: one stream's logits, or the
        fused log-scores of eq. 12 with the model's ``fusion_alpha``; None when not :attr:`ready`."""
        logits = self.stream_logits()
        if logits is None:
            return None
        if not self._fuse:
            return next(iter(logits.values()))
        with torch.inference_mode():
            return fused_log_scores(logits["joint"], logits["line"], self.model.fusion_alpha)

    def step(self, frame: torch.Tensor) -> torch.Tensor | None:
        """:meth:`advance` by one frame, then :meth:`logits`."""
        self.advance(frame)
        return self.logits()
