"""Jets of any order K: every distinct partial derivative up to order K, in forward (Taylor) mode.

The jet of a field ``f: R^d -> R^m`` at ``x`` is the set of partials ``d^|j| f / dx^j`` for every
multi-index ``j = (j_1, ..., j_d)`` with ``|j| = j_1 + ... + j_d <= K`` (``C(K + d, d)`` of them per
channel; in 2-D ``(K + 1)(K + 2) / 2``: ``f, f_x, f_y, f_xx, f_xy, f_yy, ...``).

How (Griewank, Utke & Walther 2000, "Evaluating higher derivative tensors by forward propagation
of univariate Taylor series", Math. Comp. 69, 1117):

1. **Univariate Taylor series along directions.** Along a line ``x + t v`` the field is a
   function of one variable, ``f(x + t v) = sum_k f_k(v) t^k + O(t^(K+1))``. The coefficients
   ``f_0 .. f_K`` propagate forward through the network layer by layer: a linear layer maps each
   coefficient (the bias moves ``f_0`` only); a pointwise ``s(u)`` uses the recurrences for
   composition with a series ``u(t)`` (Griewank & Walther, "Evaluating Derivatives", 2nd ed.,
   sec. 13.2, Table 13.2), each O(K^2) per element:

   - ``sin``/``cos`` (s = sin u, c = cos u, s' = c u', c' = -s u'):
     ``s_k = (1/k) sum_{j=1..k} j u_j c_{k-j}``, ``c_k = -(1/k) sum_{j=1..k} j u_j s_{k-j}``;
   - ``tanh`` (t' = (1 - t^2) u'): with ``w = 1 - t^2``, ``w_k = [k = 0] - sum_{i=0..k} t_i t_{k-i}``,
     ``t_k = (1/k) sum_{j=1..k} j u_j w_{k-j}`` (``w_{k-j}`` needs only ``t_0 .. t_{k-1}``);
   - ``relu``: ``relu(u(t)) = [u_0 > 0] u(t)`` near ``t = 0`` whenever ``u_0 != 0``, so
     ``r_k = [u_0 > 0] u_k`` for every k (exact almost everywhere; autograd gives the same).

2. **Polarisation.** The k-th coefficient along ``v`` is a homogeneous polynomial in ``v``:
   ``f_k(v) = sum_{|j| = k} (d^j f / j!) v^j``. Propagating along the ``C(K + d - 1, d - 1)``
   directions ``v = i / K`` for the multi-indices ``|i| = K`` (the lattice of GUW 2000, sec. 3,
   which is poised for every order ``k <= K``), each order's partials solve a small linear system
   ``M_k c = f_k`` with ``M_k[v, j] = v^j``, done once in float64 (a pseudo-inverse, the
   directions being at least as many as the unknowns).

In 2-D that is ``K + 1`` directions, each carrying ``K`` coefficients besides the shared value:
a jet of order K costs about ``K (K + 1) + 1`` forward passes' matrix products plus O(K^2 (K+1))
pointwise work, with no graph (under ``torch.no_grad``) and memory of a few forward passes per
point; nested autograd instead builds a graph whose size grows with every order. Measured on a
3 x 128 SIREN (docs/benchmarks.md, "INSP"): autograd is faster at K = 2 (one reverse pass gives
both first partials), Taylor mode 1.7x faster at K = 4 and 8x at K = 6, with 19x less memory.

Supported fields: those of :func:`inrkit.ops.jet.supports_jet` (``NeuralField`` with an identity,
positional or Gaussian Fourier encoding and a SIREN or ReLU/tanh MLP without modulations). Other
fields get orders 0 and 1 by autograd; a hash-grid field is refused for ``K >= 2`` (piecewise
multilinear interpolation: its second derivatives vanish almost everywhere).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..encodings.grid import DenseGrid, MultiresGrid
from ..encodings.modules import GaussianFourierFeatures, Identity, PositionalEncoding
from ..errors import InrkitError
from ..nn.mlp import Siren
from .jet import supports_jet

MAX_ORDER = 12
"""Highest order accepted. The polarisation matrices' condition number grows about 6x per order
(2-D: 71 at K = 6, 457 at K = 8, 2.1e4 at K = 12), so a float32 jet of order 12 keeps about 3 digits
in its top order; float64 keeps 12."""

TAYLOR_CHUNK = 8_192
"""Points per pass of :func:`jet_map`: the series of a width-256 SIREN at K = 4 hold about
``(1 + K (K + 1)) * 2 * 256`` numbers per point and layer (about 40 KB in float32)."""

Series = list  # list[Tensor | None]: coefficient k, None where it is identically zero


# ---- multi-indices and the polarisation systems ------------------------------------------------

@lru_cache(maxsize=None)
def multi_indices(dim: int, order: int) -> tuple[tuple[int, ...], ...]:
    """Every multi-index ``j`` of ``dim`` entries with ``|j| <= order``, graded: by ``|j|``, then
    lexicographically descending (2-D, K = 2: (0,0), (1,0), (0,1), (2,0), (1,1), (0,2))."""
    out = []
    for k in range(order + 1):
        out += sorted((j for j in itertools.product(range(k + 1), repeat=dim) if sum(j) == k), reverse=True)
    return tuple(out)


def num_partials(dim: int, order: int) -> int:
    """``C(order + dim, dim)``: distinct partials up to ``order`` of one channel."""
    return math.comb(order + dim, dim)


def _check_order(order: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= MAX_ORDER:
        raise InrkitError(f"jet order must be a whole number from 0 to {MAX_ORDER}, not {order!r}")


@lru_cache(maxsize=None)
def _directions(dim: int, order: int) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Directions ``(D, dim)`` (float64) and, per order k = 1..K, the matrix ``(P_k, D)`` that maps
    the k-th Taylor coefficients along them to the order-k partials (``d^j f``, not divided by j!)."""
    lattice = [i for i in itertools.product(range(order + 1), repeat=dim) if sum(i) == order]
    V = torch.tensor(lattice, dtype=torch.float64) / order  # (D, dim), on the simplex
    solvers = []
    for k in range(1, order + 1):
        js = [j for j in multi_indices(dim, order) if sum(j) == k]
        J = torch.tensor(js, dtype=torch.float64)  # (P_k, dim)
        M = torch.prod(V[:, None, :] ** J[None, :, :], dim=-1)  # (D, P_k): v^j
        fact = torch.tensor([math.prod(math.factorial(a) for a in j) for j in js], dtype=torch.float64)
        solvers.append(fact[:, None] * torch.linalg.pinv(M))  # (P_k, D): j! (M^+ f_k)
    return V, tuple(solvers)


# ---- Taylor arithmetic on truncated univariate series -------------------------------------------

def _lin(u: Series, weight: Tensor, bias: Tensor | None) -> Series:
    return [None if c is None else F.linear(c, weight, bias if k == 0 else None) for k, c in enumerate(u)]


def _conv(ju: Series, c: Series, k: int) -> Tensor | None:
    """``(1/k) sum_{j=1..k} ju_j c_{k-j}`` (``ju_j = j u_j``), accumulated in place, or None if all terms are zero."""
    acc = None
    for j in range(1, k + 1):
        if ju[j] is None:
            continue
        if acc is None:
            acc = ju[j] * c[k - j]
        elif acc.shape == torch.broadcast_shapes(acc.shape, ju[j].shape, c[k - j].shape):
            acc.addcmul_(ju[j], c[k - j])
        else:
            acc = acc + ju[j] * c[k - j]
    return None if acc is None else acc.mul_(1.0 / k)


def _scaled(u: Series) -> Series:
    """``j u_j`` for every coefficient (the factor the composition recurrences share)."""
    return [None if c is None or j == 0 else c * float(j) if j > 1 else c for j, c in enumerate(u)]


def _sincos(u: Series, top_cos: bool = True) -> tuple[Series, Series]:
    """Series of sin(u) and cos(u) (Griewank & Walther 2008, Table 13.2).

    ``top_cos=False`` skips cos's last coefficient, which sin's recurrence never reads: a SIREN
    layer, whose cos series is internal, saves one of its ``2K`` convolutions."""
    K = len(u) - 1
    ju = _scaled(u)
    s, c = [torch.sin(u[0])], [torch.cos(u[0])]
    for k in range(1, K + 1):
        sk = _conv(ju, c, k)
        ck = _conv(ju, s, k) if (top_cos or k < K) else None
        if sk is None:  # every u_j (1 <= j <= k) is zero
            sk, ck = torch.zeros_like(s[0]), torch.zeros_like(c[0])
        s.append(sk)
        c.append(None if ck is None else ck.neg_())
    return s, c


def _tanh(u: Series) -> Series:
    """Series of tanh(u): t' = (1 - t^2) u', with ``w = 1 - t^2`` built alongside."""
    K = len(u) - 1
    ju = _scaled(u)
    t = [torch.tanh(u[0])]
    w = [1.0 - t[0] * t[0]]
    for k in range(1, K + 1):
        tk = _conv(ju, w, k)
        t.append(tk if tk is not None else torch.zeros_like(t[0]))
        w.append(-sum(t[i] * t[k - i] for i in range(k + 1)))
    return t


def _relu(u: Series) -> Series:
    h = (u[0] > 0).to(u[0].dtype)
    return [torch.relu(u[0])] + [None if c is None else h * c for c in u[1:]]


def _cat(a: Series, b: Series) -> Series:
    """Concatenate two series' features (a zero coefficient takes its width from the value)."""
    wa, wb = a[0].shape[-1], b[0].shape[-1]
    out = []
    for x, y in zip(a, b):
        if x is None and y is None:
            out.append(None)
            continue
        ref = x if x is not None else y
        x = ref.new_zeros(*ref.shape[:-1], wa) if x is None else x
        y = ref.new_zeros(*ref.shape[:-1], wb) if y is None else y
        shape = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        out.append(torch.cat([x.expand(*shape, wa), y.expand(*shape, wb)], -1))
    return out


def _encode(enc: nn.Module, u: Series) -> Series:
    if isinstance(enc, Identity):
        return u
    if isinstance(enc, GaussianFourierFeatures):
        s, c = _sincos(_lin(u, 2.0 * math.pi * enc.B.to(u[0].dtype), None))
        return _cat(c, s)  # gamma = [cos, sin], as the module orders them
    if isinstance(enc, PositionalEncoding):
        L, d = enc.num_frequencies, u[0].shape[-1]
        freqs = (2.0 ** torch.arange(L, dtype=u[0].dtype, device=u[0].device)) * math.pi
        A = (freqs[:, None, None] * torch.eye(d, dtype=u[0].dtype, device=u[0].device)).reshape(L * d, d)
        s, c = _sincos(_lin(u, A, None))

        def interleave(a: Tensor | None, b: Tensor | None) -> Tensor | None:  # (..., L d) x 2 -> (..., L 2d)
            if a is None:
                return None
            lead = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
            a, b = a.expand(*lead, L * d), b.expand(*lead, L * d)
            return torch.cat([a.reshape(*lead, L, d), b.reshape(*lead, L, d)], -1).reshape(*lead, 2 * L * d)

        feats = [interleave(a, b) for a, b in zip(s, c)]
        return _cat(u, feats) if enc.include_input else feats
    raise TypeError(f"no Taylor rule for encoding {type(enc).__name__}")


def _network(net: nn.Module, u: Series) -> Series:
    if isinstance(net, Siren):
        for layer in net.layers:
            w0 = layer.w0
            u, _ = _sincos(_lin(u, layer.linear.weight * w0, layer.linear.bias * w0), top_cos=False)
        return _lin(u, net.last.weight, net.last.bias)
    for m in net.layers:
        if isinstance(m, nn.Linear):
            u = _lin(u, m.weight, m.bias)
        elif isinstance(m, nn.Tanh):
            u = _tanh(u)
        elif isinstance(m, nn.ReLU):
            u = _relu(u)
        else:
            raise TypeError(f"no Taylor rule for layer {type(m).__name__}")
    return u


# ---- public functions ---------------------------------------------------------------------------

def taylor_series(field: nn.Module, coords: Tensor, directions: Tensor, order: int) -> list[Tensor]:
    """Taylor coefficients of ``field(coords + t v)`` in ``t`` up to ``order``, for every direction.

    ``coords (N, d)``, ``directions (D, d)`` -> a list of ``order + 1`` tensors: coefficient 0 (the
    value) ``(N, m)``, then coefficient k ``(D, N, m)`` (``d^k/dt^k f / k!``). Differentiable with
    respect to the field's parameters (one ordinary backward pass).
    """
    if not supports_jet(field):
        raise TypeError(f"no Taylor-mode rule for {type(field).__name__}")
    _check_order(order)
    dtype = coords.dtype
    v = directions.to(dtype=dtype, device=coords.device)[:, None, :]  # (D, 1, d): the same for every point
    u: Series = [coords] + ([v] if order >= 1 else []) + [None] * max(0, order - 1)
    out = _network(field.network, _encode(field.encoding, u))
    n, D = coords.shape[0], directions.shape[0]
    res = []
    for k, c in enumerate(out):
        shape = (n, field.out_dim) if k == 0 else (D, n, field.out_dim)
        c = torch.zeros(shape, dtype=dtype, device=coords.device) if c is None else c.expand(shape)
        c = c * field.output_scale
        if k == 0 and field.output_shift != 0.0:
            c = c + field.output_shift
        res.append(c)
    return res


def refusal(field: nn.Module, order: int) -> str | None:
    """Why ``jet(field, ..., order)`` cannot be computed, in one line, or None."""
    if supports_jet(field):
        return None
    enc = getattr(field, "encoding", None)
    if order >= 2 and isinstance(enc, (MultiresGrid, DenseGrid)):
        return (f"a grid-encoded field has no jet of order {order}: it interpolates its grid piecewise "
                "multilinearly, so its second and higher derivatives vanish almost everywhere")
    if order >= 2:
        return f"no jet of order {order} for a {type(field).__name__}: only SIREN and MLP fields with smooth encodings"
    return None


def jet(field: nn.Module, coords: Tensor, order: int) -> Tensor:
    """Every distinct partial up to ``order``: ``coords (N, d)`` -> ``(N, m, C(order + d, d))``.

    Partials ``d^|j| f / dx^j`` (not divided by ``j!``) for ``j`` in ``multi_indices(d, order)``
    order, in the field's output units. Forward (Taylor) mode for the fields of
    :func:`inrkit.ops.jet.supports_jet`; orders 0 and 1 of other fields by autograd; a field
    :func:`refusal` rejects raises :class:`InrkitError`. Differentiable with respect to the
    field's parameters; wrap in ``torch.no_grad()`` (or use :func:`jet_map`) to keep no graph.
    """
    _check_order(order)
    if coords.dim() != 2:
        raise ValueError(f"coords must be (N, d), got {tuple(coords.shape)}")
    reason = refusal(field, order)
    if reason:
        raise InrkitError(reason)
    n, d = coords.shape
    if not supports_jet(field):
        return _autograd_low(field, coords, order)
    if order == 0:
        return field(coords)[..., None]
    V, solvers = _directions(d, order)
    series = taylor_series(field, coords, V.to(coords.dtype), order)
    parts = [series[0][..., None]]  # (N, m, 1)
    for k in range(1, order + 1):
        A = solvers[k - 1].to(dtype=coords.dtype, device=coords.device)  # (P_k, D)
        parts.append(torch.einsum("pd,dnm->nmp", A, series[k]))  # (N, m, P_k)
    return torch.cat(parts, -1)


def _autograd_low(field: nn.Module, coords: Tensor, order: int) -> Tensor:
    """Orders 0 and 1 of any field by autograd: ``(N, m, 1 + d * order)``."""
    if order == 0:
        return field(coords)[..., None]
    x = coords.detach().requires_grad_(True)
    with torch.enable_grad():
        y = field(x)  # (N, m)
        grads = [torch.autograd.grad(y[:, i].sum(), x, create_graph=torch.is_grad_enabled())[0]
                 for i in range(y.shape[1])]
    return torch.cat([y[..., None], torch.stack(grads, 1)], -1)


def autograd_jet(field: nn.Module, coords: Tensor, order: int) -> Tensor:
    """The same as :func:`jet` by nested autograd: the reference the tests and benchmark compare with.

    Each partial of order k is one derivative of a partial of order k - 1, keeping the graph
    (``create_graph=True``), so memory and time grow quickly with ``order``.
    """
    _check_order(order)
    n, d = coords.shape
    x = coords.detach().requires_grad_(True)
    with torch.enable_grad():
        y = field(x)  # (N, m)
        cols = []
        for ch in range(y.shape[1]):
            got: dict[tuple[int, ...], Tensor] = {(0,) * d: y[:, ch]}
            for k in range(1, order + 1):
                for j in [j for j in multi_indices(d, order) if sum(j) == k - 1]:
                    need = [i for i in range(d) if tuple(a + (b == i) for b, a in enumerate(j)) not in got]
                    if not need:
                        continue
                    g = None
                    if got[j].requires_grad:
                        g = torch.autograd.grad(got[j].sum(), x, create_graph=k < order, retain_graph=True,
                                                allow_unused=True)[0]
                    if g is None:
                        g = torch.zeros_like(x)
                    for i in need:
                        got[tuple(a + (b == i) for b, a in enumerate(j))] = g[:, i]
            cols.append(torch.stack([got[j] for j in multi_indices(d, order)], -1))
    return torch.stack(cols, 1).detach()


def jet_map(field: nn.Module, coords: Tensor, order: int, chunk: int | None = None,
            out_device: torch.device | str = "cpu") -> Tensor:
    """:func:`jet` over ``coords (*, d)`` in chunks, keeping no graph: ``(*, m, C(order + d, d))``.

    Memory is bounded by ``chunk`` (default :data:`TAYLOR_CHUNK`) whatever the number of points.
    """
    _check_order(order)
    reason = refusal(field, order)
    if reason:
        raise InrkitError(reason)
    chunk = chunk or TAYLOR_CHUNK
    param = next(iter(field.parameters()), None)
    device = param.device if param is not None else coords.device
    dtype = param.dtype if param is not None else coords.dtype
    lead = coords.shape[:-1]
    flat = coords.reshape(-1, coords.shape[-1])
    pieces = []
    for start in range(0, flat.shape[0], chunk):
        x = flat[start:start + chunk].to(device=device, dtype=dtype)
        with torch.no_grad():
            pieces.append(jet(field, x, order).to(out_device))
    out = torch.cat(pieces, 0)
    return out.reshape(*lead, *out.shape[1:])
