"""Fields: Encoding + Network."""

from .base import Field, NeuralField, num_parameters

__all__ = ["Field", "NeuralField", "num_parameters"]
