"""Fuzzing every loader of a user's file: seed files, mutators, and one guarded call per case.

Used by ``tests/fuzz/test_loaders_property.py`` (hypothesis, small budget) and
``benchmarks/fuzz_loaders.py`` (the long campaign). The property of each case: the loader
returns, or raises :class:`inrkit.errors.InrkitError` with one line; within 2 s; its peak RSS
grows by at most 100 MiB; and it opens nothing outside the case's folder (Python's audit hook
sees every ``open``), so nothing is read from or written to the ``outside/`` folder beside it,
``/dev`` or ``/proc``, and no pickle is ever run (a pickled payload would open a file for
writing).

Each loader is a :class:`Target`: ``setup(root)`` writes its seed files once, ``case(rng,
case_dir)`` writes one mutated input into ``case_dir`` and returns the call to make.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import random
import resource
import shutil
import signal
import struct
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its warnings about broken files are not results

from inrkit.errors import InrkitError

TIME_LIMIT_S = 2.0
MEMORY_LIMIT_KB = 100 * 1024
HARD_TIMEOUT_S = 10.0  # a case still running after this is interrupted (and counted as a hang)
ADDRESS_SPACE_HEADROOM = 2 << 30  # a case may not map more than this beyond what the process had


# ---- the guarded call -----------------------------------------------------------------------------------

class CaseTimeout(BaseException):
    """Raised by the alarm in a case that runs past HARD_TIMEOUT_S (a BaseException: loaders'
    ``except Exception`` cannot swallow it)."""


_opens: list[tuple] = []
_recording = False
_hook_installed = False


def _audit(event, args):
    if _recording and event == "open":
        _opens.append(args[:3])


def _install_hook() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (Linux >= 4.0)
        return True
    except OSError:
        return False


_ALLOWED_READ_ROOTS = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr")})


def _outside(opens: list[tuple], inside: Path) -> list[str]:
    """The opens that left ``inside``: writes anywhere else, reads other than Python's own files."""
    bad = []
    root = os.path.realpath(inside)
    for path, mode, flags in opens:
        if isinstance(path, int):
            continue
        p = os.fsdecode(path)
        real = os.path.realpath(p)
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
        if real == root or real.startswith(root + os.sep):
            continue
        if not writing and real.startswith(_ALLOWED_READ_ROOTS):
            continue
        bad.append(f"{'wrote' if writing else 'read'} {p}")
    return bad


@dataclass
class Outcome:
    kind: str  # accepted | refused | uncaught | multiline | hang
    seconds: float
    peak_kb: int  # peak-RSS growth during the case
    message: str = ""
    traceback: str = ""
    outside: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return (self.kind in ("accepted", "refused") and self.seconds <= TIME_LIMIT_S
                and self.peak_kb <= MEMORY_LIMIT_KB and not self.outside)

    def describe(self) -> str:
        return (f"{self.kind} in {self.seconds:.2f} s, peak RSS +{self.peak_kb / 1024:.1f} MiB"
                + (f", outside the folder: {self.outside[:3]}" if self.outside else "")
                + (f": {self.message}" if self.message else "") + (f"\n{self.traceback}" if self.traceback else ""))


def guarded(call: Callable[[], object], inside: Path) -> Outcome:
    """Run ``call()`` once under a time alarm and an address-space cap, measuring its peak RSS
    growth and recording every file it opens."""
    global _recording
    _install_hook()
    per_case_peak = _reset_peak()
    rss0 = _status_kb("VmRSS")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _status_kb("VmSize") * 1024 + ADDRESS_SPACE_HEADROOM
    if hard == resource.RLIM_INFINITY or cap < hard:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    fired = []

    def alarm(signum, frame):
        fired.append(True)
        if _recording:  # never in the bookkeeping around the call
            raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HARD_TIMEOUT_S)
    _opens.clear()
    kind, message, tb = "accepted", "", ""
    t0 = time.perf_counter()
    error = None
    _recording = True
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - classified below, once recording has stopped
        error = exc
    finally:
        _recording = False
        seconds = time.perf_counter() - t0
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    peak = (_status_kb("VmHWM") - rss0) if per_case_peak else 0
    if isinstance(error, CaseTimeout) or (fired and error is None):
        kind = "hang"
    elif isinstance(error, InrkitError):
        message = str(error)
        kind = "multiline" if "\n" in message else "refused"
    elif error is not None:  # what escapes is the finding
        kind, message = "uncaught", f"{type(error).__name__}: {str(error)[:300]}"
        tb = "".join(traceback.format_exception(error))
    del error
    return Outcome(kind, seconds, max(0, peak), message, tb, _outside(list(_opens), inside))


# ---- generic mutators -----------------------------------------------------------------------------------

def flip_bytes(b: bytes, rng: random.Random, most: int = 8) -> bytes:
    if not b:
        return b
    out = bytearray(b)
    for _ in range(rng.randint(1, most)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def mutate_bytes(b: bytes, rng: random.Random) -> bytes:
    if len(b) < 2:
        return b + os.urandom(rng.randrange(1, 16))
    op = rng.randrange(6)
    if op == 0:
        return b[: rng.randrange(len(b))]
    if op == 1:
        return flip_bytes(b, rng)
    if op == 2:
        i = rng.randrange(len(b))
        return b[:i] + bytes(rng.randrange(1, 64)) + b[i:]
    if op == 3:
        return b + os.urandom(rng.randrange(1, 200)) if rng.random() < 0.5 else b * 2
    if op == 4:
        i = rng.randrange(len(b))
        return b[:i] + b"\x00" * rng.randrange(1, 32) + b[i + 32:]
    return flip_bytes(b[: max(8, rng.randrange(len(b)))], rng, 3)


HUGE = [0, 1, 2, 3, 255, 256, 7071, 65535, 65536, 100_000, 2**31 - 1, 2**31, 2**32 - 1]


def _huge(rng: random.Random) -> int:
    return rng.choice(HUGE) if rng.random() < 0.8 else rng.randrange(2**32)


# ---- images ---------------------------------------------------------------------------------------------

def _png_chunks(b: bytes) -> list[list]:
    out, i = [], 8
    while i + 8 <= len(b):
        n = int.from_bytes(b[i:i + 4], "big")
        out.append([b[i + 4:i + 8], b[i + 8:i + 8 + n]])
        i += 12 + n
    return out


def _png_join(chunks: list[list], crc_ok: bool = True) -> bytes:
    body = b""
    for typ, data in chunks:
        crc = zlib.crc32(typ + data) if crc_ok else 0xDEADBEEF
        body += len(data).to_bytes(4, "big") + typ + data + crc.to_bytes(4, "big")
    return b"\x89PNG\r\n\x1a\n" + body


def mutate_png(b: bytes, rng: random.Random) -> bytes:
    chunks = _png_chunks(b)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        return mutate_bytes(b, rng)
    ihdr = bytearray(chunks[0][1])
    op = rng.randrange(6)
    if op == 0:  # huge declared dimensions
        struct.pack_into(">II", ihdr, 0, _huge(rng) if rng.random() < 0.7 else struct.unpack_from(">I", ihdr, 0)[0],
                         _huge(rng))
    elif op == 1:  # another mode: bit depth, colour type
        ihdr[8] = rng.choice([1, 2, 4, 8, 16, 3, 0, 32])
        ihdr[9] = rng.choice([0, 2, 3, 4, 6, 1, 5, 7])
    elif op == 2:  # interlace, compression, filter
        ihdr[10 + rng.randrange(3)] = rng.randrange(3)
    elif op == 3:  # an extra chunk: EXIF orientation, tRNS, text, a palette
        kind = rng.randrange(4)
        if kind == 0:
            exif = b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01" + \
                rng.randrange(65536).to_bytes(2, "big") + b"\x00\x00\x00\x00\x00\x00"
            chunks.insert(1, [b"eXIf", exif if rng.random() < 0.7 else exif[: rng.randrange(len(exif))]])
        elif kind == 1:
            chunks.insert(1, [b"tRNS", os.urandom(rng.choice([0, 1, 2, 6, 255, 300]))])
        elif kind == 2:
            chunks.insert(1, [b"zTXt", b"k\x00\x00" + zlib.compress(b"\x00" * rng.choice([10, 10**6, 10**7]))])
        else:
            chunks.insert(1, [b"PLTE", os.urandom(3 * rng.choice([0, 1, 2, 256, 300]))])
    elif op == 4:  # the pixel data: a decompression bomb, cut or duplicated
        idat = [c for c in chunks if c[0] == b"IDAT"]
        if idat:
            c = rng.choice(idat)
            r = rng.random()
            c[1] = (zlib.compress(b"\x00" * rng.choice([10**6, 3 * 10**7])) if r < 0.3
                    else c[1][: rng.randrange(len(c[1]) + 1)] if r < 0.7 else c[1] * 2)
    else:
        chunks = [c for c in chunks if rng.random() < 0.8 or c[0] == b"IHDR"]
    chunks[0][1] = bytes(ihdr)
    return _png_join(chunks, crc_ok=rng.random() < 0.8)


def mutate_jpeg(b: bytes, rng: random.Random) -> bytes:
    out = bytearray(b)
    sof = [i for i in range(len(b) - 9) if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC1, 0xC2)]
    if not sof or rng.random() < 0.3:
        return mutate_bytes(b, rng)
    i = sof[0]
    op = rng.randrange(3)
    if op == 0:  # huge declared dimensions
        struct.pack_into(">HH", out, i + 5, _huge(rng) & 0xFFFF, _huge(rng) & 0xFFFF)
    elif op == 1:  # another number of components or precision
        out[i + 9] = rng.choice([0, 1, 2, 3, 4, 5, 255])
        if rng.random() < 0.3:
            out[i + 4] = rng.choice([8, 12, 16, 0])
    else:
        return bytes(out[: rng.randrange(i, len(out))])
    return bytes(out)


def mutate_tiff(b: bytes, rng: random.Random) -> bytes:
    if b[:4] != b"II*\x00":
        return mutate_bytes(b, rng)
    out = bytearray(b)
    ifd = int.from_bytes(b[4:8], "little")
    if ifd + 2 > len(b):
        return mutate_bytes(b, rng)
    n = int.from_bytes(b[ifd:ifd + 2], "little")
    entries = [ifd + 2 + 12 * k for k in range(n) if ifd + 14 + 12 * k <= len(b)]
    tags = {int.from_bytes(b[e:e + 2], "little"): e for e in entries}
    op = rng.randrange(4)
    if op == 0 and (256 in tags or 257 in tags):  # width / length
        for t in (256, 257):
            if t in tags and rng.random() < 0.8:
                e = tags[t]
                out[e + 2:e + 4] = (4).to_bytes(2, "little")
                out[e + 8:e + 12] = _huge(rng).to_bytes(4, "little")
    elif op == 1 and (258 in tags or 277 in tags or 339 in tags):  # bits, samples, sample format
        e = tags[rng.choice([t for t in (258, 277, 339) if t in tags])]
        out[e + 4:e + 8] = (1).to_bytes(4, "little")
        out[e + 8:e + 12] = rng.choice([0, 1, 2, 3, 4, 7, 16, 32, 64, 255, 65535]).to_bytes(4, "little")
    elif op == 2 and tags:  # any entry's count or value
        e = rng.choice(list(tags.values()))
        out[e + 4 + 4 * rng.randrange(2):e + 8 + 4 * rng.randrange(2)] = _huge(rng).to_bytes(4, "little")
    else:
        return mutate_bytes(b, rng)
    return bytes(out)


def mutate_header_dims(b: bytes, rng: random.Random, fmt: str) -> bytes:
    out = bytearray(b)
    if fmt == "bmp" and len(b) >= 30:
        struct.pack_into("<ii", out, 18, rng.choice([-1, 0, -(2**31), 2**31 - 1, 65536, 8, -8]), rng.choice([-1, 0, -(2**31), 2**31 - 1, 65536, -8]))
        if rng.random() < 0.3:
            struct.pack_into("<H", out, 28, rng.choice([0, 1, 4, 8, 16, 24, 32, 64]))
    elif fmt == "gif" and len(b) >= 10:
        struct.pack_into("<HH", out, 6, _huge(rng) & 0xFFFF, _huge(rng) & 0xFFFF)
    else:
        return mutate_bytes(b, rng)
    return bytes(out)


def image_seeds() -> dict[str, bytes]:
    """Small images in every format and mode the decoder treats differently."""
    from PIL import Image

    rs = np.random.default_rng(0)
    rgb = rs.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, rs.integers(0, 256, (12, 16, 1), dtype=np.uint8)], -1)
    seeds: dict[str, bytes] = {}

    def save(name, im, fmt, **kw):
        buf = io.BytesIO()
        im.save(buf, format=fmt, **kw)
        seeds[name] = buf.getvalue()

    save("rgb.png", Image.fromarray(rgb), "PNG")
    save("rgba.png", Image.fromarray(rgba), "PNG")
    save("l.png", Image.fromarray(rgb[..., 0]), "PNG")
    save("la.png", Image.fromarray(rgba[..., [0, 3]], "LA"), "PNG")
    save("p_trns.png", Image.fromarray(rgb).convert("P"), "PNG", transparency=3)
    save("bilevel.png", Image.fromarray(rgb[..., 0] > 128), "PNG")
    save("i16.png", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), "PNG")
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif6.png", Image.fromarray(rgb), "PNG", exif=exif)
    save("rgb.jpg", Image.fromarray(rgb), "JPEG")
    save("l.jpg", Image.fromarray(rgb[..., 0]), "JPEG")
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), "JPEG")
    save("exif8.jpg", Image.fromarray(rgb), "JPEG", exif=_exif(8))
    save("progressive.jpg", Image.fromarray(rgb), "JPEG", progressive=True)
    save("rgb.tif", Image.fromarray(rgb), "TIFF")
    save("i16.tif", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), "TIFF")
    save("float.tif", Image.fromarray(rs.random((12, 16)).astype(np.float32)), "TIFF")
    save("rgb.bmp", Image.fromarray(rgb), "BMP")
    save("p.gif", Image.fromarray(rgb).convert("P"), "GIF")
    save("rgb.webp", Image.fromarray(rgb), "WEBP")
    try:
        import png

        buf = io.BytesIO()
        png.Writer(16, 12, greyscale=True, alpha=True, bitdepth=16).write(
            buf, (rgba[..., [0, 3]].astype(np.uint16) * 257).reshape(12, -1).tolist())
        seeds["la16.png"] = buf.getvalue()
    except ImportError:
        pass
    return seeds


def _exif(orientation: int) -> bytes:
    from PIL import Image

    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def mutate_image(name: str, b: bytes, rng: random.Random, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    """A mutated copy of seed ``name``: truncation, flipped bytes, huge declared dimensions, other
    modes; sometimes under another extension or spliced with another seed."""
    ext = name.rsplit(".", 1)[1]
    r = rng.random()
    if r < 0.08:
        out = b[: rng.randrange(len(b))] + rng.choice(list(seeds.values()))
    elif r < 0.4:
        out = mutate_bytes(b, rng)
    elif ext == "png":
        out = mutate_png(b, rng)
    elif ext == "jpg":
        out = mutate_jpeg(b, rng)
    elif ext == "tif":
        out = mutate_tiff(b, rng)
    else:
        out = mutate_header_dims(b, rng, ext)
    if rng.random() < 0.3:  # a second mutation
        out = mutate_bytes(out, rng) if rng.random() < 0.5 else out
    if rng.random() < 0.1:
        ext = rng.choice(["png", "jpg", "tif", "bmp", "gif", "webp", "npy", "txt", "exr", ""])
    return ("img." + ext) if ext else "img", out


# ---- .npy gradient arrays -------------------------------------------------------------------------------

PICKLE_CANARY = "pickled.txt"


def npy_seeds() -> dict[str, bytes]:
    rs = np.random.default_rng(1)
    seeds = {}

    def save(name, a, version=None):
        buf = io.BytesIO()
        if version is None:
            np.save(buf, a, allow_pickle=a.dtype.hasobject)
        else:
            from numpy.lib import format as npy

            npy.write_array(buf, a, version=version, allow_pickle=a.dtype.hasobject)
        seeds[name] = buf.getvalue()

    save("g_f32", rs.standard_normal((9, 7, 2)).astype(np.float32))
    save("g_f64", rs.standard_normal((6, 5, 2)))
    save("g_i16", rs.integers(-5, 5, (5, 6, 2)).astype(np.int16))
    save("g_fortran", np.asfortranarray(rs.standard_normal((6, 5, 2))))
    save("g_v2", rs.standard_normal((5, 5, 2)).astype(np.float32), version=(2, 0))
    save("gx", rs.standard_normal((6, 5)).astype(np.float32))
    save("g_obj", np.array([[{"a": 1}, None]], dtype=object))
    return seeds


def _npy_split(b: bytes) -> tuple[bytes, str, bytes]:
    """(magic + version, header text, data)."""
    major = b[6] if len(b) > 6 else 1
    if major == 1:
        n = int.from_bytes(b[8:10], "little")
        return b[:8], b[10:10 + n].decode("latin-1"), b[10 + n:]
    n = int.from_bytes(b[8:12], "little")
    return b[:8], b[12:12 + n].decode("latin-1"), b[12 + n:]


def _npy_join(magic: bytes, header: str, data: bytes, rng: random.Random) -> bytes:
    h = header.encode("latin-1")
    if rng.random() < 0.7:  # pad to 64 bytes as numpy does
        pad = -(len(magic) + (2 if magic[6:7] == b"\x01" else 4) + len(h) + 1) % 64
        h = h + b" " * pad + b"\n"
    if rng.random() < 0.1:
        return magic + rng.choice([0, 1, 0xFFFF]).to_bytes(2, "little") + h + data
    if magic[6:7] == b"\x01" and len(h) < 65536:
        return magic + len(h).to_bytes(2, "little") + h + data
    return magic[:6] + b"\x02\x00" + len(h).to_bytes(4, "little") + h + data


def _pickle_payload(folder: Path) -> bytes:
    """A pickle that, if ever unpickled, opens ``folder/../outside/pickled.txt`` for writing."""
    target = str(folder.parent / "outside" / PICKLE_CANARY)
    return b"cbuiltins\nopen\n(V" + target.encode() + b"\nVw\ntR."


DESCRS = ["'<f4'", "'<f8'", "'>f8'", "'<i2'", "'|u1'", "'|b1'", "'<c8'", "'<c16'", "'|O'", "'<U4'", "'|S3'",
          "'|V8'", "[('x', '<f4'), ('y', '<f4')]", "'<m8[s]'", "'<M8[D]'", "'<f2'", "'bogus'", "1", "None",
          "'(2,)<f4'", "'<f16'", "'O'", "[('a', '|O')]", "'<i8'", "'>u4'", "''", "'f' * 3"]
SHAPES = ["(9, 7, 2)", "()", "(0,)", "(16,)", "(9, 7)", "(1099511627776, 1099511627776, 2)", "(-1, 7, 2)",
          "(9, 7, 2, 1)", "(3, 3, 2)", "(1.5,)", "('a',)", "(9223372036854775807, 2)", "(10**30,)", "((2,),)",
          "[9, 7, 2]", "16", "(0, 7, 2)", "(7071, 7071, 2)", "(1, 1, 2)", "(2, 2, 2)", "(1, 100000000, 2)",
          "(-9, -7, 2)", "(True, 7, 2)", "(50000001, 1, 2)", "(9, 7, 2" ]


def mutate_npy(b: bytes, rng: random.Random, folder: Path) -> bytes:
    if len(b) < 12:
        return mutate_bytes(b, rng)
    magic, header, data = _npy_split(b)
    op = rng.randrange(8)
    if op <= 2:  # a new header from random parts
        parts = {"descr": rng.choice(DESCRS), "fortran_order": rng.choice(["False", "True", "'yes'", "1", "None"]),
                 "shape": rng.choice(SHAPES)}
        if rng.random() < 0.15:
            del parts[rng.choice(list(parts))]
        if rng.random() < 0.1:
            parts["extra"] = "1"
        if rng.random() < 0.1:
            return _npy_join(magic, "{" + ", ".join(f"'{k}': {v}" for k, v in parts.items()) + ", }",
                             _pickle_payload(folder), rng)
        header = "{" + ", ".join(f"'{k}': {v}" for k, v in parts.items()) + ", }"
    elif op == 3:  # the data cut or lengthened
        data = data[: rng.randrange(len(data) + 1)] if rng.random() < 0.7 else data + bytes(rng.randrange(1, 100))
    elif op == 4:  # raw header text
        r = rng.random()
        header = (header[: rng.randrange(len(header))] if r < 0.3 else header.replace("{", "{" * 200, 1) if r < 0.4
                  else header + "#" * rng.choice([10, 70000]) if r < 0.6
                  else header.replace("'shape'", "'shape': " + "(" * 500 + ")" * 500 + ", 'x'", 1) if r < 0.7
                  else "__import__('os').system('touch x')" if r < 0.8 else flip_bytes(header.encode(), rng).decode("latin-1"))
    elif op == 5:  # the version bytes
        magic = magic[:6] + bytes([rng.choice([0, 1, 2, 3, 4, 255]), rng.choice([0, 1])])
    elif op == 6:  # the pickled object array's payload replaced by one that writes a file
        if "|O" in header or "'O'" in header:
            data = _pickle_payload(folder)
        else:
            return mutate_bytes(b, rng)
    else:
        return mutate_bytes(b, rng)
    return _npy_join(magic, header, data, rng)


# ---- JSON documents (NeRF transforms, functaset manifests) ----------------------------------------------

def hostile_paths(case: Path) -> list[str]:
    return ["../outside/canary.png", "../outside/canary", str(case.parent / "outside" / "canary.png"),
            "/dev/zero", "/dev/stdin", "/proc/self/environ", "/etc/passwd", "train/fifo.png", "train/fifo",
            "train/out.png", "train/out", "train/loop", "train", ".", "..", "", " ", "\x00", "a\x00b",
            "x" * 5000, "./train/../train/r_0", "train/../../outside/canary.png", "~/x.png", "C:\\x.png",
            "\\\\server\\share", "train/r_0.png/", "fifo.safetensors", "../outside/shard.safetensors",
            "manifest.json", "transforms_train.json", "shard_00000.safetensors", "link.safetensors"]


def json_value(rng: random.Random, case: Path):
    k = rng.randrange(16)
    if k == 0:
        return None
    if k == 1:
        return rng.random() < 0.5
    if k == 2:
        return rng.randint(-3, 70)
    if k == 3:
        return rng.choice([0, -1, 20000, 1_000_000, 2**31, 2**40, 2**63, 10**30, 10**400])
    if k == 4:
        return rng.choice([math.inf, -math.inf, math.nan, 1e308, -0.0, 1e-300, 0.5, 30.0, 1e39])
    if k == 5:
        return rng.choice(["", "16", "train", "x", "\n", "é", "nan", "1e999", "True"])
    if k == 6:
        return [rng.randint(-2, 2**20) for _ in range(rng.randrange(6))]
    if k == 7:
        v: object = 1
        for _ in range(rng.choice([2, 10, 60, 300])):
            v = [v]
        return v
    if k == 8:
        return {"file_path": rng.choice(hostile_paths(case)), "transform_matrix": np.eye(4).tolist()}
    if k == 9:
        return [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, rng.choice([1, 0, math.inf, 1e300]), 0], [0, 0, 0, 1]]
    if k == 10:
        return rng.randint(-(2**70), 2**70)
    if k == 11:
        return float(rng.randint(1, 64))
    if k == 12:
        return rng.choice([[], {}, [None], {"": None}, [[]], [{}]])
    if k in (13, 14):
        return rng.choice(hostile_paths(case))
    return rng.choice([2, 3, 4, 5, 16, 64, 256, 4096])


def json_slots(node, out=None):
    """Every (container, key) below ``node``: where a mutation of a JSON document can land."""
    out = [] if out is None else out
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        out.append((node, k))
        json_slots(v, out)
    return out


def mutate_json(doc, rng: random.Random, case: Path) -> str:
    """Random values at random keys, deletions, new keys, type swaps, long lists; then in some
    cases a raw-text edit: truncation, deep nesting, a 5,000-digit number, 1e999, byte flips."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 4)):
        slots = json_slots(doc)
        if not slots:
            break
        node, key = rng.choice(slots)
        op = rng.choice(["set", "set", "set", "delete", "add", "swap", "repeat"])
        if op == "set":
            node[key] = json_value(rng, case)
        elif op == "delete" and isinstance(node, dict):
            del node[key]
        elif op == "add" and isinstance(node, dict):
            node[rng.choice(["extra", "frames", "file_path", "fl_x", "aabb", "k1", "shards", "done", "w", ""])
                 + rng.choice(["", "", "2"])] = json_value(rng, case)
        elif op == "swap":
            v = node[key]
            node[key] = rng.choice([str(v), [v], {"v": v}, bool(v) if not isinstance(v, (dict, list)) else None])
        elif op == "repeat" and isinstance(node[key], list) and node[key]:
            node[key] = node[key] * rng.choice([2, 100, 3000])
    text = json.dumps(doc)
    r = rng.random()
    if r < 0.05:
        text = text[: rng.randrange(len(text) + 1)]
    elif r < 0.08:
        n = rng.choice([100, 5000, 200_000])
        text = text[:-1] + ', "deep": ' + "[" * n + "]" * n + "}" if text.endswith("}") else "[" * n + "]" * n
    elif r < 0.10:
        text = text[:-1] + ', "big": ' + "9" * 5000 + "}" if text.endswith("}") else "9" * 5000
    elif r < 0.12:
        text = text.replace("0.", "1e999", 1)
    elif r < 0.16:
        return flip_bytes(text.encode(), rng, 4).decode("latin-1")
    elif r < 0.17:
        text = rng.choice(["", "null", "[]", "1", '"x"', "{bad", "\ufeff{}", "{}"])
    return text


def safetensors_mutate(data: bytes, rng: random.Random) -> bytes:
    try:
        n = int.from_bytes(data[:8], "little")
        header, body = json.loads(data[8:8 + n]), bytearray(data[8 + n:])
    except (ValueError, UnicodeDecodeError):
        return mutate_bytes(data, rng)
    names = [k for k in header if k != "__metadata__"]
    if not names:
        return mutate_bytes(data, rng)
    k = rng.choice(names)
    op = rng.randrange(8)
    if op == 0:
        header[k]["dtype"] = rng.choice(["I32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F32", "F8_E4M3", "X"])
    elif op == 1:
        header[k]["shape"] = rng.choice([[max(0, s + rng.choice([-1, 1])) for s in header[k]["shape"]] or [1],
                                         [2**40, 2**40], [0], [], [10**6, 16], [-1]])
    elif op == 2:
        header[rng.choice([k + "x", "extra", "latents", "labels"])] = header.pop(k)
    elif op == 3:
        header[k]["data_offsets"] = rng.choice([[0, 2**62], [5, 1], [-1, 4], [0, 0], "x"])
    elif op == 4:
        return flip_bytes(data, rng)
    elif op == 5:
        return data[: rng.randrange(len(data))]
    elif op == 6:
        return (rng.choice([2**62, 2**32, 0, 1, n + 1])).to_bytes(8, "little") + data[8:]
    else:
        del header[k]
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + bytes(body)


# ---- the targets ----------------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    setup: Callable[[Path], object]  # writes seed files under root/"seeds", returns the state
    case: Callable[[object, random.Random, Path], Callable[[], object]]


def _prepare_case(root: Path) -> Path:
    """root/case (empty) and root/outside (a canary image, a valid shard, nothing else)."""
    case = root / "case"
    if case.exists():
        shutil.rmtree(case)
    case.mkdir()
    return case


def _outside_folder(root: Path) -> Path:
    out = root / "outside"
    out.mkdir(exist_ok=True)
    from PIL import Image

    Image.new("RGBA", (8, 8), (255, 0, 0, 255)).save(out / "canary.png")
    return out


# images

def _images_setup(root: Path):
    _outside_folder(root)
    return image_seeds()


def _images_case(seeds, rng: random.Random, case: Path):
    from inrkit.signals.io import DEFAULT_MAX_PIXELS, load_image

    name = rng.choice(sorted(seeds))
    fname, data = mutate_image(name, seeds[name], rng, seeds)
    p = case / fname
    p.write_bytes(data)
    size = rng.choice([None, None, 1, 7, 64])
    # mostly 1 MP: a 773-byte JPEG may declare 14 MP, and decoding and resizing that (accepted) takes seconds
    max_pixels = rng.choice([DEFAULT_MAX_PIXELS] + [1_000_000] * 6 + [10_000] * 3)
    alpha = rng.choice(["keep", "drop"])
    return lambda: load_image(p, size=size, max_pixels=max_pixels, alpha=alpha)


# gradient arrays

def _npy_setup(root: Path):
    _outside_folder(root)
    return npy_seeds()


def _npy_case(seeds, rng: random.Random, case: Path):
    from inrkit.apps.edit import load_gradient_field

    if rng.random() < 0.2:  # two (H, W) files, one mutated
        a, b = case / "gx.npy", case / "gy.npy"
        a.write_bytes(seeds["gx"])
        b.write_bytes(mutate_npy(seeds["gx"], rng, case) if rng.random() < 0.8 else seeds["gx"])
        paths = [str(a), str(b)]
    else:
        name = rng.choice(sorted(seeds))
        p = case / "g.npy"
        p.write_bytes(mutate_npy(seeds[name], rng, case) if rng.random() < 0.9 else seeds[name])
        paths = [str(p)]
    return lambda: load_gradient_field(paths)


# blend masks

def _mask_setup(root: Path):
    from PIL import Image

    _outside_folder(root)
    m = np.zeros((16, 16), np.uint8)
    m[4:12, 3:9] = 255
    seeds = {}
    for name, im, fmt in [("mask.png", Image.fromarray(m), "PNG"), ("bilevel.png", Image.fromarray(m > 0), "PNG"),
                          ("rgb.png", Image.fromarray(np.repeat(m[..., None], 3, -1)), "PNG"),
                          ("mask.jpg", Image.fromarray(m), "JPEG"), ("mask.tif", Image.fromarray(m), "TIFF"),
                          ("mask.gif", Image.fromarray(m).convert("P"), "GIF"),
                          ("mask.bmp", Image.fromarray(m), "BMP")]:
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        seeds[name] = buf.getvalue()
    return seeds


def _mask_case(seeds, rng: random.Random, case: Path):
    from inrkit.apps.edit import load_mask

    name = rng.choice(sorted(seeds))
    fname, data = mutate_image(name, seeds[name], rng, seeds)
    p = case / fname
    p.write_bytes(data)
    shape = rng.choice([(16, 16), (16, 16), (8, 8), (32, 32), (16, 8), (9, 16), (1, 1)])
    max_pixels = rng.choice([50_000_000, 1000])
    return lambda: load_mask(str(p), shape, max_pixels)


# NeRF datasets

def _hostile_files(case: Path) -> None:
    """A link out of the folder, a FIFO, a link loop and a folder among the frames."""
    train = case / "train"
    train.mkdir(exist_ok=True)
    os.symlink(case.parent / "outside" / "canary.png", train / "out.png")
    os.symlink(case.parent / "outside" / "canary.png", train / "out")
    os.mkfifo(train / "fifo.png")
    os.mkfifo(train / "fifo")
    os.symlink(train / "loop", train / "loop")


def _nerf_setup(root: Path):
    from inrkit.signals.scene import write_scene

    _outside_folder(root)
    scene = write_scene(root / "seeds" / "scene", size=8, train=2, val=1, test=1)
    docs = {s: json.loads((scene / f"transforms_{s}.json").read_text()) for s in ("train", "val", "test")}
    ngp = dict(docs["train"])
    ngp["frames"] = docs["train"]["frames"] + docs["val"]["frames"] + docs["test"]["frames"]
    ngp.update(fl_x=9.0, fl_y=9.0, cx=4.0, cy=4.0, w=8, h=8, aabb=[[-1.5, -1.5, -1.5], [1.5, 1.5, 1.5]], k1=0.0)
    return scene, docs, ngp


def _nerf_case(state, rng: random.Random, case: Path):
    from inrkit.signals.multiview import load_posed_images

    scene, docs, ngp = state
    folder = case / "scene"
    shutil.copytree(scene, folder)
    _hostile_files(folder)
    split = rng.choice(["train", "train", "val", "test"])
    if rng.random() < 0.3:  # the instant-ngp layout: one transforms.json
        for s in ("train", "val", "test"):
            (folder / f"transforms_{s}.json").unlink()
        (folder / "transforms.json").write_text(mutate_json(ngp, rng, folder) if rng.random() < 0.95 else json.dumps(ngp),
                                                encoding="utf-8", errors="surrogatepass")
    else:
        target = split if rng.random() < 0.8 else rng.choice(["train", "val", "test"])
        (folder / f"transforms_{target}.json").write_text(mutate_json(docs[target], rng, folder), encoding="utf-8", errors="surrogatepass")
    if rng.random() < 0.05:  # a frame image mutated too
        seeds = image_seeds_cache()
        (folder / "train" / "r_0.png").write_bytes(mutate_png((folder / "train" / "r_0.png").read_bytes(), rng)
                                                   if rng.random() < 0.7 else mutate_image("rgba.png", seeds["rgba.png"], rng, seeds)[1])
    downscale = rng.choice([1, 1, 2, 3, 16])
    limit = rng.choice([None, None, 0, 1, 2, -1])
    return lambda: load_posed_images(folder, split, downscale, limit)


_IMAGE_SEEDS: dict | None = None


def image_seeds_cache() -> dict:
    global _IMAGE_SEEDS
    if _IMAGE_SEEDS is None:
        _IMAGE_SEEDS = image_seeds()
    return _IMAGE_SEEDS


# functasets

def make_functaset(root: Path) -> Path:
    """A tiny functaset through the API: 12 digits in 3 classes, a functa model trained for 3
    steps, encoded in shards of 5 (3 shards)."""
    import torch
    from PIL import Image

    from inrkit.apps import functa as F
    from inrkit.signals.collections import load_collection

    digits = load_collection("digits")
    data = root / "data"
    for k in range(3):
        (data / str(k)).mkdir(parents=True, exist_ok=True)
        for j, img in enumerate(digits.images[digits.labels == k][:4]):
            Image.fromarray((img[..., 0] * 255).round().astype(np.uint8)).save(data / str(k) / f"{j}.png")
    torch.manual_seed(0)
    r = F.train_functa(digits, latent_dim=4, steps=3, batch_size=4, width=8, hidden_layers=1, device="cpu",
                       eval_items=4)
    F.write_functa_run([r], root / "run")
    fs = root / "fs"
    F.encode_functaset(root / "run" / "model_z4", str(data), fs, shard_size=5, device="cpu")
    return fs


def _functa_setup(root: Path):
    out = _outside_folder(root)
    fs = make_functaset(root / "seeds")
    shutil.copy(fs / "shard_00000.safetensors", out / "shard.safetensors")
    return fs, json.loads((fs / "manifest.json").read_text())


def _functa_case(state, rng: random.Random, case: Path):
    from inrkit.apps.functa import load_functaset

    fs, manifest = state
    folder = case / "fs"
    shutil.copytree(fs, folder)
    os.mkfifo(folder / "fifo.safetensors")
    os.symlink(case.parent / "outside" / "shard.safetensors", folder / "link.safetensors")
    r = rng.random()
    if r < 0.65:
        (folder / "manifest.json").write_text(mutate_json(manifest, rng, folder), encoding="utf-8", errors="surrogatepass")
    elif r < 0.95:
        shard = folder / rng.choice([s["file"] for s in manifest["shards"]])
        shard.write_bytes(safetensors_mutate(shard.read_bytes(), rng))
    else:  # a shard name that is a hostile path, the rest valid
        m = copy.deepcopy(manifest)
        rng.choice(m["shards"])["file"] = rng.choice(hostile_paths(folder))
        (folder / "manifest.json").write_text(json.dumps(m))
    return lambda: load_functaset(folder)


# image collections (folders of images)

def _collection_setup(root: Path):
    from PIL import Image

    _outside_folder(root)
    seeds = root / "seeds" / "coll"
    rs = np.random.default_rng(2)
    for k in range(2):
        (seeds / f"class{k}").mkdir(parents=True)
        for j in range(3):
            Image.fromarray(rs.integers(0, 256, (8, 8), dtype=np.uint8)).save(seeds / f"class{k}" / f"{j}.png")
    return seeds, image_seeds()


def _collection_case(state, rng: random.Random, case: Path):
    from inrkit.signals.collections import load_collection

    seeds, images = state
    folder = case / "coll"
    shutil.copytree(seeds, folder)
    files = sorted(folder.rglob("*.png"))
    for _ in range(rng.randint(1, 2)):
        files = [f for f in files if f.is_file()]
        if not files:
            break
        op = rng.randrange(7)
        victim = rng.choice(files)
        if op <= 2:  # a file's bytes mutated
            fname, data = mutate_image("x.png", victim.read_bytes(), rng, images)
            victim.write_bytes(data)
        elif op == 3:  # another image of another kind or size
            name = rng.choice(sorted(images))
            (victim.parent / ("new." + name.rsplit(".", 1)[1])).write_bytes(images[name])
        elif op == 4:  # a FIFO, a folder or a dangling link named like an image
            what = rng.randrange(3)
            p = victim.parent / rng.choice(["z.png", "z.jpg", "a.gif"])
            if os.path.lexists(p):
                continue
            if what == 0:
                os.mkfifo(p)
            elif what == 1:
                p.mkdir()
            else:
                os.symlink(folder / "missing.png", p)
        elif op == 5:  # an empty class folder, or every image removed
            if rng.random() < 0.5:
                (folder / "empty").mkdir(exist_ok=True)
            else:
                for f in files:
                    f.unlink(missing_ok=True)
        else:  # a mutated image of any seed
            name = rng.choice(sorted(images))
            fname, data = mutate_image(name, images[name], rng, images)
            (victim.parent / ("m_" + fname)).write_bytes(data)
    max_items = rng.choice([None, None, 0, 1, -1, 3])
    return lambda: load_collection(str(folder), max_items=max_items)


TARGETS = {t.name: t for t in [
    Target("images", _images_setup, _images_case),
    Target("gradients", _npy_setup, _npy_case),
    Target("masks", _mask_setup, _mask_case),
    Target("nerf", _nerf_setup, _nerf_case),
    Target("functaset", _functa_setup, _functa_case),
    Target("collections", _collection_setup, _collection_case),
]}


def run_one(target: Target, state, seed: int, root: Path) -> Outcome:
    """Build case ``seed`` of ``target`` in a fresh ``root/case`` and run it guarded."""
    import warnings

    rng = random.Random(seed)
    case = _prepare_case(root)
    call = target.case(state, rng, case)
    before = sorted(os.listdir(root / "outside"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = guarded(call, case)
    after = sorted(os.listdir(root / "outside"))
    if after != before:
        out.outside.append(f"the outside folder changed: {sorted(set(after) ^ set(before))}")
        for name in set(after) - set(before):
            p = root / "outside" / name
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return out
