"""Training: the one loop, its callbacks, schedules, progress display and checkpoints."""

from . import checkpoint, schedules
from .fit import Callback, FitResult, FitState, fit
from .progress import Progress

__all__ = ["fit", "FitResult", "FitState", "Callback", "Progress", "checkpoint", "schedules"]
