"""The undersampled MRI forward operator: a masked, unitary 2-D DFT, its adjoint, and a TV solver.

Single-coil Cartesian MRI measures the 2-D Fourier transform of the image on the k-space
locations a mask selects (Lustig, Donoho and Pauly 2007, "Sparse MRI", sec. II). With the unitary
DFT ``F`` (``norm="ortho"``) and k-space stored centred (DC in the middle, ``fftshift``)::

    A x   = M * fftshift(F x)             (H, W) complex, zero where M = 0
    A^H y = F^H ifftshift(M * y)          (H, W) complex

``<A x, y> = <x, A^H y>`` holds to rounding (tests/inverse/test_fourier.py). ``F`` being unitary
and ``M`` a 0/1 diagonal make ``A^H A`` diagonal in k-space, so the proximal step of the data term
is exact (:func:`tv_reconstruction`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import InrkitError


def masked_fft(x: Tensor, mask: Tensor) -> Tensor:
    """``A x``: ``x (H, W)`` real or complex -> ``(H, W)`` complex centred k-space, zero off ``mask (H, W)``."""
    return mask * torch.fft.fftshift(torch.fft.fft2(x, norm="ortho"), dim=(-2, -1))


def masked_fft_adjoint(y: Tensor, mask: Tensor) -> Tensor:
    """``A^H y``: centred k-space ``y (H, W)`` -> ``(H, W)`` complex image (zero-filled reconstruction)."""
    return torch.fft.ifft2(torch.fft.ifftshift(mask * y, dim=(-2, -1)), norm="ortho")


def data_consistent(x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """The image whose k-space is the measurement ``y`` where ``mask`` sampled and ``x``'s elsewhere:
    ``F^H ifftshift(M * y + (1 - M) * fftshift(F x))``, ``(H, W)`` complex. The data-consistency step of
    model-based MRI reconstruction (Schlemper et al. 2017, "A deep cascade of convolutional neural
    networks for MR image reconstruction", sec. II-B, noise-free case): a reconstruction keeps only its
    estimate of the frequencies that were not measured. ``A`` of the result equals ``y`` exactly."""
    k = torch.fft.fftshift(torch.fft.fft2(x, norm="ortho"), dim=(-2, -1))
    return torch.fft.ifft2(torch.fft.ifftshift(mask * y + (1 - mask) * k, dim=(-2, -1)), norm="ortho")


def check_mask(mask: Tensor, shape: tuple[int, int], what: str = "the k-space mask") -> Tensor:
    """A 0/1 mask of exactly the image's ``shape`` with at least one 1, as float32 (``what`` names it in
    the messages)."""
    if tuple(mask.shape) != tuple(shape):
        raise InrkitError(f"{what} is {tuple(mask.shape)}, the image {tuple(shape)}; they must match")
    m = mask.float()
    if not torch.all((m == 0) | (m == 1)):
        raise InrkitError(f"{what} must hold only 0 and 1")
    if m.sum() < 1:
        raise InrkitError(f"{what} samples nothing" if what == "the k-space mask" else f"{what} holds no 1")
    return m


def _grad(x: Tensor) -> Tensor:
    """Forward differences with a zero last difference (Neumann): ``(H, W) -> (2, H, W)``."""
    gx = torch.zeros_like(x)
    gy = torch.zeros_like(x)
    gx[:, :-1] = x[:, 1:] - x[:, :-1]
    gy[:-1, :] = x[1:, :] - x[:-1, :]
    return torch.stack([gx, gy])


def _div(p: Tensor) -> Tensor:
    """Minus the adjoint of :func:`_grad`: ``(2, H, W) -> (H, W)``."""
    px, py = p[0], p[1]
    dx = torch.zeros_like(px)
    dy = torch.zeros_like(py)
    dx[:, 0] = px[:, 0]
    dx[:, 1:-1] = px[:, 1:-1] - px[:, :-2]
    dx[:, -1] = -px[:, -2]
    dy[0, :] = py[0, :]
    dy[1:-1, :] = py[1:-1, :] - py[:-2, :]
    dy[-1, :] = -py[-2, :]
    return dx + dy


def tv_reconstruction(y: Tensor, mask: Tensor, weight: float, iterations: int = 300,
                      support: Tensor | None = None) -> Tensor:
    """``argmin_x 1/2 |A x - y|^2 + weight * TV(x)`` by Chambolle and Pock (2011, Algorithm 1).
    With ``support (H, W)`` 0/1, ``x`` is also constrained to be zero off it (:func:`_tv_on_support`).

    Isotropic TV of a complex image (the joint norm of the real and imaginary parts' forward
    differences, Neumann borders). K = gradient with ``|K|^2 <= 8``, so ``tau = sigma = 1/sqrt(8)``
    and ``theta = 1`` (the paper's sec. 6 choice). The prox of ``tau F`` with ``F = 1/2 |A x - y|^2``
    is exact in k-space: ``X = (V + tau M Y) / (1 + tau M)``. Starts from the zero-filled image.
    Returns ``(H, W)`` complex.
    """
    if support is not None:
        return _tv_on_support(y, mask, weight, iterations, support)
    tau = sigma = 1.0 / 8 ** 0.5
    x = masked_fft_adjoint(y, mask)
    xbar = x.clone()
    p = torch.zeros((2, 2, *x.shape), dtype=x.real.dtype)  # (real/imag, x/y, H, W)
    yk = torch.fft.ifftshift(mask * y, dim=(-2, -1))  # data in FFT order
    mk = torch.fft.ifftshift(mask, dim=(-2, -1))
    for _ in range(iterations):
        g = torch.stack([_grad(xbar.real), _grad(xbar.imag)])  # (2, 2, H, W)
        p = p + sigma * g
        norm = torch.sqrt((p ** 2).sum(dim=(0, 1), keepdim=True))
        p = p / torch.clamp(norm / weight, min=1.0)  # project onto |p| <= weight
        v = x + tau * torch.complex(_div(p[0]), _div(p[1]))
        xn = torch.fft.ifft2((torch.fft.fft2(v, norm="ortho") + tau * mk * yk) / (1 + tau * mk), norm="ortho")
        xbar = 2 * xn - x
        x = xn
    return x


def _tv_on_support(y: Tensor, mask: Tensor, weight: float, iterations: int, support: Tensor) -> Tensor:
    """``argmin_x 1/2 |A x - y|^2 + weight * TV(x)`` subject to ``x = 0`` off ``support``, by Chambolle and
    Pock (2011, Algorithm 1) with both terms dualised: K = [grad; A] (``|K|^2 <= 8 + 1``, so
    ``tau = sigma = 1/3``), the dual prox of the data term ``(q - sigma y) / (1 + sigma)`` and of TV the
    projection onto ``|p| <= weight``; the primal prox is the projection onto the support. Starts from the
    zero-filled image times the support. Returns ``(H, W)`` complex."""
    tau = sigma = 1.0 / 3.0
    s = support.to(y.real.dtype)
    x = masked_fft_adjoint(y, mask) * s
    xbar = x.clone()
    p = torch.zeros((2, 2, *x.shape), dtype=x.real.dtype)
    q = torch.zeros_like(y)
    my = mask * y
    for _ in range(iterations):
        p = p + sigma * torch.stack([_grad(xbar.real), _grad(xbar.imag)])
        p = p / torch.clamp(torch.sqrt((p ** 2).sum(dim=(0, 1), keepdim=True)) / weight, min=1.0)
        q = (q + sigma * (masked_fft(xbar, mask) - my)) / (1 + sigma)
        v = x + tau * (torch.complex(_div(p[0]), _div(p[1])) - masked_fft_adjoint(q, mask))
        xn = v * s
        xbar = 2 * xn - x
        x = xn
    return x


__all__ = ["masked_fft", "masked_fft_adjoint", "check_mask", "tv_reconstruction"]
