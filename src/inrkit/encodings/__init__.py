"""Encodings: pointwise maps of coordinates to features."""

from .modules import Encoding, GaussianFourierFeatures, Identity, PositionalEncoding

__all__ = ["Encoding", "Identity", "PositionalEncoding", "GaussianFourierFeatures"]

from .grid import DenseGrid, MultiresGrid  # noqa: E402

__all__ += ["MultiresGrid", "DenseGrid"]
