"""Hash and dense grid encodings against a slow, obviously-correct reference."""

import itertools
import math

import pytest
import torch

from inrkit.encodings import DenseGrid, MultiresGrid
from inrkit.encodings.grid import PRIMES


def reference_encode(enc: MultiresGrid, x: torch.Tensor) -> torch.Tensor:
    """Loop over points, levels and corners with Python integers (Mueller et al. 2022, sec. 3), each axis
    with its own N_{l,i} (``level_resolutions``: equal on every axis unless the grid is per-axis)."""
    d = enc.in_dim
    T = 2**enc.log2_table_size
    out = []
    levels, offset = [], 0
    for ns in enc.level_resolutions:
        verts = math.prod(n + 1 for n in ns)
        size = min(T, verts)
        levels.append((ns, size, offset, verts <= T))
        offset += size
    for p in x:
        feats = []
        for ns, size, off, dense in levels:
            u = [((c + 1) / 2).clamp(0.0, 1.0) * n for c, n in zip(p, ns)]  # tensors: keeps the coordinate gradient
            base = [min(int(math.floor(float(v.detach()))), n - 1) for v, n in zip(u, ns)]
            acc = torch.zeros(enc.features, dtype=x.dtype)
            for corner in itertools.product((0, 1), repeat=d):
                v = [b + c for b, c in zip(base, corner)]
                if dense:
                    idx = sum(v[i] * math.prod(ns[j] + 1 for j in range(i)) for i in range(d))
                else:
                    h = 0
                    for i in range(d):
                        h ^= v[i] * PRIMES[i]
                    idx = h % size
                w = 1.0
                for i in range(d):
                    t = u[i] - base[i]
                    w *= t if corner[i] else 1 - t
                acc = acc + w * enc.table[off + idx]
            feats.append(acc)
        out.append(torch.cat(feats))
    return torch.stack(out)


def _points(d, n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g, dtype=torch.float64) * 2 - 1
    # exact corner cases: the domain boundary, cell boundaries, and outside (clamped)
    special = torch.tensor([[-1.0] * d, [1.0] * d, [0.0] * d, [1.0] + [-1.0] * (d - 1),
                            [1.5] * d, [-0.5] * d], dtype=torch.float64)
    return torch.cat([x, special])


@pytest.mark.parametrize("d", [1, 2, 3])
def test_values_match_reference_dense_and_hashed(d):
    g = torch.Generator().manual_seed(d)
    enc = MultiresGrid(d, resolutions=[2, 5, 37, 1000], log2_table_size=9, features=3, generator=g).double()
    with torch.no_grad():
        enc.table.normal_(generator=g)
    dense = enc.dense.tolist()
    assert any(dense) and not all(dense), "the test must cover both kinds of level"
    x = _points(d)
    assert torch.allclose(enc(x), reference_encode(enc, x), atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_gradients_match_reference(d):
    g = torch.Generator().manual_seed(10 + d)
    enc = MultiresGrid(d, resolutions=[3, 7, 64], log2_table_size=8, features=2, generator=g).double()
    with torch.no_grad():
        enc.table.normal_(generator=g)
    x = _points(d, n=6)[:-2]  # exclude clamped points, whose coordinate gradient is a convention
    x = x.clone().requires_grad_(True)
    w = torch.randn(enc.out_dim, dtype=torch.float64, generator=g)
    (enc(x) @ w).sum().backward()
    gx, gt = x.grad.clone(), enc.table.grad.clone()
    x2 = x.detach().clone().requires_grad_(True)
    enc.table.grad = None
    (reference_encode(enc, x2) @ w).sum().backward()
    assert torch.allclose(gt, enc.table.grad, atol=1e-10)
    assert torch.allclose(gx, x2.grad, atol=1e-8)


def test_coordinate_gradient_against_finite_differences():
    g = torch.Generator().manual_seed(3)
    enc = MultiresGrid(2, [4, 9], 10, 2, generator=g).double()
    with torch.no_grad():
        enc.table.normal_(generator=g)
    x = torch.tensor([[0.13, -0.41], [0.7, 0.22]], dtype=torch.float64, requires_grad=True)
    enc(x).sum().backward()
    h = 1e-7
    for i in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[i] = h
        fd = (enc(x.detach() + e).sum(-1) - enc(x.detach() - e).sum(-1)) / (2 * h)
        assert torch.allclose(x.grad[:, i], fd, atol=1e-6)


def test_from_paper_resolutions_follow_eq_2_and_3():
    enc = MultiresGrid.from_paper(2, levels=16, features=2, log2_table_size=14, min_resolution=16,
                                  max_resolution=512)
    b = math.exp((math.log(512) - math.log(16)) / 15)
    assert enc.resolutions == [int(math.floor(16 * b**level + 1e-6)) for level in range(16)]
    assert enc.resolutions[0] == 16 and enc.resolutions[-1] == 512
    assert enc.out_dim == 32
    assert float(enc.table.detach().abs().max()) <= 1e-4  # U(-1e-4, 1e-4) init


def test_four_dimensions_and_dense_grid():
    enc = MultiresGrid(4, [2, 50], 10, 2)
    x = torch.rand(5, 4) * 2 - 1
    assert enc(x).shape == (5, 4)
    dg = DenseGrid(2, 8, features=3).double()
    with torch.no_grad():
        dg.table.normal_()
    x = _points(2)
    assert bool(dg.dense.all())
    assert torch.allclose(dg(x), reference_encode(dg, x), atol=1e-12)
    # a dense grid reproduces any bilinear function exactly: set vertex values to a + b x + c y
    dg1 = DenseGrid(2, 4, features=1).double()
    with torch.no_grad():
        for j, i in itertools.product(range(5), range(5)):
            dg1.table[i + 5 * j, 0] = 1 + 2 * (i / 4) - 3 * (j / 4)
    u = (x.clamp(-1, 1) + 1) / 2
    assert torch.allclose(dg1(x)[:, 0], 1 + 2 * u[:, 0] - 3 * u[:, 1], atol=1e-12)


def test_spatial_hash_picks_tiny_cuda_nns_row_for_the_same_vertex():
    # tiny-cuda-nn (common_device.h, coherent_prime_hash + grid_index) hashes in uint32 arithmetic, wrapping
    # at 2^32, then takes the row mod T; inrkit multiplies in int64. For T a power of two the rows agree:
    # only the vertex lattice differs (see the module docstring), not the hash.
    from inrkit.encodings.grid import level_indices

    g = torch.Generator().manual_seed(0)
    for d in (2, 3, 4):
        corners = torch.randint(0, 2**12, (50, 1, 1, d), generator=g)  # (N, L=1, K=1, d)
        size = torch.tensor([2**14])
        rows = level_indices(corners, torch.tensor([2**12]), torch.tensor([False]), size)[:, 0, 0]
        for v, row in zip(corners[:, 0, 0].tolist(), rows.tolist()):
            h = 0
            for i in range(d):
                h ^= (v[i] * PRIMES[i]) & 0xFFFFFFFF  # uint32 product, as on the GPU
            assert row == h % 2**14


@pytest.mark.parametrize("d", [1, 2, 3])
def test_fast_paths_match_reference_on_random_inputs(d):
    # grid_encode has two ways to gather: a fused weighted gather when no gradient is wanted
    # (rendering, evaluation) and index_select + weighted sum when one is; and grid_encode_lattice
    # evaluates a tensor-product lattice of points separably. All must give the reference's numbers,
    # in float32 (the fields' precision), and the same gradients w.r.t. coordinates and the table.
    g = torch.Generator().manual_seed(20 + d)
    enc = MultiresGrid(d, resolutions=[3, 6, 17, 150, 1500], log2_table_size=10, features=2, generator=g)
    with torch.no_grad():
        enc.table.uniform_(-1.0, 1.0, generator=g)
    assert any(enc.dense.tolist()) and not all(enc.dense.tolist())
    x = torch.rand(16, d, generator=g) * 2.2 - 1.1  # some outside the domain (clamped)
    ref = reference_encode(enc, x)
    with torch.no_grad():
        assert torch.allclose(enc(x), ref, atol=1e-6)
    with torch.inference_mode():
        assert torch.allclose(enc(x), ref, atol=1e-6)
    xin = (torch.rand(16, d, generator=g) * 1.98 - 0.99).requires_grad_(True)  # inside: the gradient is defined
    wts = torch.randn(enc.out_dim, generator=g)
    (enc(xin) @ wts).sum().backward()
    gx, gt = xin.grad.clone(), enc.table.grad.clone()
    enc.table.grad = None
    x2 = xin.detach().clone().requires_grad_(True)
    (reference_encode(enc, x2) @ wts).sum().backward()
    assert torch.allclose(gt, enc.table.grad, atol=1e-6)
    assert torch.allclose(gx, x2.grad, atol=1e-6 * max(1.0, float(x2.grad.abs().max())))
    # the lattice form: axis 0 fastest, as inrkit.coords.grid lays out pixels
    axes = [torch.rand(n, generator=g) * 2.2 - 1.1 for n in (4, 3, 2)[:d]]
    with torch.no_grad():
        feats, parts = enc.encode_lattice(axes, partials=True)
    mesh = torch.meshgrid(*reversed(axes), indexing="ij")
    pts = torch.stack(list(reversed(mesh)), -1)  # (n_{d-1}, ..., n_0, d)
    assert feats.shape == (*pts.shape[:-1], enc.out_dim)
    flat = pts.reshape(-1, d).requires_grad_(True)
    ref = reference_encode(enc, flat)
    assert torch.allclose(feats.reshape(-1, enc.out_dim), ref, atol=1e-6)
    # derivatives along each axis, by autograd through the reference: one backward per feature
    jac = torch.stack([torch.autograd.grad(ref[:, j].sum(), flat, retain_graph=True)[0]
                       for j in range(enc.out_dim)], -1)  # (points, d, features)
    for k in range(d):
        scale = max(1.0, float(jac[:, k].abs().max()))
        assert torch.allclose(parts[k].reshape(-1, enc.out_dim), jac[:, k], atol=1e-6 * scale)
