"""Signals: what we observe, as coordinates and targets in inrkit's convention."""

from .image import ImageSignal, to_uint8, values_to_pixels
from .io import BUILTIN_IMAGES, DEFAULT_MAX_PIXELS, load_image, write_png

__all__ = ["ImageSignal", "load_image", "write_png", "values_to_pixels", "to_uint8",
           "BUILTIN_IMAGES", "DEFAULT_MAX_PIXELS"]
