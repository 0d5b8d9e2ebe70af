"""Fields: Encoding + Network, and the registry that rebuilds them from their specs."""

from .base import Field, NeuralField, num_parameters
from .modulated import LatentModulatedField
from .registry import build_field_from_spec

__all__ = ["Field", "NeuralField", "LatentModulatedField", "num_parameters", "build_field_from_spec"]
