"""Grid encodings: multiresolution hash grid (Mueller et al. 2022) and a dense grid.

The maths lives in :func:`grid_encode`, vectorised over points, levels and corners (no
Python loop over levels). Tables for all levels are one flat parameter; level l owns the
rows ``offsets[l] : offsets[l] + sizes[l]``.

Coordinates in inrkit's [-1, 1] are mapped to u = (x + 1) / 2 in [0, 1]; at level l with
resolution N_l the grid has vertices 0 .. N_l on every axis and the point sits at
u * N_l. Points outside the domain are clamped to its boundary.

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


def level_indices(corners: Tensor, resolution: Tensor, dense: Tensor, size: Tensor) -> Tensor:
    """Table row of each corner within its level.

    ``corners (..., L, K, d)`` integer vertex coordinates; ``resolution, dense, size (L,)``.
    Dense levels (where (N_l + 1)^d <= T) index row-major, stride N_l + 1; hashed levels
    use h(x) = (XOR_i x_i pi_i) mod T (Mueller et al. 2022, eq. 4).
    """
    d = corners.shape[-1]
    stride = (resolution + 1)[:, None] ** torch.arange(d, device=corners.device)  # (L, d)
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

    ``coords (*, d)`` in [-1, 1]; ``table (sum_l T_l, F)``; ``resolution, offsets, sizes,
    dense (L,)``. Returns ``(*, L * F)``, level-major. Differentiable with respect to the
    table and to ``coords`` (through the interpolation weights).
    """
    lead, d = coords.shape[:-1], coords.shape[-1]
    x = coords.reshape(-1, d)  # (N, d)
    u = ((x + 1.0) * 0.5).clamp(0.0, 1.0)
    res_f = resolution.to(x.dtype)
    pos = u[:, None, :] * res_f[None, :, None]  # (N, L, d)
    # The cell's lower corner; at u = 1 use the last cell with weight 1 on its upper corner.
    base = torch.minimum(pos.detach().floor().long(), (resolution - 1)[None, :, None])  # (N, L, d)
    frac = pos - base.to(x.dtype)  # (N, L, d), carries the gradient to coords
    # Corner c = base + o, o in {0, 1}^d. Both the dense index sum_i c_i s_i and the hash
    # XOR_i c_i pi_i are built from per-axis terms of the two choices, combined over the
    # 2^d corners by broadcasting: d small tensors instead of one (N, L, 2^d, d) tensor.
    n, n_levels = base.shape[:2]
    stride = (resolution + 1)[:, None] ** torch.arange(d, device=x.device)  # (L, d)
    primes = torch.tensor(PRIMES[:d], device=x.device, dtype=torch.long)
    two = torch.arange(2, device=x.device)
    cell = base[..., None] + two  # (N, L, d, 2): coordinate of the lower and upper vertex per axis
    dense_terms = cell * stride[None, :, :, None]
    hash_terms = cell * primes[:, None]
    wts = torch.stack([1.0 - frac, frac], -1)  # (N, L, d, 2)
    dense_idx, hashed, w = dense_terms[:, :, 0], hash_terms[:, :, 0], wts[:, :, 0]  # (N, L, 2)
    for i in range(1, d):  # corner order: axis 0 fastest (as corner_offsets)
        dense_idx = (dense_terms[:, :, i, :, None] + dense_idx[:, :, None, :]).reshape(n, n_levels, -1)
        hashed = torch.bitwise_xor(hash_terms[:, :, i, :, None], hashed[:, :, None, :]).reshape(n, n_levels, -1)
        w = (wts[:, :, i, :, None] * w[:, :, None, :]).reshape(n, n_levels, -1)
    rows = torch.where(dense[:, None], dense_idx, torch.remainder(hashed, sizes[:, None])) + offsets[None, :, None]
    # index_select, not table[rows]: its backward (index_add) sums in a fixed order on the CPU,
    # so seeded runs are bit-for-bit reproducible; advanced indexing's backward is not.
    feats = table.index_select(0, rows.reshape(-1)).reshape(*rows.shape, table.shape[1])  # (N, L, K, F)
    out = (w[..., None] * feats).sum(2)  # (N, L, F)
    return out.reshape(*lead, -1)


class MultiresGrid(Encoding):
    """Multiresolution hash encoding (Mueller et al. 2022, sec. 3), for 1 to 4 input dimensions.

    Level l has resolution ``resolutions[l]`` and a table of min(T, (N_l + 1)^d) rows of
    ``features`` values, initialised U(-1e-4, 1e-4) (sec. 4). Levels that fit in T are
    indexed densely (one row per vertex, no collisions); the rest are hashed.

    The paper's vertex convention, not tiny-cuda-nn's (no -1 in the level scale, no +0.5
    offset; see the module docstring): its tables cannot be loaded here.
    """

    def __init__(self, in_dim: int, resolutions: list[int], log2_table_size: int = 18, features: int = 2,
                 generator: torch.Generator | None = None):
        super().__init__()
        if not 1 <= in_dim <= 4:
            raise ValueError(f"grid encodings support 1 to 4 input dimensions, not {in_dim}")
        self.in_dim = in_dim
        self.features = features
        self.log2_table_size = log2_table_size
        self.resolutions = [int(r) for r in resolutions]
        self.out_dim = len(self.resolutions) * features
        T = 2**log2_table_size
        sizes = [min(T, (r + 1) ** in_dim) for r in self.resolutions]
        dense = [(r + 1) ** in_dim <= T for r in self.resolutions]
        offsets = [0] + list(itertools.accumulate(sizes))[:-1]
        self.register_buffer("resolution", torch.tensor(self.resolutions, dtype=torch.long), persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes, dtype=torch.long), persistent=False)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self.register_buffer("dense", torch.tensor(dense), persistent=False)
        table = torch.empty(sum(sizes), features).uniform_(-1e-4, 1e-4, generator=generator)
        self.table = nn.Parameter(table)

    @classmethod
    def from_paper(cls, in_dim: int, levels: int = 16, features: int = 2, log2_table_size: int = 19,
                   min_resolution: int = 16, max_resolution: int = 2048,
                   generator: torch.Generator | None = None) -> "MultiresGrid":
        """The paper's hyperparameters (Mueller et al. 2022, sec. 3, eqs. 2-3):

        b = exp((ln N_max - ln N_min) / (L - 1)),   N_l = floor(N_min * b^l),  l = 0 .. L-1.

        Defaults are Table 1's: L = 16, F = 2, N_min = 16; T = 2^19 and N_max = 2048 (the
        paper uses T up to 2^24 and N_max up to 2^19 depending on the task).
        """
        return cls(in_dim, cls.paper_resolutions(levels, min_resolution, max_resolution), log2_table_size, features,
                   generator)

    @staticmethod
    def paper_resolutions(levels: int, min_resolution: int, max_resolution: int) -> list[int]:
        """N_l = floor(N_min * b^l), b = exp((ln N_max - ln N_min) / (L - 1)) (eqs. 2-3)."""
        if levels == 1:
            return [min_resolution]
        b = math.exp((math.log(max_resolution) - math.log(min_resolution)) / (levels - 1))
        return [int(math.floor(min_resolution * b**level + 1e-6)) for level in range(levels)]

    def forward(self, coords: Tensor) -> Tensor:
        return grid_encode(coords, self.table, self.resolution, self.offsets, self.sizes, self.dense)

    def spec(self) -> dict:
        return {"type": "hashgrid", "in_dim": self.in_dim, "resolutions": self.resolutions,
                "log2_table_size": self.log2_table_size, "features": self.features}

    @classmethod
    def from_spec(cls, spec: dict) -> "MultiresGrid":
        return cls(**spec_kwargs(spec, "in_dim", "resolutions", "log2_table_size", "features"))

    MAX_LOG2_TABLE_SIZE = 32
    """Largest T = 2^32 rows per level (the paper uses up to 2^24)."""

    @staticmethod
    def table_rows(in_dim: int, resolutions: list[int], log2_table_size: int) -> int:
        """Rows of the flat table: sum over levels of min(T, (N_l + 1)^d), from the numbers."""
        T = 2**log2_table_size
        return sum(min(T, (r + 1) ** in_dim) for r in resolutions)

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "hashgrid", ["in_dim", "resolutions", "log2_table_size", "features"])
        in_dim = S.integer(spec, "in_dim", "hashgrid", hi=4)
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
