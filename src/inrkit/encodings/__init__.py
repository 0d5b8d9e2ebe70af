"""Encodings: pointwise maps of coordinates to features."""

from .modules import Encoding, GaussianFourierFeatures, Identity, PositionalEncoding

__all__ = ["Encoding", "Identity", "PositionalEncoding", "GaussianFourierFeatures"]
