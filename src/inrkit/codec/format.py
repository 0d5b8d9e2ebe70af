"""The ``.inrk`` container: one compressed image, readable from its own bytes alone.

Layout (all integers little-endian; ``varint`` is unsigned LEB128, ``svarint`` its zigzag form)::

    "INRK"                     magic, 4 bytes
    version                    u8 (this module writes and reads VERSION; a newer one is refused)
    body_length                varint
    body                       body_length bytes
    crc32                      u32, zlib.crc32 of every byte before it (magic .. body)

    body:
      codec u8 (CODECS)  colour u8 (COLOURS)  height varint  width varint  channels varint
      n_params varint, params varint * n_params          codec-specific small integers
      n_tensors varint, then per tensor:
        ndim u8, shape varint * ndim
        step u16                 quantisation step as float16 bits (value = symbol * step)
        lo svarint, hi svarint   the tensor's actual symbol range (the coder's alphabet)
        context u8               0: one Laplace model; 1: classes from the coarser grid (entropy.py)
        n_classes varint, r_q u16 * n_classes   each class's Laplace decay in 1/65536 units
        n_bytes varint, payload n_bytes          the range coder's words (u32, little-endian)

Every number the decoder needs is an integer or float16 bits from this header: the
probability tables are rebuilt from ``r_q`` in integer arithmetic (:mod:`.entropy`), so the
bitstream never depends on the last bits of a float computation.

:func:`parse` checks, in this order and before allocating anything sized by the file: the
length, the magic, the version, that the body fits the file exactly (truncation), the CRC,
then every count and shape against the limits below. Bad input raises
:class:`~inrkit.errors.InrkitError` with one line.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import InrkitError

MAGIC = b"INRK"
VERSION = 1
"""Bumped on any change of the layout or of how the decoder reads it (the golden test guards this)."""

CODECS = {0: "coin", 1: "coolchic"}
COLOURS = {0: "gray", 1: "rgb"}

MAX_FILE_BYTES = 1 << 28
"""A file larger than 256 MiB is not read."""
MAX_PIXELS = 1 << 26
"""The stored image size is refused above 64 M pixels (rendering at another size has its own limit)."""
MAX_TENSORS = 64
MAX_NDIM = 4
MAX_ELEMENTS = 1 << 24
"""At most 16 M symbols over all tensors of a file."""
MAX_ALPHABET = 1 << 16
"""A tensor's symbol range hi - lo + 1; quantised latents and weights use a few hundred."""
MAX_CLASSES = 32
MAX_TABLE = 1 << 22
"""The sum over tensors of classes x alphabet (the probability tables the decoder builds)."""
MAX_PARAMS = 64


@dataclass
class TensorRecord:
    """One entropy-coded integer tensor and what its decoder needs."""

    shape: tuple[int, ...]
    step: int  # float16 bits of the quantisation step
    lo: int
    hi: int
    context: int  # 0 factorised, 1 classes from the coarser grid
    r_q: tuple[int, ...]  # per class: Laplace decay r = r_q / 65536
    data: bytes

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def step_value(self) -> float:
        return float(np.array([self.step], dtype=np.uint16).view(np.float16)[0])


@dataclass
class Container:
    """What a ``.inrk`` file holds: the image's size and colour space, the codec's
    architecture as small integers (``params``) and its coded tensors."""

    codec: str
    height: int
    width: int
    channels: int
    colour: str
    params: tuple[int, ...] = ()
    tensors: list[TensorRecord] = field(default_factory=list)


def float16_bits(x: float) -> int:
    """The float16 nearest ``x``, as its 16 bits (finite, positive steps only are stored)."""
    v = np.array([x], dtype=np.float16)
    if not np.isfinite(v[0]):
        raise InrkitError(f"value {x} does not fit a float16")
    return int(v.view(np.uint16)[0])


def float16_value(bits: int) -> float:
    return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])


# ---- writing ---------------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"varint of a negative number {n}")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _svarint(n: int) -> bytes:
    return _varint((n << 1) if n >= 0 else ((-n) << 1) - 1)


def serialise(c: Container) -> bytes:
    """The file's bytes (checked against the same limits the parser applies)."""
    codec = {v: k for k, v in CODECS.items()}[c.codec]
    colour = {v: k for k, v in COLOURS.items()}[c.colour]
    body = bytearray([codec, colour])
    body += _varint(c.height) + _varint(c.width) + _varint(c.channels)
    body += _varint(len(c.params)) + b"".join(_varint(p) for p in c.params)
    body += _varint(len(c.tensors))
    for t in c.tensors:
        body += bytes([len(t.shape)]) + b"".join(_varint(s) for s in t.shape)
        body += struct.pack("<H", t.step) + _svarint(t.lo) + _svarint(t.hi) + bytes([t.context])
        body += _varint(len(t.r_q)) + b"".join(struct.pack("<H", r) for r in t.r_q)
        body += _varint(len(t.data)) + t.data
    head = MAGIC + bytes([VERSION]) + _varint(len(body))
    data = head + bytes(body)
    data += struct.pack("<I", zlib.crc32(data))
    parse(data)  # the writer never produces a file its reader refuses
    return data


# ---- reading ---------------------------------------------------------------------------------

class _Reader:
    """Bounded reads: running past the end is a truncated file, never an IndexError."""

    def __init__(self, data: bytes, start: int, end: int):
        self.data, self.pos, self.end = data, start, end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise InrkitError(f"corrupt .inrk file: its {what} runs past the end of the header")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(out)

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack("<H", self.take(2, what))[0]

    def varint(self, what: str, limit: int) -> int:
        n = shift = 0
        while True:
            b = self.u8(what)
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift > 63:
                raise InrkitError(f"corrupt .inrk file: its {what} is not a valid number")
        if n > limit:
            raise InrkitError(f"corrupt .inrk file: its {what} ({n}) is above the limit of {limit}")
        return n

    def svarint(self, what: str, limit: int) -> int:
        z = self.varint(what, 2 * limit + 1)
        return (z >> 1) if not z & 1 else -((z + 1) >> 1)


def parse(data: bytes) -> Container:
    """Check and read a ``.inrk`` file's bytes (see the module docstring for the order of checks)."""
    n = len(data)
    if n > MAX_FILE_BYTES:
        raise InrkitError(f"file is {n} bytes, above the limit of {MAX_FILE_BYTES} for a .inrk file")
    if n < 4 or bytes(data[:4]) != MAGIC:
        raise InrkitError("not a .inrk file (wrong magic bytes)")
    if n < 5:
        raise InrkitError("truncated .inrk file: it ends inside the header")
    version = data[4]
    if version > VERSION:
        raise InrkitError(f".inrk format version {version} is newer than this inrkit reads ({VERSION}); "
                          f"upgrade inrkit")
    if version < 1:
        raise InrkitError(f"unknown .inrk format version {version}")
    head = _Reader(data, 5, n)
    try:
        body_len = head.varint("body length", MAX_FILE_BYTES)
    except InrkitError:
        raise InrkitError("truncated .inrk file: it ends inside the header") from None
    start = head.pos
    if start + body_len + 4 > n:
        raise InrkitError(f"truncated .inrk file: {n} bytes where its header says {start + body_len + 4}")
    if start + body_len + 4 < n:
        raise InrkitError(f"corrupt .inrk file: {n - start - body_len - 4} bytes after its end")
    stored = struct.unpack("<I", bytes(data[start + body_len:]))[0]
    if zlib.crc32(bytes(data[:start + body_len])) != stored:
        raise InrkitError("corrupt .inrk file: CRC32 mismatch (the file was damaged)")
    r = _Reader(data, start, start + body_len)
    codec, colour = r.u8("codec"), r.u8("colour space")
    if codec not in CODECS:
        raise InrkitError(f"corrupt .inrk file: unknown codec {codec}")
    if colour not in COLOURS:
        raise InrkitError(f"corrupt .inrk file: unknown colour space {colour}")
    h, w = r.varint("height", MAX_PIXELS), r.varint("width", MAX_PIXELS)
    ch = r.varint("channel count", 4)
    if h < 1 or w < 1 or h * w > MAX_PIXELS:
        raise InrkitError(f"corrupt .inrk file: image size {w}x{h} is outside 1..{MAX_PIXELS} pixels")
    if ch != (1 if COLOURS[colour] == "gray" else 3):
        raise InrkitError(f"corrupt .inrk file: {ch} channels for colour space {COLOURS[colour]}")
    params = tuple(r.varint("parameter", 1 << 32) for _ in range(r.varint("parameter count", MAX_PARAMS)))
    tensors: list[TensorRecord] = []
    elements = table = 0
    for i in range(r.varint("tensor count", MAX_TENSORS)):
        ndim = r.u8(f"tensor {i} rank")
        if not 1 <= ndim <= MAX_NDIM:
            raise InrkitError(f"corrupt .inrk file: tensor {i} has rank {ndim}")
        shape = tuple(r.varint(f"tensor {i} shape", MAX_ELEMENTS) for _ in range(ndim))
        size = math.prod(shape)
        elements += size
        if elements > MAX_ELEMENTS:
            raise InrkitError(f"corrupt .inrk file: its tensors hold more than {MAX_ELEMENTS} values; refusing "
                              f"to allocate them")
        step = r.u16(f"tensor {i} step")
        sv = float16_value(step)
        if not (math.isfinite(sv) and sv > 0):
            raise InrkitError(f"corrupt .inrk file: tensor {i} has step {sv}")
        lo = r.svarint(f"tensor {i} symbol range", MAX_ALPHABET)
        hi = r.svarint(f"tensor {i} symbol range", MAX_ALPHABET)
        if not lo <= hi or hi - lo + 1 > MAX_ALPHABET:
            raise InrkitError(f"corrupt .inrk file: tensor {i} has symbol range [{lo}, {hi}]")
        context = r.u8(f"tensor {i} context")
        if context not in (0, 1):
            raise InrkitError(f"corrupt .inrk file: tensor {i} has unknown context model {context}")
        k = r.varint(f"tensor {i} class count", MAX_CLASSES)
        if k < 1 or (context == 0 and k != 1):
            raise InrkitError(f"corrupt .inrk file: tensor {i} has {k} probability classes")
        table += k * (hi - lo + 1)
        if table > MAX_TABLE:
            raise InrkitError(f"corrupt .inrk file: its probability tables exceed {MAX_TABLE} entries")
        r_q = tuple(r.u16(f"tensor {i} model") for _ in range(k))
        nbytes = r.varint(f"tensor {i} payload length", MAX_FILE_BYTES)
        if nbytes % 4:
            raise InrkitError(f"corrupt .inrk file: tensor {i} payload is not whole 32-bit words")
        tensors.append(TensorRecord(shape, step, lo, hi, context, r_q, r.take(nbytes, f"tensor {i} payload")))
    if r.pos != r.end:
        raise InrkitError(f"corrupt .inrk file: {r.end - r.pos} unread bytes in its body")
    return Container(CODECS[codec], h, w, ch, COLOURS[colour], params, tensors)


def read(path) -> Container:
    """Read and check a ``.inrk`` file (its size is checked before it is read)."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise InrkitError(f"no such file: {p}")
    if not p.is_file():
        raise InrkitError(f"{p} is not a regular file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise InrkitError(f"{p} is {p.stat().st_size} bytes, above the limit of {MAX_FILE_BYTES} for a .inrk file")
    return parse(p.read_bytes())
