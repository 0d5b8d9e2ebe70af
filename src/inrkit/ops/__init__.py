"""Differential operators on fields (autodiff), chunked evaluation, and finite differences."""

from . import finite, taylor
from .chunked import DEFAULT_CHUNK, evaluate
from .diff import divergence, gradient, hessian, jacobian, laplacian

__all__ = ["gradient", "jacobian", "divergence", "laplacian", "hessian", "evaluate", "finite", "taylor", "DEFAULT_CHUNK"]
