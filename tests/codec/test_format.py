"""The .inrk container: round trip, and every kind of bad file refused with one line."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from inrkit.codec import decompress, format as FM
from inrkit.errors import InrkitError

GOLDEN = Path(__file__).parent / "data" / "golden.inrk"


def _container(**kw) -> FM.Container:
    t = FM.TensorRecord((2, 3), FM.float16_bits(0.5), -1, 1, 0, (1234,), b"")
    base = dict(codec="coin", height=4, width=5, channels=1, colour="gray", params=(7, 8), tensors=[t])
    base.update(kw)
    return FM.Container(**base)


def _recrc(data: bytes) -> bytes:
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_round_trip_of_the_container():
    c = _container()
    data = FM.serialise(c)
    assert data[:4] == FM.MAGIC and data[4] == FM.VERSION
    back = FM.parse(data)
    assert back == c
    assert back.tensors[0].step_value == 0.5


def test_float16_steps():
    assert FM.float16_value(FM.float16_bits(0.1)) == pytest.approx(0.1, rel=1e-3)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d[:3], "wrong magic"),
    (lambda d: b"PNG!" + d[4:], "wrong magic"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d[:6], "truncated"),
    (lambda d: d + b"\0", "after its end"),
    (lambda d: d[:-5] + bytes([d[-5] ^ 1]) + d[-4:], "CRC32 mismatch"),
    (lambda d: d[:4] + bytes([FM.VERSION + 1]) + d[5:], "newer than this inrkit reads"),
])
def test_bad_files_are_refused_with_one_line(mutate, message):
    with pytest.raises(InrkitError, match=message) as exc:
        FM.parse(mutate(FM.serialise(_container())))
    assert "\n" not in str(exc.value)


def _raw(body: bytes) -> bytes:
    """A file around ``body`` with a valid length and CRC (bypassing the writer's own checks)."""
    data = FM.MAGIC + bytes([FM.VERSION]) + FM._varint(len(body)) + body
    return data + struct.pack("<I", zlib.crc32(data))


def _head(h: int = 4, w: int = 5) -> bytes:
    return bytes([0, 0]) + FM._varint(h) + FM._varint(w) + FM._varint(1) + FM._varint(0)  # coin, gray, no params


@pytest.mark.parametrize("body,message", [
    (_head(0, 5) + FM._varint(0), "image size"),
    (_head(1 << 20, 1 << 20) + FM._varint(0), "above the limit|image size"),
    # one tensor of 2^24 x 2^24 symbols: refused from the numbers
    (_head() + FM._varint(1) + bytes([2]) + FM._varint(1 << 24) * 2, "refusing to allocate"),
    (_head() + FM._varint(1) + bytes([9]), "rank"),
    (_head() + FM._varint(1000), "tensor count"),
])
def test_absurd_headers_are_refused_before_allocating(monkeypatch, body, message):
    import numpy as np

    def no_alloc(*a, **k):
        raise AssertionError("allocated")

    monkeypatch.setattr(np, "empty", no_alloc)
    monkeypatch.setattr(np, "zeros", no_alloc)
    with pytest.raises(InrkitError, match=message):
        FM.parse(_raw(body))


def test_read_refuses_missing_and_non_files(tmp_path):
    with pytest.raises(InrkitError, match="no such file"):
        FM.read(tmp_path / "none.inrk")
    with pytest.raises(InrkitError, match="not a regular file"):
        FM.read(tmp_path)


def _decode_or_refuse(data: bytes) -> None:
    try:
        img = decompress(data)
    except InrkitError as exc:
        assert "\n" not in str(exc)
        return
    assert img.ndim == 3 and img.dtype.name == "uint8"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_the_decoder_with_mutated_files(data):
    """Mutations of the golden file (bit flips, byte changes, cuts, insertions), half of them
    with the CRC recomputed so that the parser and the entropy decoder see them: the decoder
    either decodes or raises InrkitError, never anything else and never hangs."""
    raw = bytearray(GOLDEN.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        i = data.draw(st.integers(0, len(raw) - 1))
        if kind == "flip":
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set":
            raw[i] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del raw[i:i + data.draw(st.integers(1, 8))]
        else:
            raw[i:i] = bytes(data.draw(st.lists(st.integers(0, 255), min_size=1, max_size=4)))
        if len(raw) < 10:
            break
    blob = bytes(raw)
    if data.draw(st.booleans()) and len(blob) > 8:
        blob = _recrc(blob)
    _decode_or_refuse(blob)


def test_fuzz_mutated_golden_files():
    """Deterministic mutations with the CRC recomputed, so each reaches the parser and decoder
    (benchmarks/codec_fuzz.py runs many thousands)."""
    import random

    rng = random.Random(1)
    golden = GOLDEN.read_bytes()
    for _ in range(150):
        raw = bytearray(golden[:-4])
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        _decode_or_refuse(_recrc(bytes(raw) + b"\0\0\0\0"))


def test_fuzz_thousands_of_random_files_quickly():
    """Random bytes behind a valid magic and version: every one refused cleanly."""
    import random

    rng = random.Random(0)
    for _ in range(3000):
        n = rng.randrange(0, 64)
        blob = FM.MAGIC + bytes([FM.VERSION]) + bytes(rng.randrange(256) for _ in range(n))
        if rng.random() < 0.5 and len(blob) > 8:
            blob = _recrc(blob)
        _decode_or_refuse(blob)
