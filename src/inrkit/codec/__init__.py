"""INRs as compression: a real codec with a real file (``.inrk``).

- :mod:`.format`: the container (magic, version, CRC32, header, limits checked before allocating);
- :mod:`.entropy`: range coding (constriction) of integer tensors under discrete Laplace models
  whose tables are rebuilt from integers;
- :mod:`.coolchic`: the Cool-chic-like codec (latent grids + a tiny synthesis MLP, Ladune et al. 2023);
- :mod:`.coin`: the didactic COIN mode (a SIREN's quantised weights, Dupont et al. 2021);
- :mod:`.bd`: Bjontegaard deltas; :mod:`.bench`: the rate-distortion benchmark against JPEG and WebP.

The rate is always the file's: ``bpp = 8 * len(file) / pixels``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InrkitError
from .format import Container, parse, serialise

CODEC_NAMES = ("coolchic", "coin")

LAMBDA_RANGE = (2e-4, 4e-2)
"""``--quality 100`` maps to the lower lambda, ``--quality 1`` to the upper one (log-linearly)."""


def quality_to_lambda(quality: int) -> float:
    """``quality`` in 1..100 -> lambda, log-linearly over :data:`LAMBDA_RANGE` (100 = best)."""
    if not 1 <= quality <= 100:
        raise InrkitError(f"quality must be in 1..100, not {quality}")
    lo, hi = LAMBDA_RANGE
    return math.exp(math.log(hi) + (math.log(lo) - math.log(hi)) * (quality - 1) / 99.0)


@dataclass
class Compressed:
    """The file's bytes, the decoder's exact uint8 reconstruction ``(H, W, C)`` and a record."""

    data: bytes
    image: np.ndarray
    info: dict

    @property
    def bpp(self) -> float:
        h, w = self.image.shape[:2]
        return 8.0 * len(self.data) / (h * w)


def compress(signal, lmbda: float, codec: str = "coolchic", preset: str = "fast", progress: bool = False,
             settings=None) -> Compressed:
    """Encode an :class:`~inrkit.signals.ImageSignal` (gray or RGB) at rate-distortion trade-off ``lmbda``."""
    if not (lmbda > 0 and math.isfinite(lmbda)):
        raise InrkitError(f"lambda must be a positive number, not {lmbda}")
    if signal.channels not in (1, 3):
        raise InrkitError(f"the codec takes gray or RGB images, not {signal.channels} channels (drop the alpha "
                          f"channel)")
    if codec == "coolchic":
        from . import coolchic

        if settings is None:
            if preset not in coolchic.PRESETS:
                raise InrkitError(f"unknown preset {preset!r}; choose one of {', '.join(coolchic.PRESETS)}")
            settings = coolchic.PRESETS[preset]
        c, img, info = coolchic.encode(signal, lmbda, settings, progress)
    elif codec == "coin":
        from . import coin

        c, img, info = coin.encode(signal, lmbda, settings or coin.CoinSettings(), progress)
    else:
        raise InrkitError(f"unknown codec {codec!r}; choose one of {', '.join(CODEC_NAMES)}")
    data = serialise(c)
    return Compressed(data, img, dict(info, codec=codec, lmbda=lmbda, bytes=len(data)))


def decode_container(c: Container, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 ``(H, W, C)`` of a parsed container, at its own size or ``size = (W, H)``."""
    if c.codec == "coolchic":
        from . import coolchic

        return coolchic.decode(c, size)
    from . import coin

    return coin.decode(c, size)


def decompress(data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a ``.inrk`` file's bytes (checked first; see :func:`.format.parse`)."""
    return decode_container(parse(data), size)


__all__ = ["CODEC_NAMES", "Compressed", "Container", "compress", "decode_container", "decompress", "parse",
           "quality_to_lambda", "serialise"]
