"""Skeleton graphs for graph-convolutional models: adjacency, hop distance, partitions, powers.

Everything here is plain NumPy (built once, at model construction) and model-agnostic: any
graph-convolutional model (ST-GCN, AS-GCN, ...) can build its kernels from these functions. Joint
facts (bones, centre joint, bone variants) come from :mod:`skelact.data.layouts` only.

**Convention (row form).** Every matrix ``K`` returned here is ``(V, V)`` with ``K[i, j]`` the weight
with which joint ``j`` (the *sender*, a neighbour) contributes to joint ``i`` (the *receiver*, the
root of the neighbourhood), so a graph convolution of per-joint features ``X (V, C)`` is ``K @ X``,
exactly the paper notation ``Â X``. ST-GCN's code stores the transpose (``A[j, i]``, contracted with
``einsum('nkctv,kvw->nctw')``); use ``K.T`` (or ``K.swapaxes(-1, -2)``) to feed such code.

**Normalisation.** :func:`normalize_rows` is the random-walk / transition normalisation
``Â = D^-1 A`` (AS-GCN Sec. 4.2): every non-empty row sums to 1; empty rows stay zero. It equals the
column normalisation ``A D^-1`` of ST-GCN's ``normalize_digraph`` in ST-GCN's transposed storage.

**Spatial partition** (ST-GCN, AS-GCN Sec. 3.1). The neighbours of a root joint ``i`` are split by
their distance to the layout's centre joint ``c`` (``Layout.center``, the "body barycentre"):

* ``root``: the joint itself;
* ``centripetal``: neighbours closer to the centre than the root, ``d(j, c) < d(i, c)``;
* ``centrifugal``: neighbours farther from the centre, ``d(j, c) > d(i, c)``.

Neighbours *as far* from the centre as the root (only possible in graphs with cycles) join the
centrifugal group, as ST-GCN's code does (it merges them into the group it calls ``a_close``).
With ``max_hop > 1`` (ST-GCN / official AS-GCN ``strategy='spatial', max_hop=h``) each hop
distance ``1..h`` gets its own centripetal and centrifugal groups: ``1 + 2 h`` groups in all.

**ST-GCN's truncated centre distance.** ST-GCN's code (and the official AS-GCN code, which copies
it) compares distances to the centre taken from a hop-distance table computed only up to
``max_hop``: joints farther than ``max_hop`` from the centre all have distance ``inf``, so their
neighbours count as "as far" and land in the centrifugal group. With ``max_hop=1`` on NTU only the
centre's own neighbourhood is really split. ``truncate_centre_distance=True`` reproduces this
(used for the official S-links); the default uses the true distances, the partition as defined.
"""

from __future__ import annotations

import numpy as np

from ..data.layouts import Layout, get_layout

__all__ = [
    "PARTITIONS",
    "adjacency",
    "hop_distance",
    "matrix_powers",
    "normalize_rows",
    "partition_masks",
    "spatial_kernels",
    "structural_kernels",
]

#: Names of the three spatial partition groups (AS-GCN's set ``P``), in kernel order.
PARTITIONS = ("root", "centripetal", "centrifugal")


def adjacency(layout: str | Layout, variant: str | None = None, self_loops: bool = False) -> np.ndarray:
    """Symmetric 0/1 skeleton adjacency ``A`` (V, V) float32 (AS-GCN Sec. 3.1).

    Args:
        layout: a layout name (``"ntu25"``) or :class:`~skelact.data.layouts.Layout`.
        variant: a bone variant of the layout (``Layout.bone_variants``, e.g. ``"pyskl"`` for the
            PYSKL hand edges of NTU); ``None`` = the layout's default bones.
        self_loops: add the identity (``A + I``).
    """
    a = get_layout(layout).adjacency(variant).astype(np.float32)
    if self_loops:
        a = a + np.eye(a.shape[0], dtype=np.float32)
    return a


def hop_distance(adj: np.ndarray, max_hop: int | None = None) -> np.ndarray:
    """Shortest-path hop distances (V, V) of a graph given by its adjacency (self-loops ignored).

    Vectorised breadth-first search by boolean matrix products. Pairs farther apart than
    ``max_hop`` (or disconnected) get ``inf``.
    """
    a = np.asarray(adj) > 0
    v = a.shape[0]
    limit = v - 1 if max_hop is None else int(max_hop)
    dist = np.full((v, v), np.inf)
    reach = np.eye(v, dtype=bool)  # joints reachable in <= d hops
    dist[reach] = 0
    for d in range(1, limit + 1):
        new = (reach.astype(np.int64) @ a.astype(np.int64) > 0) & ~reach
        if not new.any():
            break
        dist[new] = d
        reach |= new
    return dist


def normalize_rows(a: np.ndarray) -> np.ndarray:
    """Transition matrix ``D^-1 A`` along the last axis (``D_ii = sum_j A_ij``); zero rows stay zero.

    Works on stacks (``(..., V, V)``).
    """
    a = np.asarray(a, dtype=np.float64)
    deg = a.sum(axis=-1, keepdims=True)
    out = np.divide(a, deg, out=np.zeros_like(a), where=deg > 0)
    return out.astype(np.float32)


def partition_masks(
    layout: str | Layout, variant: str | None = None, max_hop: int = 1, truncate_centre_distance: bool = False
) -> np.ndarray:
    """Boolean masks ``(1 + 2 * max_hop, V, V)`` of the spatial partition (row form, see module doc).

    Order: ``root`` (the joint itself), then for each hop ``h = 1..max_hop``: ``centripetal``
    (neighbours at hop ``h`` closer to the centre), ``centrifugal`` (neighbours at hop ``h`` as far
    or farther). With ``max_hop=1`` the order is :data:`PARTITIONS`. The masks are disjoint and
    their union is the set of pairs within ``max_hop`` hops. ``truncate_centre_distance``: see the
    module docs (ST-GCN's code).
    """
    lay = get_layout(layout)
    hops = hop_distance(lay.adjacency(variant))
    to_centre = hops[:, lay.center]  # (V,) hop distance of every joint to the centre
    if truncate_centre_distance:
        to_centre = np.where(to_centre <= max_hop, to_centre, np.inf)
    closer = to_centre[None, :] < to_centre[:, None]  # [i, j]: sender j closer than receiver i
    masks = [hops == 0]
    for h in range(1, max_hop + 1):
        at_h = hops == h
        masks += [at_h & closer, at_h & ~closer]
    return np.stack(masks)


def spatial_kernels(
    layout: str | Layout,
    variant: str | None = None,
    max_hop: int = 1,
    normalize: str = "partition",
    truncate_centre_distance: bool = False,
) -> np.ndarray:
    """Normalised spatial-partition kernels ``(1 + 2 * max_hop, V, V)`` float32 (row form).

    Args:
        normalize: ``"partition"``: each group is its own graph with transition matrix
            ``Â^(p) = D^(p)-1 A^(p)`` (AS-GCN eq. 5: "the graph transition matrix for the p-th parted
            graph"), so every non-empty row of every kernel sums to 1. ``"graph"``: ST-GCN's
            ``normalize_digraph``: the whole within-``max_hop`` graph (self-loops included) is
            normalised once and then split, so the rows of the *sum* of the kernels sum to 1 (the
            official AS-GCN S-links, ``strategy='spatial', max_hop=4``).
        truncate_centre_distance: ST-GCN's partition quirk (module docs).
    """
    masks = partition_masks(layout, variant, max_hop, truncate_centre_distance).astype(np.float32)
    if normalize == "partition":
        return normalize_rows(masks)
    if normalize == "graph":
        return masks * normalize_rows(masks.sum(axis=0))[None]
    raise ValueError(f"normalize must be 'partition' or 'graph', got {normalize!r}")


def matrix_powers(a: np.ndarray, order: int) -> np.ndarray:
    """Stack of powers ``(order, ..., V, V)``: ``[A, A^2, ..., A^order]`` (works on stacks of matrices)."""
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    a = np.asarray(a, dtype=np.float64)
    out = [a]
    for _ in range(order - 1):
        out.append(out[-1] @ a)
    return np.stack(out).astype(np.float32)


def structural_kernels(
    layout: str | Layout, variant: str | None = None, order: int = 1, scheme: str = "powers"
) -> np.ndarray:
    """S-link kernels of AS-GCN, stacked ``(K, V, V)`` float32 (row form).

    Args:
        order: the polynomial order ``L`` (``"powers"``) or the maximum hop (``"hops"``).
        scheme: ``"powers"``: the paper's eq. 5, the powers ``Â^(p)l`` of the per-partition
            transition matrices, ``K = 3 L`` ordered order-major (``(l=1: root, centripetal,
            centrifugal), (l=2: ...), ...``). ``"hops"``: the official code's S-links, ST-GCN's
            spatial partition over hop distances ``0..order`` normalised over the whole graph,
            with the code's truncated centre distances, ``K = 1 + 2 L``.
    """
    if scheme == "powers":
        base = spatial_kernels(layout, variant, max_hop=1, normalize="partition")  # (3, V, V)
        powers = matrix_powers(base, order)  # (L, 3, V, V)
        return powers.reshape(-1, *base.shape[1:])
    if scheme == "hops":
        return spatial_kernels(
            layout, variant, max_hop=order, normalize="graph", truncate_centre_distance=True
        )
    raise ValueError(f"scheme must be 'powers' or 'hops', got {scheme!r}")
