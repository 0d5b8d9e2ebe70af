"""Gradient-domain processing with INRs: fit a field to a gradient or Laplacian target.

"Find f such that A(f)(x) ~ y" with A = gradient or Laplacian. Targets are derivative maps
in inrkit's coordinate units (one pixel = 2/W in x, 2/H in y), on the cell-centre grid.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import coords as C
from ..config import FieldConfig, TrainConfig, build_field, learning_rate, make_optimizer
from ..errors import InrkitError
from ..objectives import GradientMatch, LaplacianMatch, StencilMatch
from ..ops import evaluate, finite
from ..scaling import normalised, set_output_range
from ..signals.sampling import PointSampler
from ..train import FitResult, fit, schedules


def check_gradient_shape(shape: tuple[int, ...]) -> None:
    """Gradient-domain methods take differences along both axes: refuse fewer than 2 pixels on one."""
    h, w = shape[:2]
    if h < 2 or w < 2:
        raise InrkitError(f"the image is {w}x{h}: gradient-domain methods need at least 2 pixels along each axis")


def image_gradients(values: np.ndarray, method: str = "central") -> np.ndarray:
    """Per-channel gradient of ``values (H, W, C)``: ``(H, W, C, 2)`` in coordinate units.

    ``method`` is ``central`` (second-order central differences) or ``sobel`` (the
    Sobel filter, as in Sitzmann et al. 2020's Poisson experiments).
    """
    check_gradient_shape(values.shape[:2])
    step = C.pixel_step(values.shape[:2])
    fn = finite.sobel_gradient if method == "sobel" else finite.central_gradient
    return np.stack([fn(values[..., c], step) for c in range(values.shape[2])], axis=2)


def poisson_problem(gt: np.ndarray, supervision: str) -> tuple[np.ndarray, np.ndarray]:
    """The targets of a Poisson reconstruction of ``gt (H, W, 1)`` and their classical solution.

    ``supervision="gradient"``: Sobel gradients ``(H, W, 1, 2)``, solved by least squares (DCT);
    ``"laplacian"``: the 5-point Laplacian ``(H, W)``, solved with Neumann borders (DCT). The
    solution ``(H, W, 1)`` has its constant set to match ``gt``.
    """
    from . import discrete

    check_gradient_shape(gt.shape[:2])
    step = C.pixel_step(gt.shape[:2])
    if supervision == "gradient":
        target = image_gradients(gt, "sobel")
        classical = discrete.integrate_gradient(target[:, :, 0], step)
    elif supervision == "laplacian":
        target = finite.laplacian_5point(gt[..., 0], step)
        classical = discrete.solve_poisson_neumann(target, step)
    else:
        raise InrkitError(f"supervision must be gradient or laplacian, not {supervision!r}")
    return target, remove_constant(classical[..., None], gt)


def remove_constant(pred: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Shift each channel of ``pred`` by the constant that best matches ``reference`` (mean difference).

    A field fitted only to derivatives is defined up to this constant; Sitzmann et al.
    2020 (sec. 4.1) report PSNR after removing it.
    """
    axes = (0, 1)
    return pred - (pred - reference).mean(axis=axes, keepdims=True)


def _train(field, objective, sampler, train_cfg, arch, callbacks=(), max_seconds: float | None = None) -> FitResult:
    lr = learning_rate(FieldConfig(arch=arch), train_cfg)
    opt = make_optimizer(field, arch, lr)
    return fit(field, sampler, objective, steps=train_cfg.steps, max_seconds=max_seconds, optimizer=opt,
               scheduler=schedules.make(train_cfg.schedule, opt, train_cfg.steps), callbacks=callbacks,
               generator=torch.Generator().manual_seed(train_cfg.seed + 1))


def _centred(u: np.ndarray) -> np.ndarray:
    return u - u.mean()


def _solution_span(grad: np.ndarray) -> float:
    """Largest deviation from its mean of the least-squares integral of ``grad (H, W, 2)`` (DCT solve).

    Sets the field's output scale (:mod:`inrkit.scaling`): the network then learns a function of
    order one whatever the units of the gradients.
    """
    from . import discrete

    return float(np.abs(_centred(discrete.integrate_gradient(grad, C.pixel_step(grad.shape[:2])))).max())


OPERATORS = ("analytic", "stencil", "stencil-sobolev")


def check_operator(operator: str, batch_size: int = 0) -> None:
    """Refuse an unknown operator, and a sampled batch for the stencils (they need every pixel each step)."""
    if operator not in OPERATORS:
        raise InrkitError(f"operator must be one of {', '.join(OPERATORS)}, not {operator!r}")
    if operator != "analytic" and batch_size:
        raise InrkitError(f"operator {operator} uses every pixel each step; a batch size of {batch_size} "
                          f"cannot be honoured (leave it at 0)")


def fit_gradient_field(grads: np.ndarray, field_cfg: FieldConfig, train_cfg: TrainConfig,
                       device: torch.device | str = "cpu", values: np.ndarray | None = None,
                       anchor: np.ndarray | None = None, anchor_weight: float | None = None,
                       callbacks=(), max_seconds: float | None = None,
                       operator: str = "analytic") -> tuple[nn.Module, np.ndarray, FitResult]:
    """Fit a field whose gradient matches ``grads (H, W, C, 2)``.

    ``operator="analytic"`` compares the field's autodiff gradient with ``grads``;
    ``operator="stencil"`` takes ``grads`` to be Sobel-filtered (``finite.sobel_gradient``) and
    compares the Sobel filter of the field's grid values with them (:class:`StencilMatch`;
    every pixel every step, no anchors).

    With ``values (H, W, C)`` and a 0/1 ``anchor (H, W)``, values are also matched where
    the anchor is 1, weighted by ``anchor_weight`` (default 1 / hx^2, which makes a value
    error of one unit cost as much as a gradient error of one unit per pixel).
    Returns the field, its values on the grid ``(H, W, C)`` and the fit record.
    """
    check_operator(operator, train_cfg.batch_size)
    h, w, c, _ = grads.shape
    if operator == "stencil-sobolev":
        raise InrkitError("operator stencil-sobolev applies to the Laplacian; use stencil for gradients")
    if operator == "stencil" and anchor is not None:
        raise InrkitError("the stencil operator does not take anchored values")
    field = build_field(field_cfg, 2, c, max(h, w), generator=torch.Generator().manual_seed(train_cfg.seed)).to(device)
    coords = C.grid((h, w), device=device).reshape(-1, 2)
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    extras, weight = {}, 0.0
    if values is not None and anchor is not None:
        extras = {"values": as_t(values.reshape(h * w, c)), "mask": as_t(anchor.reshape(h * w, 1))}
        weight = anchor_weight if anchor_weight is not None else 1.0 / C.pixel_step((h, w))[0] ** 2
    span = max(_solution_span(grads[:, :, k]) for k in range(c))
    if values is not None and anchor is not None:
        span = max(span, float(np.abs(values).max()))
    scale, _ = set_output_range(field, -span, span, centre=False)
    sampler = PointSampler(coords, as_t(grads.reshape(h * w, c, 2)), train_cfg.batch_size, extras, grid=(h, w))
    objective = normalised(StencilMatch("sobel") if operator == "stencil" else GradientMatch(weight), scale)
    result = _train(field, objective, sampler, train_cfg, field_cfg.arch, callbacks, max_seconds)
    pred = evaluate(field, C.grid((h, w)), "value").numpy().astype(np.float64)
    return field, pred, result


def fit_laplacian_field(lap: np.ndarray, field_cfg: FieldConfig, train_cfg: TrainConfig,
                        device: torch.device | str = "cpu", callbacks=(),
                        max_seconds: float | None = None, operator: str = "analytic"
                        ) -> tuple[nn.Module, np.ndarray, FitResult]:
    """Fit a one-channel field whose Laplacian matches ``lap (H, W)``.

    ``operator="analytic"`` compares the field's Laplacian (forward mode where the field allows,
    :class:`LaplacianMatch`) with ``lap``; ``operator="stencil"`` takes ``lap`` to be the 5-point
    Laplacian (``finite.laplacian_5point``) and applies that stencil to the field's grid values;
    ``operator="stencil-sobolev"`` does the same and measures the residual in the H^-1 norm
    (``StencilMatch(precondition=True)``), which on the 64x64 camera reached 87 dB in 300 steps
    where the plain residual had 17 dB after 3,000 (docs/benchmarks.md).
    """
    check_operator(operator, train_cfg.batch_size)
    h, w = lap.shape
    field = build_field(field_cfg, 2, 1, max(h, w), generator=torch.Generator().manual_seed(train_cfg.seed)).to(device)
    coords = C.grid((h, w), device=device).reshape(-1, 2)
    from . import discrete

    span = float(np.abs(_centred(discrete.solve_poisson_neumann(lap, C.pixel_step((h, w))))).max())
    scale, _ = set_output_range(field, -span, span, centre=False)
    targets = torch.as_tensor(lap.reshape(-1, 1), dtype=torch.float32, device=device)
    sampler = PointSampler(coords, targets, train_cfg.batch_size, grid=(h, w))
    if operator == "analytic":
        objective = LaplacianMatch()
    else:
        objective = StencilMatch("laplacian", precondition=operator == "stencil-sobolev")
    objective = normalised(objective, scale)
    result = _train(field, objective, sampler, train_cfg, field_cfg.arch, callbacks, max_seconds)
    pred = evaluate(field, C.grid((h, w)), "value").numpy().astype(np.float64)
    return field, pred, result
