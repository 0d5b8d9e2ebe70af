"""A committed .inrk file decodes to known bytes: the format cannot change silently.

A deliberate format change bumps ``inrkit.codec.format.VERSION`` and regenerates the file with
``INRKIT_REGENERATE_GOLDEN=1 pytest tests/codec/test_golden.py`` (then update the digests below).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from inrkit.codec import compress, decompress, entropy as E, format as FM
from inrkit.codec.coolchic import decoder_model

from codec_helpers import TINY, pattern

GOLDEN = Path(__file__).parent / "data" / "golden.inrk"
FILE_SHA256 = "31b1c2e8e551c9449c7042c78487724fa9a28934353b604e77da4e6cd2f99f52"
SYMBOLS_SHA256 = "210e67a76079d6823d6f45a57e0796887b38bfe7e1d010fbcf1bca3b52a91dad"
PIXELS_SHA256 = "551139552294fa08ee73859c97514ebabe90b37c903b6ff56f89c71e75144028"


def _symbols_digest(c: FM.Container) -> str:
    h = hashlib.sha256()
    _, ys = decoder_model(c)
    for y in ys:
        h.update(y.numpy().astype("<i8").tobytes())
    for t in c.tensors[len(ys):]:
        h.update(E.decode(t.data, t.size, t.r_q, t.lo, t.hi).astype("<i8").tobytes())
    return h.hexdigest()


def test_regenerate_golden_when_asked():
    if os.environ.get("INRKIT_REGENERATE_GOLDEN") != "1":
        return
    r = compress(pattern(16, 16, 3), 0.01, settings=TINY)
    GOLDEN.write_bytes(r.data)
    c = FM.parse(r.data)
    print("\nFILE", hashlib.sha256(r.data).hexdigest(), "\nSYMBOLS", _symbols_digest(c),
          "\nPIXELS", hashlib.sha256(decompress(r.data).tobytes()).hexdigest())


def test_golden_file_decodes_to_known_bytes():
    data = GOLDEN.read_bytes()
    assert len(data) < 4096
    assert hashlib.sha256(data).hexdigest() == FILE_SHA256
    c = FM.parse(data)
    assert (c.codec, c.height, c.width, c.channels, c.colour) == ("coolchic", 16, 16, 3, "rgb")
    assert _symbols_digest(c) == SYMBOLS_SHA256  # integers only: the same on every machine
    img = decompress(data)
    assert img.shape == (16, 16, 3) and img.dtype == np.uint8
    assert hashlib.sha256(img.tobytes()).hexdigest() == PIXELS_SHA256
