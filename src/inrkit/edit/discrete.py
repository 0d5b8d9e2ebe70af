"""Classical discrete Poisson solvers, the references INR results are checked against.

Arrays are ``(H, W)`` on inrkit's grid with pixel steps ``step = (hx, hy)`` in coordinate
units, so their inputs are the same derivative maps the INR objectives use.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, sparse
from scipy.sparse import linalg as splinalg


def solve_poisson_neumann(rhs: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Solve L u = rhs, L the 5-point Laplacian with mirrored (Neumann) borders, by DCT.

    With cell-centred samples and mirrored borders, DCT-II diagonalises L with eigenvalues
    (2 cos(pi k / W) - 2) / hx^2 + (2 cos(pi l / H) - 2) / hy^2. The (0, 0) mode is free
    (u is defined up to a constant): it is set so that u has zero mean. ``rhs`` is
    projected onto the compatible (zero-mean) subspace first.
    """
    h, w = rhs.shape
    hx, hy = step
    R = fft.dctn(rhs.astype(np.float64), type=2, norm="ortho")
    kx = (2 * np.cos(np.pi * np.arange(w) / w) - 2) / hx**2
    ky = (2 * np.cos(np.pi * np.arange(h) / h) - 2) / hy**2
    lam = ky[:, None] + kx[None, :]
    lam[0, 0] = 1.0
    U = R / lam
    U[0, 0] = 0.0
    return fft.idctn(U, type=2, norm="ortho")


def divergence_backward(g: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Discrete divergence of ``(H, W, 2)`` by backward differences, the adjoint of forward
    differences, so that ``solve_poisson_neumann(divergence_backward(forward_gradient(u)))`` is u."""
    gx, gy = g[..., 0], g[..., 1]
    dx = np.zeros_like(gx)
    dy = np.zeros_like(gy)
    dx[:, 0] = gx[:, 0]
    dx[:, 1:-1] = gx[:, 1:-1] - gx[:, :-2]
    dx[:, -1] = -gx[:, -2]
    dy[0, :] = gy[0, :]
    dy[1:-1, :] = gy[1:-1, :] - gy[:-2, :]
    dy[-1, :] = -gy[-2, :]
    return dx / step[0] + dy / step[1]


def forward_gradient(u: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Forward differences with zero flux across the last row/column: ``(H, W)`` -> ``(H, W, 2)``."""
    gx = np.zeros_like(u, dtype=np.float64)
    gy = np.zeros_like(u, dtype=np.float64)
    gx[:, :-1] = (u[:, 1:] - u[:, :-1]) / step[0]
    gy[:-1, :] = (u[1:, :] - u[:-1, :]) / step[1]
    return np.stack([gx, gy], -1)


def integrate_gradient(g: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Least-squares integration of a gradient field sampled at pixel centres (Neumann, DCT).

    Central-difference-like targets (e.g. Sobel) are moved to the staggered grid of
    forward differences by averaging neighbours, then u solves L u = div g. Zero mean.
    """
    stag = np.zeros_like(g, dtype=np.float64)
    stag[:, :-1, 0] = 0.5 * (g[:, :-1, 0] + g[:, 1:, 0])
    stag[:-1, :, 1] = 0.5 * (g[:-1, :, 1] + g[1:, :, 1])
    return solve_poisson_neumann(divergence_backward(stag, step), step)


def poisson_blend(target: np.ndarray, guide: np.ndarray, mask: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Seamless cloning (Perez et al. 2003): inside ``mask`` solve L u = div(guide), with
    u = target on the mask's outer boundary; outside the mask u = target.

    ``guide (H, W, 2)`` is the guidance field (the pasted image's gradient on the staggered
    grid of forward differences); ``target, mask (H, W)``. Sparse direct solve.
    """
    h, w = target.shape
    inside = mask.astype(bool).copy()
    inside[0, :] = inside[-1, :] = inside[:, 0] = inside[:, -1] = False  # keep a known border
    idx = -np.ones((h, w), dtype=np.int64)
    ys, xs = np.nonzero(inside)
    idx[ys, xs] = np.arange(len(ys))
    n = len(ys)
    out = target.astype(np.float64).copy()
    if n == 0:
        return out
    div = divergence_backward(guide, step)
    rows, cols, vals = [], [], []
    b = div[ys, xs].copy()
    diag = np.zeros(n)
    for dy, dx, hh in ((0, 1, step[0]), (0, -1, step[0]), (1, 0, step[1]), (-1, 0, step[1])):
        ny, nx = ys + dy, xs + dx
        coef = 1.0 / hh**2
        diag -= coef
        nb = idx[ny, nx]
        known = nb < 0
        rows.append(np.nonzero(~known)[0])
        cols.append(nb[~known])
        vals.append(np.full((~known).sum(), coef))
        b[known] -= coef * target[ny[known], nx[known]]
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag)
    A = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    out[ys, xs] = splinalg.spsolve(A, b)
    return out
