"""Gradient-domain processing: Poisson reconstruction, blending, integrating gradient fields."""

from .discrete import integrate_gradient, poisson_blend, solve_poisson_neumann
from .gradient_domain import fit_gradient_field, fit_laplacian_field, image_gradients, remove_constant

__all__ = ["fit_gradient_field", "fit_laplacian_field", "image_gradients", "remove_constant",
           "integrate_gradient", "poisson_blend", "solve_poisson_neumann"]
