"""Files decoded as a person viewing them sees them, and the library's own input checks
(issue 13, items 1 and 7). Every file is generated here."""

import json
import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from inrkit.apps.edit import load_gradient_field, load_mask
from inrkit.errors import InrkitError
from inrkit.signals.io import load_image


@pytest.fixture
def rgb(rng):
    return (rng.random((6, 10, 3)) * 255).astype(np.uint8)


# ---- images read as a user expects -----------------------------------------------------------

def test_cmyk_jpeg_becomes_rgb(tmp_path, rgb):
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    s = load_image(tmp_path / "c.jpg")
    assert s.channels == 3 and s.info["alpha"] == "none"  # not RGBA with the K plane as alpha
    assert np.abs(s.pixels * 255 - rgb).mean() < 4


def test_palette_png_keeps_its_transparency(tmp_path):
    idx = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    im = Image.fromarray(idx, "P")
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    im.save(tmp_path / "p.png", transparency=0)
    s = load_image(tmp_path / "p.png")
    assert s.channels == 4 and s.info["alpha"] == "kept as a channel"
    np.testing.assert_array_equal(s.pixels[..., 3], (idx != 0).astype(np.float32))
    np.testing.assert_array_equal(s.pixels[1, 1, :3], [0, 1, 0])
    assert load_image(tmp_path / "p.png", alpha="drop").channels == 3


def test_grey_png_with_trns_keeps_its_transparency(tmp_path):
    Image.fromarray(np.array([[0, 7], [7, 200]], np.uint8)).save(tmp_path / "l.png", transparency=7)
    s = load_image(tmp_path / "l.png")
    np.testing.assert_array_equal(s.pixels[..., 1], [[1, 0], [0, 1]])


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_exif_orientation_is_applied(tmp_path, rgb, orientation, fmt):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o.{fmt}"
    Image.fromarray(rgb).save(path, exif=exif, **({"quality": 100} if fmt == "jpg" else {}))
    with Image.open(path) as im:
        want = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.float32) / 255
    got = load_image(path).pixels
    assert got.shape == want.shape  # 5 to 8 swap width and height
    np.testing.assert_array_equal(got, want)


def test_16bit_grey_alpha_png_keeps_16_bits(tmp_path, rng):
    import png

    la = rng.integers(0, 65536, (4, 6, 2)).astype(np.uint16)
    with open(tmp_path / "la.png", "wb") as f:
        png.Writer(6, 4, greyscale=True, alpha=True, bitdepth=16).write(f, la.reshape(4, -1).tolist())
    s = load_image(tmp_path / "la.png")
    assert s.info["bit_depth"] == 16 and s.channels == 2
    np.testing.assert_array_equal(np.round(s.pixels.astype(np.float64) * 65535), la)


# ---- blend --mask at the images' size ---------------------------------------------------------

def test_mask_follows_the_resized_images(tmp_path):
    m = np.zeros((40, 60), np.uint8)
    m[10:30, 20:40] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    small = load_mask(str(tmp_path / "m.png"), (8, 12))  # the images after --size 12
    assert small.shape == (8, 12) and small.dtype == bool
    np.testing.assert_array_equal(small, np.asarray(Image.fromarray(m).resize((12, 8), Image.NEAREST)) > 0)
    assert load_mask(str(tmp_path / "m.png"), (40, 60)).sum() == 400  # same size: as it is
    with pytest.raises(InrkitError, match="aspect ratios differ"):
        load_mask(str(tmp_path / "m.png"), (12, 12))


# ---- derivative maps and gradient-domain methods at any aspect ratio -------------------------

@pytest.mark.parametrize("shape", [(1, 8), (8, 1), (1, 1)])
def test_derivative_maps_of_one_pixel_images(shape):
    from inrkit.apps.image import derivative_maps_of
    from inrkit.config import FieldConfig, build_field
    from inrkit.signals import ImageSignal

    sig = ImageSignal(np.linspace(0, 1, shape[0] * shape[1], dtype=np.float32).reshape(shape), name="thin")
    field = build_field(FieldConfig(width=8, hidden_layers=1), 2, 1, max(shape),
                        generator=torch.Generator().manual_seed(0))
    maps = derivative_maps_of(field, sig)
    assert maps["target_gradient"].shape == (*shape, 2) and np.isfinite(maps["target_gradient"]).all()
    for axis, n in ((1, shape[0]), (0, shape[1])):  # component 1 (d/dy) is 0 when H = 1, 0 (d/dx) when W = 1
        if n == 1:
            assert not maps["target_gradient"][..., axis].any()
    if shape == (1, 8):
        assert (maps["target_gradient"][..., 0] > 0).all()  # the ramp along x is seen


@pytest.mark.parametrize("shape", [(1, 8, 1), (8, 1, 1)])
def test_gradient_domain_methods_refuse_one_pixel_axes(shape):
    from inrkit.edit.gradient_domain import image_gradients, poisson_problem

    with pytest.raises(InrkitError, match="at least 2 pixels along each axis"):
        image_gradients(np.zeros(shape))
    for supervision in ("gradient", "laplacian"):
        with pytest.raises(InrkitError, match="at least 2 pixels along each axis"):
            poisson_problem(np.zeros(shape), supervision)


# ---- integrate's .npy files, checked from the header -----------------------------------------

def _npy_claiming(path, shape, descr="<f8"):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, shape)
    hdr += " " * (118 - len(hdr)) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\0" * 64)


def test_gradient_files_refused_from_the_header(tmp_path):
    (tmp_path / "zero_bytes.npy").write_bytes(b"")
    np.save(tmp_path / "empty.npy", np.zeros((0, 4, 2)))
    np.save(tmp_path / "empty1d.npy", np.zeros(0))
    np.savez(tmp_path / "g.npz", g=np.zeros((4, 4, 2)))
    np.save(tmp_path / "complex.npy", np.zeros((4, 4, 2), complex))
    np.save(tmp_path / "object.npy", np.empty((4, 4, 2), object), allow_pickle=True)
    np.save(tmp_path / "records.npy", np.zeros((4, 4), [("x", "f8"), ("y", "f8")]))
    _npy_claiming(tmp_path / "huge.npy", (100_000, 46_250, 2))  # 74 GB
    _npy_claiming(tmp_path / "short.npy", (20, 20, 2))  # 6,400 bytes promised, 64 given
    cases = {"zero_bytes.npy": "not a readable .npy", "empty.npy": "4x0 is too small", "empty1d.npy": "is empty", "g.npz": ".npz archive",
             "complex.npy": "complex numbers", "object.npy": "Python objects", "records.npy": "Python objects or records",
             "huge.npy": "INRKIT_MAX_ARRAY_PIXELS", "short.npy": "truncated"}
    for name, needle in cases.items():
        with pytest.raises(InrkitError, match=needle) as exc:
            load_gradient_field([str(tmp_path / name)])
        assert "\n" not in str(exc.value) and "--" not in str(exc.value)  # one line, no flag names
    g = np.random.default_rng(0).random((4, 5, 2)).astype(np.float32)
    np.save(tmp_path / "ok.npy", g)
    np.testing.assert_array_equal(load_gradient_field([str(tmp_path / "ok.npy")]), g)


# ---- NeRF intrinsics and poses ---------------------------------------------------------------

def _dataset(tmp_path, meta: dict, matrix=None):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "f.png")
    m = np.eye(4).tolist() if matrix is None else matrix
    (tmp_path / "transforms.json").write_text(json.dumps({**meta, "frames": [
        {"file_path": "f.png", "transform_matrix": m}] * 9}))
    return tmp_path


@pytest.mark.parametrize("meta, needle", [
    ({"fl_x": "500"}, "fl_x must be a number"),
    ({"fl_x": [500]}, "fl_x must be a number"),
    ({"fl_x": None}, "fl_x must be a number"),
    ({"fl_x": True}, "fl_x must be a number"),
    ({"fl_x": 0}, "focal lengths must be positive"),
    ({"fl_x": -3.0}, "focal lengths must be positive"),
    ({"fl_x": 5.0, "fl_y": 0}, "focal lengths must be positive"),
    ({"fl_x": 1e300}, "fl_x must be a finite number"),
    ({"fl_x": 5.0, "cx": "centre"}, "cx must be a number"),
    ({"camera_angle_x": 0}, "between 0 and pi"),
    ({"camera_angle_x": 4.0}, "between 0 and pi"),
    ({"camera_angle_x": "wide"}, "camera_angle_x must be a number"),
    ({"camera_angle_x": 1e-300}, "not finite in float32"),
])
def test_bad_intrinsics_are_refused(tmp_path, meta, needle):
    from inrkit.signals.multiview import load_posed_images

    with pytest.raises(InrkitError, match=needle):
        load_posed_images(_dataset(tmp_path, meta))


@pytest.mark.parametrize("matrix, needle", [
    (np.zeros((4, 4)).tolist(), "singular rotation"),
    ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], "singular rotation"),
    ([[1, 0, 0, 1e300], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], "too large for float32"),
])
def test_bad_poses_are_refused(tmp_path, matrix, needle):
    from inrkit.signals.multiview import load_posed_images

    with pytest.raises(InrkitError, match=needle):
        load_posed_images(_dataset(tmp_path, {"fl_x": 5.0}, matrix))


def test_good_intrinsics_still_load(tmp_path):
    from inrkit.signals.multiview import load_posed_images

    p = load_posed_images(_dataset(tmp_path, {"fl_x": 5, "fl_y": 6.0, "cx": 2, "cy": 2.5}))
    np.testing.assert_array_equal(p.intrinsics[0], [5, 6, 2, 2.5])
    assert np.isfinite(p.poses).all()


# ---- sizes checked from headers before decoding ----------------------------------------------

def _truncated_jpeg(path, size=(56107, 255), keep=773):
    """A JPEG whose header declares ``size`` but whose data stops after ``keep`` bytes: libjpeg
    fills in the rest, so without a check it decodes to 14 megapixels of grey."""
    full = path.with_suffix(".full.jpg")
    Image.new("L", size, 0).save(full, quality=5)
    path.write_bytes(full.read_bytes()[:keep])
    full.unlink()
    return path


def test_a_header_declaring_megapixels_in_a_few_bytes_is_refused_before_decoding(tmp_path, monkeypatch):
    import inrkit.signals.io as io

    bad = _truncated_jpeg(tmp_path / "bomb.jpg")
    monkeypatch.setattr(io, "_decode", lambda p: pytest.fail("decoded before the size check"))
    with pytest.raises(InrkitError, match=r"declares 56107x255 pixels in 773 bytes.*INRKIT_MAX_PIXELS_PER_BYTE"):
        load_image(str(bad))
    monkeypatch.setenv("INRKIT_MAX_PIXELS_PER_BYTE", str(10**6))  # raised: the same file passes the check
    assert io.image_size(bad) == (56107, 255)


def test_the_densest_real_files_pass_the_pixels_per_byte_check(tmp_path):
    """A flat 1-bit PNG (deflate's best case) and a flat baseline JPEG, both 16 megapixels."""
    from inrkit.signals.io import image_size

    Image.new("1", (4000, 4000), 0).save(tmp_path / "flat.png", optimize=True)
    Image.new("RGB", (4000, 4000), (255, 255, 255)).save(tmp_path / "flat.jpg", quality=95)
    for name in ("flat.png", "flat.jpg"):
        assert image_size(tmp_path / name) == (4000, 4000)


def test_image_size_reads_the_header_without_decoding(tmp_path, monkeypatch):
    """The header's size, before EXIF orientation: Pillow reads a PNG's EXIF by decoding the whole
    file, which for a hostile header is gigabytes (a 656-byte PNG declaring 7071x100000 took 8 s and
    2 GB in the fuzz campaign before the size check ran)."""
    from PIL import PngImagePlugin

    from inrkit.signals.io import image_size

    Image.new("RGB", (10, 6)).save(tmp_path / "plain.png")  # no eXIf chunk: Pillow's getexif() would decode
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: a 10 x 6 file is shown 6 x 10
    Image.new("RGB", (10, 6)).save(tmp_path / "r.jpg", exif=exif)
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: pytest.fail("decoded"))
    assert image_size(tmp_path / "plain.png") == (10, 6)
    monkeypatch.undo()
    assert image_size(tmp_path / "r.jpg") == (10, 6)  # the header's size
    assert load_image(str(tmp_path / "r.jpg")).shape[:2] == (10, 6)  # 10 high, 6 wide: as a viewer shows it


def test_nerf_frames_of_another_size_are_refused_from_their_headers(tmp_path, monkeypatch):
    import inrkit.signals.multiview as mv

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "b.png")
    frames = [{"file_path": n, "transform_matrix": np.eye(4).tolist()} for n in ("a.png", "b.png")]
    (tmp_path / "transforms_train.json").write_text(json.dumps({"camera_angle_x": 0.7, "frames": frames}))
    decoded = []
    real = mv._read_frame
    monkeypatch.setattr(mv, "_read_frame", lambda *a, **k: decoded.append(a[1]) or real(*a, **k))
    with pytest.raises(InrkitError, match=r"frame 1 \(b.png\) is 6x4, the first frame 4x4"):
        mv.load_posed_images(tmp_path)
    assert decoded == ["a.png"]  # the second frame was refused from its header


def test_a_nerf_split_above_the_dataset_pixel_limit_is_refused_before_any_frame_is_decoded(tmp_path, monkeypatch):
    import inrkit.signals.multiview as mv

    _dataset(tmp_path, {"fl_x": 5.0})  # 9 frames of 4x4; every 8th is held out, 7 train
    monkeypatch.setattr(mv, "_read_frame", lambda *a, **k: pytest.fail("a frame was decoded"))
    monkeypatch.setenv("INRKIT_MAX_DATASET_PIXELS", "100")
    with pytest.raises(InrkitError, match=r"7 frames of 4x4 are 112 pixels, above the limit of 100 "
                                          r"\(INRKIT_MAX_DATASET_PIXELS"):
        mv.load_posed_images(tmp_path)


def test_warnings_on_the_command_line_are_one_line():
    import subprocess
    import sys

    code = ("import warnings; from inrkit.cli import main; assert main(['fit', 'no-such-file.png']) == 2; "
            "warnings.warn('a library said\\n  something on two lines', UserWarning)")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stderr
    assert err.splitlines()[-2:] == ["inrkit: error: no such file: no-such-file.png",
                                     "inrkit: warning: a library said something on two lines"], err


def test_a_16bit_png_whose_data_inflates_beyond_its_header_is_refused_before_pypng(tmp_path, monkeypatch):
    """IHDR says 16x12 RGBA at 16 bits (1,548 bytes of rows); its IDAT inflates to 30 MB."""
    import zlib

    import png

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    head = chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 12, 16, 6, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + head + chunk(b"IDAT", zlib.compress(bytes(30_000_000), 9)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(bomb)
    monkeypatch.setattr(png, "Reader", lambda *a, **k: pytest.fail("handed to pypng"))
    with pytest.raises(InrkitError, match="inflates to more than a 16x12 image holds"):
        load_image(str(tmp_path / "bomb.png"))
    rows = np.arange(16 * 12 * 4, dtype=np.uint16).reshape(12, 16 * 4) * 300  # a real one still reads
    png.Writer(16, 12, greyscale=False, alpha=True, bitdepth=16).write(open(tmp_path / "ok.png", "wb"), rows.tolist())
    monkeypatch.undo()
    assert load_image(str(tmp_path / "ok.png")).shape[:2] == (12, 16)


def test_a_folder_of_images_compares_sizes_without_decoding_the_odd_one(tmp_path, monkeypatch):
    """Reading a PNG's EXIF orientation makes Pillow decode it: the size must be compared first."""
    from PIL import PngImagePlugin

    from inrkit.signals.collections import load_collection

    Image.new("L", (8, 8), 10).save(tmp_path / "a.png")
    Image.new("L", (9, 8), 10).save(tmp_path / "b.png")
    real, loaded = PngImagePlugin.PngImageFile.load, []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load",
                        lambda self: loaded.append(self.size) or real(self))
    with pytest.raises(InrkitError, match="images differ in size: b.png is 9x8, the first was 8x8"):
        load_collection(str(tmp_path))
    assert (9, 8) not in loaded
