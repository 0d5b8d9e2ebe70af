"""Grid encodings: multiresolution hash grid (Mueller et al. 2022) and a dense grid.

The maths lives in :func:`grid_encode`, vectorised over points, levels and corners (no
Python loop over levels). Tables for all levels are one flat parameter; level l owns the
rows ``offsets[l] : offsets[l] + sizes[l]``.

Coordinates in inrkit's [-1, 1] are mapped to u = (x + 1) / 2 in [0, 1]; at level l with
resolution N_l the grid has vertices 0 .. N_l on every axis and the point sits at
u * N_l. Points outside the domain are clamped to its boundary.

Per-axis resolutions: a level may have its own N_{l,i} on each axis i (a video's time axis of
250 frames beside 640 x 272 pixels wants a different finest resolution). ``resolution`` is then
``(L, d)`` instead of ``(L,)``; the vertex lattice of level l is (N_{l,0} + 1) x ... x
(N_{l,d-1} + 1), its dense index sum_i c_i prod_{j<i} (N_{l,j} + 1), its hash unchanged. With
equal resolutions on every axis both forms give the same numbers.

Convention, and how it differs from tiny-cuda-nn / instant-ngp
---------------------------------------------------------------
inrkit follows the paper's equations (Mueller et al. 2022, sec. 3, eqs. 2-3): level l has
N_l = floor(N_min b^l) CELLS per axis (N_l + 1 vertices), and x_l = u N_l with no offset,
so vertex 0 lies at u = 0 and vertex N_l at u = 1 on every level. tiny-cuda-nn, the
implementation instant-ngp uses (``include/tiny-cuda-nn/common_device.h``: ``grid_scale``,
``grid_resolution``, ``pos_fract``, ``grid_index``; NVlabs/tiny-cuda-nn at 6ee3546), differs:

- its level scale is s_l = N_min * b^l - 1 (its ``base_resolution`` counts vertices, not
  cells), with ceil(s_l) + 1 vertices per axis; b is passed as ``per_level_scale``;
- it places the point at u * s_l + 0.5, which staggers the levels by half a cell so that
  their vertices do not line up (the paper's appendix A), and lets dense levels wrap;
- it rounds each level's table up to a multiple of 8 rows.

The spatial hash itself (XOR of x_i pi_i, then mod T for T a power of two) picks the
same row for the same vertex. But for the same (L, F, T, N_min, b) the two put vertices
at different places and size their tables differently: tables are NOT interchangeable,
and weights trained by one cannot be loaded into the other.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from .. import specs as S
from .modules import Encoding, spec_kwargs

PRIMES = (1, 2654435761, 805459861, 3674653429)
"""pi_i of the spatial hash (Mueller et al. 2022, eq. 4; the 4th from instant-ngp's code for 4D)."""


def corner_offsets(d: int, device=None) -> Tensor:
    """The 2^d corners of a unit cell: ``(2^d, d)`` of 0/1, first axis fastest."""
    return torch.tensor(list(itertools.product((0, 1), repeat=d)), device=device, dtype=torch.long).flip(-1)


def dense_strides(resolution: Tensor, d: int) -> Tensor:
    """``(L, d)`` strides of the dense (row-major, axis 0 fastest) index: prod_{j<i} (N_{l,j} + 1).

    ``resolution``: ``(L,)`` (the same on every axis: (N_l + 1)^i) or ``(L, d)`` per axis."""
    if resolution.dim() == 1:
        return (resolution + 1)[:, None] ** torch.arange(d, device=resolution.device)  # (L, d)
    ones = torch.ones_like(resolution[:, :1])
    return torch.cumprod(torch.cat([ones, resolution[:, :-1] + 1], 1), 1)  # (L, d)


def level_indices(corners: Tensor, resolution: Tensor, dense: Tensor, size: Tensor) -> Tensor:
    """Table row of each corner within its level.

    ``corners (..., L, K, d)`` integer vertex coordinates; ``dense, size (L,)``; ``resolution (L,)``
    or per axis ``(L, d)``. Dense levels (where prod_i (N_{l,i} + 1) <= T) index row-major, axis 0
    fastest; hashed levels use h(x) = (XOR_i x_i pi_i) mod T (Mueller et al. 2022, eq. 4).
    """
    d = corners.shape[-1]
    stride = dense_strides(resolution, d)  # (L, d)
    dense_idx = (corners * stride[:, None, :]).sum(-1)  # (..., L, K)
    primes = torch.tensor(PRIMES[:d], device=corners.device, dtype=torch.long)
    h = corners * primes  # (..., L, K, d)
    hashed = h[..., 0]
    for i in range(1, d):  # loop over input dimensions (1-4), not levels
        hashed = torch.bitwise_xor(hashed, h[..., i])
    hashed = torch.remainder(hashed, size[:, None])
    return torch.where(dense[:, None], dense_idx, hashed)


def grid_encode(coords: Tensor, table: Tensor, resolution: Tensor, offsets: Tensor, sizes: Tensor,
                dense: Tensor) -> Tensor:
    """Multiresolution grid features with d-linear interpolation (Mueller et al. 2022, sec. 3).

    ``coords (*, d)`` in [-1, 1]; ``table (sum_l T_l, F)``; ``offsets, sizes, dense (L,)``;
    ``resolution (L,)``, or ``(L, d)`` for per-axis resolutions. Returns ``(*, L * F)``, level-major.
    Differentiable with respect to the table and to ``coords`` (through the interpolation weights).
    """
    lead, d = coords.shape[:-1], coords.shape[-1]
    x = coords.reshape(-1, d)  # (N, d)
    n = x.shape[0]
    n_levels, n_feat = resolution.shape[0], table.shape[1]
    # Level-major layout, points last: every elementwise step below runs over (L, N) tensors whose
    # long axis is contiguous (per-level constants broadcast along it), not over tiny trailing axes.
    u = ((x + 1.0) * 0.5).clamp(0.0, 1.0).T  # (d, N)
    res = resolution if resolution.dim() == 2 else resolution[:, None]  # (L, d) per axis, else (L, 1)
    pos = u[None] * res.to(x.dtype)[:, :, None]  # (L, d, N)
    # The cell's lower corner; at u = 1 use the last cell with weight 1 on its upper corner.
    base = torch.minimum(pos.detach().floor().long(), (res - 1)[:, :, None])  # (L, d, N)
    frac = pos - base.to(x.dtype)  # (L, d, N), carries the gradient to coords
    # Corner c = base + o, o in {0, 1}^d. The dense index sum_i c_i s_i and the hash XOR_i c_i pi_i are
    # built from per-axis terms of the two choices (c_i pi_i for the upper one is the lower's + pi_i),
    # combined over the 2^d corners one axis at a time: lists of (L, N) tensors, axis 0 fastest.
    any_dense, all_dense = bool(dense.any()), bool(dense.all())
    stride = dense_strides(resolution, d)  # (L, d)
    dense_idx: list[Tensor] = []
    hashed: list[Tensor] = []
    w: list[Tensor] = []
    for i in range(d):
        lo = base[:, i]  # (L, N)
        w_i = (1.0 - frac[:, i], frac[:, i])
        d_i = h_i = None
        if any_dense:
            s_i = stride[:, i:i + 1]
            lo_s = lo * s_i
            d_i = (lo_s, lo_s + s_i)
        if not all_dense:
            lo_p = lo * PRIMES[i]
            h_i = (lo_p, lo_p + PRIMES[i])
        if i == 0:
            dense_idx, hashed, w = list(d_i or ()), list(h_i or ()), list(w_i)
            continue
        # corner order: the new axis slowest (as corner_offsets); products in the same order as before
        w = [w_i[o] * prev for o in (0, 1) for prev in w]
        if any_dense:
            dense_idx = [d_i[o] + prev for o in (0, 1) for prev in dense_idx]
        if not all_dense:
            hashed = [torch.bitwise_xor(h_i[o], prev) for o in (0, 1) for prev in hashed]
    if not all_dense:
        # Hashed levels have T = 2^k rows, so "mod T" is "& (T - 1)" (the XOR of non-negative products
        # is non-negative): no integer division. Other sizes (none today) keep the remainder.
        if bool((((sizes & (sizes - 1)) == 0) | dense).all()):
            mask = (sizes - 1)[:, None]
            hashed = [torch.bitwise_and(h, mask) for h in hashed]
        else:
            hashed = [torch.remainder(h, sizes[:, None]) for h in hashed]
    if all_dense:
        rows = dense_idx
    elif not any_dense:
        rows = hashed
    else:
        rows = [torch.where(dense[:, None], a, b) for a, b in zip(dense_idx, hashed)]
    rows_t = torch.stack(rows, -1) + offsets[:, None, None]  # (L, N, K)
    w_t = torch.stack(w, -1)  # (L, N, K)
    wants_grad = torch.is_grad_enabled() and (table.requires_grad or w_t.requires_grad)
    if not wants_grad and w_t.dtype == table.dtype:
        # No gradient wanted (rendering, evaluation): one fused gather-and-weighted-sum over each point's
        # 2^d corners, about 3x faster on the CPU than gathering (L, N, K, F) then reducing it.
        out = torch.nn.functional.embedding_bag(rows_t.reshape(-1, rows_t.shape[-1]), table, mode="sum",
                                                per_sample_weights=w_t.reshape(-1, w_t.shape[-1]))
        out = out.reshape(n_levels, n, n_feat)
    else:
        # index_select, not table[rows]: its backward (index_add) sums in a fixed order on the CPU,
        # so seeded runs are bit-for-bit reproducible; advanced indexing's backward is not.
        feats = table.index_select(0, rows_t.reshape(-1)).reshape(*rows_t.shape, n_feat)  # (L, N, K, F)
        out = (w_t[..., None] * feats).sum(2)  # (L, N, F)
    return out.permute(1, 0, 2).reshape(*lead, n_levels * n_feat)


def _level_geometry(x: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor]:
    """Lower vertex ``base``, ``frac`` and ``dfrac/dx`` of coordinates ``x`` (any shape) at a level of
    ``n`` cells: the same float operations as :func:`grid_encode`, so the same numbers."""
    half = (x + 1.0) * 0.5
    u = half.clamp(0.0, 1.0)
    pos = u * float(n)
    base = torch.minimum(pos.detach().floor().long(), torch.tensor(n - 1))
    frac = pos - base.to(x.dtype)
    # d frac / d x = n / 2 inside the domain, 0 where the clamp holds (as autograd's clamp backward)
    slope = ((half >= 0.0) & (half <= 1.0)).to(x.dtype) * (0.5 * float(n))
    return base, frac, slope


def grid_encode_lattice(axes: list[Tensor] | tuple[Tensor, ...], table: Tensor, resolution: Tensor,
                        offsets: Tensor, sizes: Tensor, dense: Tensor,
                        partials: bool = False) -> tuple[Tensor, Tensor | None]:
    """:func:`grid_encode` on the tensor-product lattice of per-axis coordinates, exploiting that
    d-linear interpolation is separable.

    ``axes``: ``d`` 1-D tensors, the coordinates along axis 0 (x), 1 (y), ...; the lattice point
    ``(i_{d-1}, ..., i_0)`` is ``(axes[0][i_0], ..., axes[d-1][i_{d-1}])`` (axis 0 fastest, the
    layout of :func:`inrkit.coords.grid`). Returns the features ``(n_{d-1}, ..., n_0, L * F)``,
    the same maths as ``grid_encode`` at every lattice point, and with ``partials=True`` their
    derivatives along each axis ``(d, n_{d-1}, ..., n_0, L * F)`` (else ``None``).

    Per level, only the vertices some lattice point uses are looked up (at most two per point
    per axis, so ``prod_a 2 n_a`` rows instead of ``2^d prod_a n_a``), then interpolated one
    axis at a time (``w0 V[j] + w1 V[j + 1]`` along that axis). For an image tile of 256 x 256
    pixels that is at most 512^2 row lookups per level when the level is finer than the pixels,
    and a few hundred when it is coarser. The derivative along axis ``a`` replaces axis ``a``'s
    weights ``(1 - t, t)`` by ``(-dt/dx, dt/dx)``: within a cell the interpolation is linear along
    each axis. Differentiable with respect to ``table`` and ``axes``.
    """
    d = len(axes)
    if table.dim() != 2 or resolution.shape[0] != offsets.shape[0]:
        raise ValueError("table must be (rows, F) with one offset per level")
    feats_per_level = []
    partial_levels = []
    primes = PRIMES[:d]
    strides = dense_strides(resolution, d).tolist()  # (L, d)
    for level in range(int(resolution.shape[0])):
        ns = resolution[level].tolist() if resolution.dim() == 2 else [int(resolution[level])] * d  # per axis
        is_dense, size, off = bool(dense[level]), int(sizes[level]), int(offsets[level])
        # per axis: the vertices used (sorted, unique), and each point's two of them with weights
        verts, lo_idx, hi_idx, w_lo, w_hi, slopes = [], [], [], [], [], []
        for a in range(d):
            base, frac, slope = _level_geometry(axes[a], ns[a])
            both = torch.cat([base, base + 1])
            v, inv = torch.unique(both, sorted=True, return_inverse=True)
            m = base.shape[0]
            verts.append(v)
            lo_idx.append(inv[:m])
            hi_idx.append(inv[m:])
            w_lo.append(1.0 - frac)
            w_hi.append(frac)
            slopes.append(slope)
        # table rows of the vertex lattice (axis d-1 slowest ... axis 0 fastest), as grid_encode's
        shape = [verts[a].shape[0] for a in reversed(range(d))]
        if is_dense:
            idx = torch.zeros((), dtype=torch.long)
            for a in range(d):
                term = verts[a] * strides[level][a]
                idx = idx + term.reshape([-1 if b == d - 1 - a else 1 for b in range(d)])
        else:
            idx = None
            for a in range(d):
                term = (verts[a] * primes[a]).reshape([-1 if b == d - 1 - a else 1 for b in range(d)])
                idx = term if idx is None else torch.bitwise_xor(idx, term)
            idx = torch.bitwise_and(idx, size - 1) if size & (size - 1) == 0 else torch.remainder(idx, size)
        idx = (idx + off).expand(shape).reshape(-1)
        V = table.index_select(0, idx).reshape(*shape, table.shape[1])  # (m_{d-1}, ..., m_0, F)

        def lerp(t: Tensor, a: int, wl: Tensor, wh: Tensor) -> Tensor:
            dim = d - 1 - a  # tensor dimension of axis a
            view = [-1 if b == dim else 1 for b in range(d)] + [1]
            return (t.index_select(dim, lo_idx[a]) * wl.reshape(view)
                    + t.index_select(dim, hi_idx[a]) * wh.reshape(view))

        out = V
        for a in range(d):
            out = lerp(out, a, w_lo[a], w_hi[a])
        feats_per_level.append(out)
        if partials:
            parts = []
            for k in range(d):  # derivative along axis k: axis k's weights become (-slope, +slope)
                t = V
                for a in range(d):
                    t = lerp(t, a, -slopes[a], slopes[a]) if a == k else lerp(t, a, w_lo[a], w_hi[a])
                parts.append(t)
            partial_levels.append(torch.stack(parts))
    feats = torch.cat(feats_per_level, -1)
    return feats, (torch.cat(partial_levels, -1) if partials else None)


def _level_tuples(resolutions, in_dim: int) -> list[tuple[int, ...]]:
    """Each level's resolution per axis: an int (every axis) or a list of ``in_dim`` ints."""
    out = []
    for r in resolutions:
        if isinstance(r, (list, tuple)):
            if len(r) != in_dim:
                raise ValueError(f"a per-axis level resolution needs {in_dim} numbers (one per axis), got {list(r)}")
            out.append(tuple(int(v) for v in r))
        else:
            out.append((int(r),) * in_dim)
    return out


class MultiresGrid(Encoding):
    """Multiresolution hash encoding (Mueller et al. 2022, sec. 3), for 1 to 4 input dimensions.

    Level l has resolution ``resolutions[l]`` and a table of min(T, (N_l + 1)^d) rows of
    ``features`` values, initialised U(-1e-4, 1e-4) (sec. 4). Levels that fit in T are
    indexed densely (one row per vertex, no collisions); the rest are hashed.

    A level's resolution may also be a list of ``in_dim`` numbers, one per axis in coordinate
    order (x, y, t): the level then has prod_i (N_{l,i} + 1) vertices. :meth:`from_paper` builds
    such levels from one finest resolution per axis. ``resolutions`` is kept (and written in the
    spec) as given, except that levels equal on every axis are written as plain ints, so an
    isotropic grid's spec is what it always was; :attr:`level_resolutions` has every level per axis.

    The paper's vertex convention, not tiny-cuda-nn's (no -1 in the level scale, no +0.5
    offset; see the module docstring): its tables cannot be loaded here.
    """

    def __init__(self, in_dim: int, resolutions: list[int] | list[list[int]], log2_table_size: int = 18,
                 features: int = 2, generator: torch.Generator | None = None):
        super().__init__()
        if not 1 <= in_dim <= 4:
            raise ValueError(f"grid encodings support 1 to 4 input dimensions, not {in_dim}")
        self.in_dim = in_dim
        self.features = features
        self.log2_table_size = log2_table_size
        levels = _level_tuples(resolutions, in_dim)
        self.level_resolutions = levels
        """Every level's resolution per axis, ``[(N_{l,0}, ..., N_{l,d-1}), ...]``."""
        self.per_axis = any(len(set(r)) > 1 for r in levels)
        self.resolutions = [list(r) for r in levels] if self.per_axis else [r[0] for r in levels]
        self.out_dim = len(levels) * features
        T = 2**log2_table_size
        sizes = [min(T, math.prod(v + 1 for v in r)) for r in levels]
        dense = [math.prod(v + 1 for v in r) <= T for r in levels]
        offsets = [0] + list(itertools.accumulate(sizes))[:-1]
        # (L,) when every level is the same on every axis (the original form), else (L, d)
        self.register_buffer("resolution", torch.tensor(self.resolutions, dtype=torch.long), persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes, dtype=torch.long), persistent=False)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self.register_buffer("dense", torch.tensor(dense), persistent=False)
        table = torch.empty(sum(sizes), features).uniform_(-1e-4, 1e-4, generator=generator)
        self.table = nn.Parameter(table)

    @classmethod
    def from_paper(cls, in_dim: int, levels: int = 16, features: int = 2, log2_table_size: int = 19,
                   min_resolution: int = 16, max_resolution: int | list[int] | tuple[int, ...] = 2048,
                   generator: torch.Generator | None = None) -> "MultiresGrid":
        """The paper's hyperparameters (Mueller et al. 2022, sec. 3, eqs. 2-3):

        b = exp((ln N_max - ln N_min) / (L - 1)),   N_l = floor(N_min * b^l),  l = 0 .. L-1.

        Defaults are Table 1's: L = 16, F = 2, N_min = 16; T = 2^19 and N_max = 2048 (the
        paper uses T up to 2^24 and N_max up to 2^19 depending on the task).

        ``max_resolution`` may give one N_max per axis (coordinate order): each axis then follows
        eqs. 2-3 from min(N_min, its N_max) to its N_max over the same L levels
        (:meth:`axis_resolutions`).
        """
        if isinstance(max_resolution, (list, tuple)):
            res = cls.axis_resolutions(in_dim, levels, min_resolution, max_resolution)
        else:
            res = cls.paper_resolutions(levels, min_resolution, max_resolution)
        return cls(in_dim, res, log2_table_size, features, generator)

    @staticmethod
    def paper_resolutions(levels: int, min_resolution: int, max_resolution: int) -> list[int]:
        """N_l = floor(N_min * b^l), b = exp((ln N_max - ln N_min) / (L - 1)) (eqs. 2-3)."""
        if levels == 1:
            return [min_resolution]
        b = math.exp((math.log(max_resolution) - math.log(min_resolution)) / (levels - 1))
        return [int(math.floor(min_resolution * b**level + 1e-6)) for level in range(levels)]

    @classmethod
    def axis_resolutions(cls, in_dim: int, levels: int, min_resolution: int,
                         max_resolution: list[int] | tuple[int, ...]) -> list[list[int]]:
        """Per-axis eqs. 2-3: level l's resolution on axis i is :meth:`paper_resolutions` from
        min(N_min, N_max,i) to N_max,i; ``[[N_{l,0}, ..., N_{l,d-1}] for l in 0 .. L-1]``."""
        if len(max_resolution) != in_dim:
            raise ValueError(f"need one finest resolution per axis ({in_dim}), got {list(max_resolution)}")
        cols = [cls.paper_resolutions(levels, min(min_resolution, int(m)), int(m)) for m in max_resolution]
        return [[cols[i][level] for i in range(in_dim)] for level in range(levels)]

    def forward(self, coords: Tensor) -> Tensor:
        return grid_encode(coords, self.table, self.resolution, self.offsets, self.sizes, self.dense)

    def encode_lattice(self, axes: list[Tensor] | tuple[Tensor, ...], partials: bool = False
                       ) -> tuple[Tensor, Tensor | None]:
        """The encoding on the tensor-product lattice of per-axis coordinates (an image's or a tile's
        pixel centres), with optional derivatives along each axis: :func:`grid_encode_lattice`."""
        if len(axes) != self.in_dim:
            raise ValueError(f"need {self.in_dim} axes, got {len(axes)}")
        axes = [a.to(self.table.dtype) for a in axes]
        return grid_encode_lattice(axes, self.table, self.resolution, self.offsets, self.sizes, self.dense, partials)

    def spec(self) -> dict:
        return {"type": "hashgrid", "in_dim": self.in_dim, "resolutions": self.resolutions,
                "log2_table_size": self.log2_table_size, "features": self.features}

    @classmethod
    def from_spec(cls, spec: dict) -> "MultiresGrid":
        return cls(**spec_kwargs(spec, "in_dim", "resolutions", "log2_table_size", "features"))

    MAX_LOG2_TABLE_SIZE = 32
    """Largest T = 2^32 rows per level (the paper uses up to 2^24)."""

    @staticmethod
    def table_rows(in_dim: int, resolutions: list[int] | list[list[int]], log2_table_size: int) -> int:
        """Rows of the flat table: sum over levels of min(T, prod_i (N_{l,i} + 1)), from the numbers."""
        T = 2**log2_table_size
        return sum(min(T, math.prod(v + 1 for v in r)) for r in _level_tuples(resolutions, in_dim))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "hashgrid", ["in_dim", "resolutions", "log2_table_size", "features"])
        in_dim = S.integer(spec, "in_dim", "hashgrid", hi=4)
        raw = spec.get("resolutions")
        if isinstance(raw, list) and raw and all(isinstance(r, list) for r in raw):  # per axis: [[N_x, N_y, ...], ...]
            if len(raw) > S.MAX_LEVELS:
                raise TypeError(f"hashgrid.resolutions must be a list of 1 to {S.MAX_LEVELS} levels, "
                                f"got {S.show(raw)}")
            res = [S.integer_list({"resolutions": r}, "resolutions", "hashgrid", max_len=in_dim) for r in raw]
            if any(len(r) != in_dim for r in res):
                raise ValueError(f"hashgrid.resolutions: each level needs {in_dim} per-axis numbers, "
                                 f"got {S.show(raw)}")
        else:
            res = S.integer_list(spec, "resolutions", "hashgrid")
        log2 = S.integer(spec, "log2_table_size", "hashgrid", hi=cls.MAX_LOG2_TABLE_SIZE, default=18)
        features = S.integer(spec, "features", "hashgrid", default=2)
        return cls.table_rows(in_dim, res, log2) * features


class DenseGrid(MultiresGrid):
    """A single dense grid of ``resolution`` cells per axis with d-linear interpolation.

    The special case of :class:`MultiresGrid` with one level that always fits (no hashing);
    memory is (resolution + 1)^d x features.
    """

    def __init__(self, in_dim: int, resolution: int, features: int = 8, generator: torch.Generator | None = None):
        log2 = math.ceil(math.log2((resolution + 1) ** in_dim))
        super().__init__(in_dim, [resolution], log2, features, generator)

    def spec(self) -> dict:
        return {"type": "densegrid", "in_dim": self.in_dim, "resolution": self.resolutions[0],
                "features": self.features}

    @classmethod
    def from_spec(cls, spec: dict) -> "DenseGrid":
        return cls(**spec_kwargs(spec, "in_dim", "resolution", "features"))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "densegrid", ["in_dim", "resolution", "features"])
        in_dim = S.integer(spec, "in_dim", "densegrid", hi=4)
        res = S.integer(spec, "resolution", "densegrid")
        features = S.integer(spec, "features", "densegrid", default=8)
        return (res + 1) ** in_dim * features
