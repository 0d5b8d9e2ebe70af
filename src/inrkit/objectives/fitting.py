"""Fitting a field to samples of itself or of its derivatives: A = identity, gradient, Laplacian, stencil."""

from __future__ import annotations

from torch import Tensor, nn

from ..batch import Batch
from ..errors import InrkitError


class Reconstruction:
    """A = identity: mean squared error between ``f(batch.coords)`` and ``batch.targets (N, C)``."""

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        pred = field(batch.coords)
        loss = ((pred - batch.targets) ** 2).mean()
        return {"loss": loss}


class GradientMatch:
    """A = gradient: fit grad f to a target vector field, optionally anchoring values.

    ``batch.targets (N, C, d)``: the target gradient of each of the C channels in any input
    dimension d. With ``anchor_weight > 0`` the batch also carries ``"values" (N, C)`` and a
    0/1 ``"mask" (N, 1)``, and the loss adds ``anchor_weight * sum(mask * (f - values)^2) /
    sum(mask)`` (the mean over anchored points). Used for Poisson reconstruction (Sitzmann
    2020, sec. 4.1), gradient-domain blending and integrating gradient fields.
    """

    def __init__(self, anchor_weight: float = 0.0):
        self.anchor_weight = anchor_weight

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        from ..ops import jacobian

        x = batch.coords.detach().requires_grad_(True)
        pred = field(x)  # (N, C)
        grads = jacobian(pred, x)  # (N, C, d)
        grad_loss = ((grads - batch.targets.reshape(grads.shape)) ** 2).mean()
        terms = {"gradient": grad_loss}
        loss = grad_loss
        if self.anchor_weight > 0:
            mask, values = batch["mask"], batch["values"]
            value_loss = (mask * (pred - values) ** 2).sum() / mask.sum().clamp_min(1.0)
            terms["anchor"] = value_loss
            loss = loss + self.anchor_weight * value_loss
        terms["loss"] = loss
        return terms


class LaplacianMatch:
    """A = Laplacian: fit Delta f (of a one-channel field) to ``batch.targets (N, 1)`` (Sitzmann 2020, sec. 4.1).

    MLP fields (SIREN, tanh, ReLU with or without Fourier/positional encodings) get their
    Laplacian by forward propagation (``inrkit.ops.jet``: same values, one backward pass to
    train instead of a twice-differentiated backward); other fields by autograd.
    """

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        from ..ops import laplacian
        from ..ops.jet import jet, supports_jet

        coords = batch.coords
        if supports_jet(field) and coords.dim() == 2:
            lap = jet(field, coords.detach())[2]  # (N, 1)
        else:
            x = coords.detach().requires_grad_(True)
            lap = laplacian(field(x), x)  # (N, 1)
        loss = ((lap - batch.targets) ** 2).mean()
        return {"loss": loss}


class StencilMatch:
    """A = the discrete stencil that made the targets, applied to the field sampled on the grid.

    ``operator`` is ``"sobel"`` (targets ``(N, C, 2)``: the Sobel gradient of each channel,
    (d/dx, d/dy), as :func:`inrkit.ops.finite.sobel_gradient` computes it) or ``"laplacian"``
    (targets ``(N, C)``: :func:`inrkit.ops.finite.laplacian_5point`). The batch must hold every
    pixel of a 2-D grid in raster order (``batch.grid = (H, W)``, which a
    :class:`~inrkit.signals.sampling.PointSampler` with ``batch_size=0`` sets); the grid
    spacing follows from its shape (``inrkit.coords.pixel_step``). The same stencil, with the
    same mirrored borders, is applied to the field's values. Unlike :class:`GradientMatch` /
    :class:`LaplacianMatch`, which compare the field's analytic derivatives with the filtered
    targets, this is the exact forward model of how the targets were measured: on the grid
    it leaves only the constant free, where the analytic Laplacian leaves every harmonic
    function free.

    ``precondition=True`` (Laplacian only) measures the residual in the H^-1 norm,
    ``|(-L)^(-1/2) (L f - targets)|^2`` (:func:`inrkit.ops.finite.grid_neumann_power`): the plain
    squared residual weighs a frequency k of the solution by k^4, so over 256 pixels the coarsest
    mode weighs about 3e9 times less than the finest and settles far more slowly;
    in H^-1 they weigh k^2, as in a gradient fit. The data are the same Laplacian targets.
    """

    def __init__(self, operator: str, precondition: bool = False):
        if operator not in ("sobel", "laplacian"):
            raise ValueError(f"operator must be sobel or laplacian, not {operator!r}")
        if precondition and operator != "laplacian":
            raise ValueError("precondition applies to the Laplacian stencil only")
        self.operator, self.precondition = operator, precondition

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        from .. import coords as C
        from ..ops import finite

        if batch.grid is None or len(batch.grid) != 2:
            raise InrkitError("the stencil objective needs every pixel of a 2-D grid each step (batch size 0)")
        h, w = batch.grid
        step = C.pixel_step((h, w))
        values = field(batch.coords).reshape(h, w, -1)
        if self.operator == "sobel":
            pred = finite.grid_sobel(values, step).reshape(h * w, -1)  # (N, C * 2), channel-major
        else:
            pred = finite.grid_laplacian(values, step).reshape(h * w, -1)
        residual = pred - batch.targets.reshape(h * w, -1)
        if self.precondition:
            residual = finite.grid_neumann_power(residual.reshape(h, w, -1), step, 0.5)
        loss = (residual ** 2).mean()
        return {"loss": loss}
