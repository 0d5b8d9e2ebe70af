"""Training: the loop and checkpoints."""

from . import checkpoint
from .fit import FitResult, fit

__all__ = ["fit", "FitResult", "checkpoint"]
