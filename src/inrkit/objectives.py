"""Objectives: the forward operator A and the loss, as named terms.

Every objective is called as ``objective(field, coords, targets) -> dict`` with a
``"loss"`` entry (what the optimiser minimises) and any other named terms to log.
"""

from __future__ import annotations

from torch import Tensor, nn


class Reconstruction:
    """A = identity: mean squared error between f(x) and the targets."""

    def __call__(self, field: nn.Module, coords: Tensor, targets: Tensor) -> dict[str, Tensor]:
        pred = field(coords)
        loss = ((pred - targets) ** 2).mean()
        return {"loss": loss}


class GradientMatch:
    """A = gradient: fit grad f to a target vector field, optionally anchoring values.

    ``targets (N, 2C)`` holds the target gradient of each of the C channels, (d/dx, d/dy)
    per channel, channel-major; with ``anchor_weight > 0``, ``targets (N, 3C + 1)`` also
    holds C target values and a 0/1 anchor mask in its last column, and the loss adds
    ``anchor_weight * mean(mask * (f - values)^2)``. Used for Poisson reconstruction
    (Sitzmann 2020, sec. 4.1), gradient-domain blending and integrating gradient fields.
    """

    def __init__(self, channels: int, anchor_weight: float = 0.0):
        self.channels = channels
        self.anchor_weight = anchor_weight

    def __call__(self, field: nn.Module, coords: Tensor, targets: Tensor) -> dict[str, Tensor]:
        from .ops import jacobian

        c = self.channels
        x = coords.detach().requires_grad_(True)
        pred = field(x)  # (N, C)
        grads = jacobian(pred, x).reshape(x.shape[0], -1)  # (N, C * d), channel-major
        grad_loss = ((grads - targets[:, : 2 * c]) ** 2).mean()
        terms = {"gradient": grad_loss}
        loss = grad_loss
        if self.anchor_weight > 0:
            values, mask = targets[:, 2 * c: 3 * c], targets[:, 3 * c:3 * c + 1]
            value_loss = (mask * (pred - values) ** 2).sum() / mask.sum().clamp_min(1.0)
            terms["anchor"] = value_loss
            loss = loss + self.anchor_weight * value_loss
        terms["loss"] = loss
        return terms


class LaplacianMatch:
    """A = Laplacian: fit Delta f (of a one-channel field) to ``targets (N, 1)`` (Sitzmann 2020, sec. 4.1).

    MLP fields (SIREN, tanh, ReLU with or without Fourier/positional encodings) get their
    Laplacian by forward propagation (``inrkit.ops.jet``: same values, one backward pass to
    train instead of a twice-differentiated backward); other fields by autograd.
    """

    def __call__(self, field: nn.Module, coords: Tensor, targets: Tensor) -> dict[str, Tensor]:
        from .ops import laplacian
        from .ops.jet import jet, supports_jet

        if supports_jet(field) and coords.dim() == 2:
            lap = jet(field, coords.detach())[2]  # (N, 1)
        else:
            x = coords.detach().requires_grad_(True)
            lap = laplacian(field(x), x)  # (N, 1)
        loss = ((lap - targets) ** 2).mean()
        return {"loss": loss}


class StencilMatch:
    """A = the discrete stencil that made the targets, applied to the field sampled on the grid.

    ``operator`` is ``"sobel"`` (targets ``(N, 2C)``: the Sobel gradient of each channel,
    (d/dx, d/dy), channel-major, as :func:`inrkit.ops.finite.sobel_gradient` computes it) or
    ``"laplacian"`` (targets ``(N, C)``: :func:`inrkit.ops.finite.laplacian_5point`). The field is
    evaluated on every pixel of the ``shape (H, W)`` grid (``coords`` in raster order, as
    ``inrkit.coords.grid`` gives them) and the same stencil, with the same mirrored borders, is
    applied to its values. Unlike :class:`GradientMatch` / :class:`LaplacianMatch`, which compare
    the field's analytic derivatives with the filtered targets, this is the exact forward model of
    how the targets were measured: on the grid it leaves only the constant free, where the
    analytic Laplacian leaves every harmonic function free.

    ``precondition=True`` (Laplacian only) measures the residual in the H^-1 norm,
    ``|(-L)^(-1/2) (L f - targets)|^2`` (:func:`inrkit.ops.finite.grid_neumann_power`): the plain
    squared residual weighs a frequency k of the solution by k^4, so over 256 pixels the coarsest
    mode weighs about 3e9 times less than the finest and settles far more slowly;
    in H^-1 they weigh k^2, as in a gradient fit. The data are the same Laplacian targets.
    """

    def __init__(self, operator: str, shape: tuple[int, int], step: tuple[float, float],
                 precondition: bool = False):
        if operator not in ("sobel", "laplacian"):
            raise ValueError(f"operator must be sobel or laplacian, not {operator!r}")
        if precondition and operator != "laplacian":
            raise ValueError("precondition applies to the Laplacian stencil only")
        self.operator, self.shape, self.step = operator, tuple(shape), tuple(step)
        self.precondition = precondition

    def __call__(self, field: nn.Module, coords: Tensor, targets: Tensor) -> dict[str, Tensor]:
        from .errors import InrkitError
        from .ops import finite

        h, w = self.shape
        if coords.shape[0] != h * w:
            raise InrkitError(f"the stencil objective needs all {h * w} pixels every step, got {coords.shape[0]} "
                              f"(use --batch-size 0)")
        values = field(coords).reshape(h, w, -1)
        if self.operator == "sobel":
            pred = finite.grid_sobel(values, self.step).reshape(h * w, -1)  # (N, C * 2), channel-major
        else:
            pred = finite.grid_laplacian(values, self.step).reshape(h * w, -1)
        residual = pred - targets
        if self.precondition:
            residual = finite.grid_neumann_power(residual.reshape(h, w, -1), self.step, 0.5)
        loss = (residual ** 2).mean()
        return {"loss": loss}
