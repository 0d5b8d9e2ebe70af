"""Resource limits: what one run may ask for, checked from the numbers before anything is allocated.

Each is an environment variable so that one setting reaches every command and library call
(layer 0: signals, configuration and the command line all check against the same limits)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import InrkitError


@dataclass(frozen=True)
class ResourceLimit:
    """A limit on what one run may ask for, checked from the numbers before anything is
    allocated. The default can be raised (or lowered) with the environment variable ``env``:
    one setting reaches every command and library call that builds such a thing, without a
    flag on each command or a parameter threaded through every workflow."""

    env: str
    default: int
    what: str  # "numbers in a field", ...

    def value(self) -> int:
        text = os.environ.get(self.env, "").strip().replace("_", "")
        if not text:
            return self.default
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and v >= 1 and v == int(v)):
            raise InrkitError(f"environment variable {self.env} must be a positive whole number, not {text!r}")
        return int(v)

    def check(self, n: int, subject: str) -> None:
        """Refuse ``n`` above the limit with one line that says how to raise it."""
        limit = self.value()
        if n > limit:
            raise InrkitError(f"{subject} has {n:,} {self.what}, above the limit of {limit:,} "
                              f"(set the environment variable {self.env} to raise it)")


MAX_PARAMETERS = ResourceLimit("INRKIT_MAX_PARAMETERS", 2**27, "numbers (parameters and encoding tables)")
"""2^27 numbers (512 MiB in float32) per field: about 80 times the largest paper recipe here
(the hash grid's 16 levels of 2^18 x 2 entries)."""
MAX_BATCH = ResourceLimit("INRKIT_MAX_BATCH", 2**24, "points per step")
"""Random points (pixels, items) drawn per optimisation step."""
MAX_RAYS = ResourceLimit("INRKIT_MAX_RAYS", 2**18, "rays per step")
"""NeRF rays per step: 64 times the vanilla recipe's 4,096 (each ray carries up to 256 samples)."""
MAX_VIEWS = ResourceLimit("INRKIT_MAX_VIEWS", 10_000, "views")
"""Camera views written (``nerf scene``) or rendered (orbit frames) by one command."""
MAX_ARRAY_PIXELS = ResourceLimit("INRKIT_MAX_ARRAY_PIXELS", 50_000_000, "pixels")
"""Pixels of an array read from a ``.npy`` file (``integrate``'s gradient fields), checked from
its header before it is read: the same 50 million as an image file's default limit."""
MAX_DATASET_PIXELS = ResourceLimit("INRKIT_MAX_DATASET_PIXELS", 2**28, "pixels")
"""Pixels of all the frames of one NeRF split together (2^28: 4 GiB as float32 RGBA; the Blender
scenes' 100 training views at 800x800 are 64 million), counted from the first frame's header
before any frame is decoded."""
MAX_PIXELS_PER_BYTE = ResourceLimit("INRKIT_MAX_PIXELS_PER_BYTE", 16_384, "pixels per byte of file")
"""Images above a megapixel whose header declares more pixels per byte of file than this are
refused before decoding. The densest real files stay well below: deflate (PNG) compresses at most
1032:1, so a 1-bit PNG holds at most about 8,300 pixels per byte, a baseline JPEG of one flat colour
about 250; a damaged or hostile header that declares millions of pixels in a few hundred bytes (a
773-byte JPEG declaring 56107x255, which libjpeg fills in: 2.6 s and 370 MB) exceeds it.
Progressive JPEGs of flat images can be denser: raise the variable."""
LIMITS = (MAX_PARAMETERS, MAX_BATCH, MAX_RAYS, MAX_VIEWS, MAX_ARRAY_PIXELS, MAX_DATASET_PIXELS, MAX_PIXELS_PER_BYTE)
