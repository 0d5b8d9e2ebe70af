"""Networks and their building blocks."""

from .layers import SineLayer
from .mlp import MLP, Network, Siren

__all__ = ["Network", "MLP", "Siren", "SineLayer"]
