"""``inrkit compress | decompress``: a round trip through files, and bad input: one line, exit 2,
nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inrkit.cli import main
from inrkit.codec import compress

from codec_helpers import TINY, pattern


@pytest.fixture(scope="module")
def inrk(tmp_path_factory):
    path = tmp_path_factory.mktemp("codec") / "p.inrk"
    path.write_bytes(compress(pattern(16, 16, 3), 0.01, settings=TINY).data)
    return path


def _fails(argv, capsys, match: str) -> None:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inrkit: error:") and err.count("\n") == 1 and match in err, err


def test_compress_and_decompress_through_the_command_line(tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.fromarray((pattern(16, 16, 1).pixels[..., 0] * 255).astype(np.uint8)).save(src)
    out = tmp_path / "in.inrk"
    assert main(["compress", str(src), "-o", str(out), "--preset", "tiny", "--steps", "20", "--quiet",
                 "--lmbda", "0.01"]) == 0
    said = capsys.readouterr().out
    assert f"{out.stat().st_size:,} bytes" in said and "bpp" in said
    png = tmp_path / "out.png"
    assert main(["decompress", str(out), "-o", str(png), "--size", "20", "12"]) == 0
    assert Image.open(png).size == (20, 12)


def test_decompress_bad_files(tmp_path, inrk, capsys):
    data = inrk.read_bytes()
    cases = {"trunc.inrk": (data[:-7], "truncated"), "crc.inrk": (data[:-6] + bytes([data[-6] ^ 4]) + data[-5:], "CRC32"),
             "magic.inrk": (b"JUNK" + data[4:], "wrong magic"), "new.inrk": (data[:4] + b"\x09" + data[5:], "newer")}
    for name, (blob, match) in cases.items():
        bad = tmp_path / name
        bad.write_bytes(blob)
        _fails(["decompress", bad, "-o", tmp_path / f"{name}.png"], capsys, match)
        assert not (tmp_path / f"{name}.png").exists()


def test_compress_bad_options(tmp_path, inrk, capsys):
    out = tmp_path / "x.inrk"
    _fails(["compress", "camera", "-o", out, "--lmbda", "0"], capsys, "--lmbda must be positive")
    _fails(["compress", "camera", "-o", out, "--lmbda", "-1"], capsys, "--lmbda must be positive")
    _fails(["compress", "camera", "-o", out, "--quality", "101"], capsys, "--quality")
    _fails(["compress", "camera", "-o", out, "--lmbda", "0.1", "--quality", "3"], capsys, "give one of")
    _fails(["compress", "camera", "-o", out, "--size", "16", "--target-bpp", "0.5"], capsys, "impossible")
    _fails(["compress", "camera", "-o", out, "--size", "16", "--target-bpp", "9"], capsys, "impossible")
    _fails(["compress", "camera", "-o", inrk], capsys, "already exists")
    _fails(["decompress", inrk, "-o", tmp_path / "big.png", "--size", "100000", "100000"], capsys, "above the limit")
    assert not out.exists() and not (tmp_path / "big.png").exists()


def test_an_unwritable_output_is_refused_before_any_encoding(tmp_path, inrk, capsys, monkeypatch):
    import inrkit.codec as codec

    monkeypatch.setattr(codec, "compress", lambda *a, **k: pytest.fail("encoded before the output was checked"))
    (tmp_path / "file").write_bytes(b"x")
    Image.new("L", (24, 20), 128).save(tmp_path / "a.png")
    _fails(["compress", tmp_path / "a.png", "-o", tmp_path / "file" / "x.inrk"], capsys, "file is not a folder")
    _fails(["compress", tmp_path / "a.png", "-o", tmp_path], capsys, "is a folder")
    _fails(["decompress", inrk, "-o", tmp_path / "file" / "x.png"], capsys, "file is not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "file"]  # no probe or partial file left
