import numpy as np
import pytest
from PIL import Image

from inrkit.errors import InrkitError
from inrkit.signals import load_image


def _save(path, arr, mode=None):
    Image.fromarray(arr, mode=mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path


def test_builtin_gray_and_rgb():
    cam = load_image("camera")
    assert cam.shape == (512, 512) and cam.channels == 1 and cam.info["bit_depth"] == 8
    ast = load_image("astronaut", size=64)
    assert ast.shape == (64, 64) and ast.channels == 3
    assert 0.0 <= ast.pixels.min() and ast.pixels.max() <= 1.0


def test_non_square_resize_keeps_aspect(tmp_path, rng):
    arr = (rng.random((30, 90)) * 255).astype(np.uint8)
    sig = load_image(_save(tmp_path / "wide.png", arr), size=45)
    assert sig.shape == (15, 45)
    sig = load_image(tmp_path / "wide.png")
    assert sig.shape == (30, 90)
    assert np.allclose(sig.pixels[..., 0], arr / 255.0)
    assert sig.targets().shape == (30, 90, 1) and sig.coords().shape == (30, 90, 2)


def test_rgba_keep_and_drop(tmp_path, rng):
    arr = (rng.random((8, 12, 4)) * 255).astype(np.uint8)
    p = _save(tmp_path / "rgba.png", arr)
    keep = load_image(p)
    assert keep.channels == 4 and keep.info["alpha"] == "kept as a channel"
    assert np.allclose(keep.pixels[..., 3], arr[..., 3] / 255.0)
    drop = load_image(p, alpha="drop")
    assert drop.channels == 3 and drop.info["alpha"] == "dropped"


def _write_png16(path, arr):
    """A minimal 16-bit PNG writer (Pillow cannot write 16-bit RGB)."""
    import struct
    import zlib

    arr = np.asarray(arr, dtype=">u2")
    h, w = arr.shape[:2]
    ctype = {3: 2, 4: 6}[arr.shape[2]]
    raw = b"".join(b"\x00" + arr[i].tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16_bit_gray_and_rgb(tmp_path, rng):
    import imageio.v3 as iio

    g16 = (rng.random((10, 7)) * 65535).astype(np.uint16)
    iio.imwrite(tmp_path / "g16.png", g16)
    sig = load_image(tmp_path / "g16.png")
    assert sig.info["bit_depth"] == 16
    assert np.allclose(sig.pixels[..., 0], g16 / 65535.0, atol=1e-6)
    rgb16 = (rng.random((6, 5, 3)) * 65535).astype(np.uint16)
    _write_png16(tmp_path / "rgb16.png", rgb16)
    sig = load_image(tmp_path / "rgb16.png")
    assert sig.channels == 3 and sig.info["bit_depth"] == 16
    assert np.allclose(sig.pixels, rgb16 / 65535.0, atol=1e-6)


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    # A PNG header that claims 20000 x 20000 pixels with no image data behind it:
    # only a header check can refuse it cleanly.
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) \
        + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    p = tmp_path / "huge.png"
    p.write_bytes(data)
    with pytest.raises(InrkitError, match="above the limit"):
        load_image(p)
    # a real, decodable file over the limit is refused too, naming its size; at the limit it loads
    small = _save(tmp_path / "s.png", np.zeros((20, 30), np.uint8))
    with pytest.raises(InrkitError, match="30x20 = 600 pixels, above the limit of 599"):
        load_image(small, max_pixels=599)
    assert load_image(small, max_pixels=600).shape == (20, 30)


def test_bad_inputs(tmp_path):
    with pytest.raises(InrkitError, match="no such file"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(InrkitError, match="not an image"):
        load_image(tmp_path / "notes.txt")
    good = _save(tmp_path / "ok.png", np.zeros((64, 64), np.uint8) + 7)
    (tmp_path / "trunc.png").write_bytes(good.read_bytes()[:60])
    with pytest.raises(InrkitError):
        load_image(tmp_path / "trunc.png")


def test_resample_filters():
    from inrkit.signals.io import RESAMPLE_FILTERS

    out = {r: load_image("astronaut", 64, resample=r) for r in RESAMPLE_FILTERS}
    for r, sig in out.items():
        assert sig.pixels.shape == (64, 64, 3) and sig.info["resample"] == r
        assert 0 <= sig.pixels.min() and sig.pixels.max() <= 1
    # a 512 -> 64 box filter is the 8 x 8 block mean
    src = load_image("astronaut").pixels
    block = src.reshape(64, 8, 64, 8, 3).mean(axis=(1, 3))
    assert np.abs(out["box"].pixels - block).max() < 1e-5
    # different filters give different images (the triangle filter smooths more than the box)
    assert np.abs(out["triangle"].pixels - out["gaussian"].pixels).mean() > 1e-3
    with pytest.raises(InrkitError, match="resample"):
        load_image("camera", 32, resample="cubic")


def test_every_builtin_name_loads():
    from inrkit.signals.io import BUILTIN_IMAGES, load_image

    for name in BUILTIN_IMAGES:  # motorcycle_left is not a skimage.data function but the stereo pair's left view
        assert min(load_image(name, size=16).shape[:2]) >= 1, name
