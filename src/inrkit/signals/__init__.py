"""Signals: what we observe, as coordinates and targets in inrkit's convention."""

from .image import ImageSignal
from .io import BUILTIN_IMAGES, DEFAULT_MAX_PIXELS, load_image, write_png

__all__ = ["ImageSignal", "load_image", "write_png", "BUILTIN_IMAGES", "DEFAULT_MAX_PIXELS"]
