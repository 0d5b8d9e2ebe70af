"""Reading and writing files: images from disk or scikit-image's bundled data.

Everything that reads a user's file checks it before decoding and raises
:class:`~inrkit.errors.InrkitError` with one line on failure.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InrkitError
from ..limits import MAX_PIXELS_PER_BYTE
from .image import ImageSignal

DEFAULT_MAX_PIXELS = 50_000_000
"""Images above this many pixels are refused before decoding (``--max-pixels``)."""

BUILTIN_IMAGES = (
    "camera", "astronaut", "coffee", "chelsea", "rocket", "brick", "text", "moon", "page",
    "coins", "grass", "gravel", "horse", "cat", "retina", "shepp_logan_phantom", "logo",
    "immunohistochemistry", "hubble_deep_field", "colorwheel", "clock", "motorcycle_left",
)
"""Names accepted in place of a path: images bundled with scikit-image (``skimage.data``)."""


def _builtin(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle_left":  # the left view of scikit-image's stereo pair
        return np.asarray(skimage.data.stereo_motorcycle()[0])
    return np.asarray(getattr(skimage.data, name)())


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def image_size(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(width, height)`` of an image file as its header states them (before EXIF orientation,
    which Pillow can only read for some formats by decoding the file), read from the header only;
    every check that can be made before decoding is made here: a regular
    file, a readable header, nonzero size, at most ``max_pixels`` pixels and at most
    ``INRKIT_MAX_PIXELS_PER_BYTE`` pixels per byte of file (above one megapixel)."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise InrkitError(f"no such file: {path}")
    if path.is_dir():
        raise InrkitError(f"{path} is a folder, not an image file")
    if not path.is_file():  # a FIFO would block the reader forever, a device never ends
        raise InrkitError(f"{path} is not a regular file; refusing to read it")
    saved_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # our own limit applies, below
    try:
        with warnings.catch_warnings():  # a damaged file gets one line, not Pillow's warnings beside it
            warnings.simplefilter("ignore")
            with Image.open(path) as im:  # reads the header only
                w, h = im.size
    except UnidentifiedImageError:
        raise InrkitError(f"{path} is not an image file that can be read") from None
    except Image.DecompressionBombError:
        raise InrkitError(f"{path} is too large to open safely") from None
    except OSError as exc:
        raise InrkitError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # Pillow's header parsers raise ValueError, SyntaxError, ... on broken files
        raise InrkitError(f"cannot read {path}: {_one_line(exc)}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit
    if w <= 0 or h <= 0:
        raise InrkitError(f"{path} has zero size ({w}x{h})")
    if w * h > max_pixels:
        raise InrkitError(f"{path} has {w}x{h} = {w * h} pixels, above the limit of {max_pixels} "
                          f"(raise max_pixels)")
    density, nbytes = MAX_PIXELS_PER_BYTE.value(), max(path.stat().st_size, 1)
    if w * h > 2**20 and w * h > density * nbytes:
        raise InrkitError(f"{path} declares {w}x{h} pixels in {nbytes:,} bytes, more than {density:,} pixels per "
                          f"byte: a damaged or hostile header (raise INRKIT_MAX_PIXELS_PER_BYTE if the file is real)")
    return w, h


def _read_file(path: Path, max_pixels: int) -> np.ndarray:
    import warnings

    image_size(path, max_pixels)
    try:
        with warnings.catch_warnings():  # Pillow's and tifffile's warnings on damaged files: the error says it
            warnings.simplefilter("ignore")
            arr = _decode(path)
    except InrkitError:
        raise
    except Exception as exc:  # any decoder failure on a user's file is bad input
        raise InrkitError(f"cannot decode {path}: {_one_line(exc)}") from None
    return arr


def _decode(path: Path) -> np.ndarray:
    """Pixels as a person viewing the file sees them: EXIF orientation applied, CMYK as RGB,
    a palette's or a tRNS chunk's transparency as alpha, 16-bit PNGs at 16 bits."""
    from PIL import Image

    with Image.open(path) as im:
        mode, transparent = im.mode, "transparency" in im.info
        orientation = _orientation(im)
        if mode == "CMYK":  # imageio would hand back the four ink planes, K read as alpha
            arr = np.asarray(im.convert("RGB"))
        elif mode == "P" or (transparent and mode in ("L", "RGB")):  # palette / tRNS transparency as alpha
            target = {"P": "RGBA" if transparent else "RGB", "L": "LA", "RGB": "RGBA"}[mode]
            arr = np.asarray(im.convert(target))
        else:
            arr = None
    if arr is None:
        if _is_png_16bit(path):
            arr = _read_png_16bit(path)  # Pillow would truncate these to 8 bits
        elif _is_tiff(path):
            arr = _read_tiff_first_page(path)
        else:
            import imageio.v3 as iio  # Pillow for most formats, tifffile for 16-bit and float TIFF

            arr = np.asarray(iio.imread(path))
    return _orient(arr, orientation)


def _orientation(im) -> int:
    """The EXIF orientation tag (1 to 8; 1 when absent or unreadable)."""
    try:
        value = int(im.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block does not make the pixels unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation ``orientation`` to ``(H, W, ...)`` as ``PIL.ImageOps.exif_transpose`` does."""
    if arr.ndim < 2 or orientation == 1:
        return arr
    t = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
         5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
         8: lambda a: np.rot90(a, 1)}[orientation]
    return np.ascontiguousarray(t(arr))


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _read_tiff_first_page(path: Path) -> np.ndarray:
    """The first page of a TIFF, by tifffile; a file with more pages is refused. Reading a TIFF
    through imageio walks every page first, and a damaged chain of pages took minutes."""
    import struct

    import tifffile

    with tifffile.TiffFile(path) as tf:
        page = tf.pages.first
        fh, t = tf.filehandle, tf.tiff
        fh.seek(page.offset)  # the first page's directory: its entry count, entries, the next page's offset
        n = struct.unpack(t.tagnoformat, fh.read(t.tagnosize))[0]
        fh.seek(page.offset + t.tagnosize + n * t.tagsize)
        raw = fh.read(t.offsetsize)
        if len(raw) == t.offsetsize and struct.unpack(t.offsetformat, raw)[0] != 0:
            raise InrkitError(f"{path} holds more than one page; inrkit reads single images (save the one you want)")
        return np.asarray(page.asarray())


def _is_png_16bit(path: Path) -> bool:
    """A PNG whose IHDR says 16 bits per sample and colour type RGB (2), grey + alpha (4) or
    RGBA (6) (16-bit grey alone, type 0, Pillow reads at full depth)."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 and head[24] == 16 and head[25] in (2, 4, 6)


def _check_png_data_size(path: Path) -> None:
    """Refuse a 16-bit PNG whose image data inflates to more than its header allows, before pypng
    (pure Python) inflates all of it: a 29 KB file of 16x12 pixels took 10 s and 500 MB in the fuzz
    campaign before pypng noticed. Bounded by the size of an interlaced (Adam7) image, at most twice
    the plain one."""
    import struct
    import zlib

    data = path.read_bytes()
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    planes = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    bound = 2 * h * (1 + (w * planes * depth + 7) // 8) + 1024
    pos, idat = 8, []
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + n])
        if kind == b"IEND":
            break
        pos += 12 + n
    try:
        inflated = zlib.decompressobj().decompress(b"".join(idat), bound + 1)
    except zlib.error as exc:
        raise InrkitError(f"cannot decode {path}: damaged image data ({exc})") from None
    if len(inflated) > bound:
        raise InrkitError(f"cannot decode {path}: its image data inflates to more than a {w}x{h} image holds")


def _read_png_16bit(path: Path) -> np.ndarray:
    import png  # pypng: pure Python, keeps all 16 bits

    _check_png_data_size(path)

    w, h, rows, info = png.Reader(filename=str(path)).asDirect()
    arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows])  # (H, W * planes)
    return arr.reshape(h, w, info["planes"])


def _to_unit(arr: np.ndarray, source: str) -> tuple[np.ndarray, int]:
    """Integer or float image -> float32 in [0, 1], plus its bit depth."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float32), 1
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, 16
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InrkitError(f"{source} contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 1:  # float images outside [0, 1]: rescale, say so in the record
            arr = (arr - lo) / (hi - lo if hi > lo else 1.0)
        return arr.astype(np.float32), 32
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        return (arr.astype(np.float64) - info.min) / (info.max - info.min), info.bits
    raise InrkitError(f"{source} has unsupported pixel type {arr.dtype}")


def load_image(source: str | os.PathLike, size: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
               alpha: str = "keep", resample: str = "gaussian") -> ImageSignal:
    """Load an image file or a built-in name (see ``BUILTIN_IMAGES``) as an :class:`ImageSignal`.

    Grayscale stays one channel, RGB three. An alpha channel is fitted as a fourth
    channel with ``alpha="keep"`` (the default: the field reproduces transparency) or
    discarded with ``alpha="drop"``. 8- and 16-bit integers map to [0, 1] by their full
    range. ``size`` resizes so that the longer side has ``size`` pixels, anti-aliased by
    ``resample`` (see :data:`RESAMPLE_FILTERS`).
    """
    if alpha not in ("keep", "drop"):
        raise InrkitError(f"alpha must be 'keep' or 'drop', not {alpha!r}")
    if resample not in RESAMPLE_FILTERS:
        raise InrkitError(f"resample must be one of {', '.join(RESAMPLE_FILTERS)}, not {resample!r}")
    src = str(source)
    if src in BUILTIN_IMAGES and not Path(src).exists():
        arr, name, origin = _builtin(src), src, f"skimage.data.{src}"
    else:
        path = Path(src)
        if not path.exists() and os.sep not in src and "." not in src:
            raise InrkitError(f"no such file or built-in image: {src!r} (built-ins: {', '.join(BUILTIN_IMAGES[:8])}, ...)")
        arr, name, origin = _read_file(path, max_pixels), path.stem, str(path)
    if arr.size == 0 or arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InrkitError(f"{origin} has zero size")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 2:  # gray + alpha
        arr = arr if alpha == "keep" else arr[..., :1]
    if arr.ndim == 3 and arr.shape[2] > 4:
        raise InrkitError(f"{origin} has {arr.shape[2]} channels; expected 1 to 4 (or an animated file)")
    if arr.ndim > 3:
        raise InrkitError(f"{origin} has {arr.ndim} axes; expected a single 2D image")
    orig_shape = tuple(int(s) for s in arr.shape)
    pixels, bits = _to_unit(arr, origin)
    had_alpha = pixels.ndim == 3 and pixels.shape[2] in (2, 4)
    if had_alpha and alpha == "drop":
        pixels = pixels[..., :-1]
    if size is not None:
        pixels = resize_longer_side(pixels, size, max_pixels, resample)
    info = {"source": origin, "original_shape": list(orig_shape), "bit_depth": bits,
            "alpha": ("kept as a channel" if alpha == "keep" else "dropped") if had_alpha else "none",
            "resample": resample if size is not None else None}
    return ImageSignal(pixels, name=name, info=info)


RESAMPLE_FILTERS = ("gaussian", "triangle", "box", "lanczos")
"""Down-sampling filters of :func:`resize_longer_side`: ``gaussian`` (Gaussian pre-filter, then
bilinear interpolation: scikit-image's anti-aliasing, the default), ``triangle`` (the bilinear
filter widened by the reduction factor: PIL's ``BILINEAR``, what torchvision's ``Resize`` does to
a PIL image, hence the SIREN paper's pre-processing), ``box`` (area average) and ``lanczos``."""


def resize_longer_side(pixels: np.ndarray, size: int, max_pixels: int = DEFAULT_MAX_PIXELS,
                       resample: str = "gaussian") -> np.ndarray:
    """Resize so that max(H, W) == size, keeping the aspect ratio (anti-aliased by ``resample``,
    one of :data:`RESAMPLE_FILTERS`).

    The resized image is held to the same pixel limit as a file."""
    if resample not in RESAMPLE_FILTERS:
        raise InrkitError(f"resample must be one of {', '.join(RESAMPLE_FILTERS)}, not {resample!r}")
    if size < 1:
        raise InrkitError(f"size must be at least 1, not {size}")
    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(h * scale)), max(1, round(w * scale)))
    if new[0] * new[1] > max_pixels:
        raise InrkitError(f"size {size} gives {new[1]}x{new[0]} = {new[0] * new[1]} pixels, above the limit of "
                          f"{max_pixels} (raise max_pixels)")
    if new == (h, w):
        return pixels
    if resample == "gaussian":
        from skimage.transform import resize

        pixels = _box_prereduce(pixels, new)
        out = resize(pixels, new + pixels.shape[2:], order=1, anti_aliasing=scale < 1, preserve_range=True)
    else:
        from PIL import Image

        flt = {"triangle": Image.Resampling.BILINEAR, "box": Image.Resampling.BOX,
               "lanczos": Image.Resampling.LANCZOS}[resample]
        chans = pixels[..., None] if pixels.ndim == 2 else pixels
        out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(chans[..., c], dtype=np.float32))
                                   .resize((new[1], new[0]), flt)) for c in range(chans.shape[2])], axis=-1)
        out = out[..., 0] if pixels.ndim == 2 else out
    return np.clip(out, 0, 1).astype(np.float32)


def _box_prereduce(pixels: np.ndarray, new: tuple[int, int], most: int = 32) -> np.ndarray:
    """Area-average ``pixels`` along each axis reduced more than ``most`` times, to about 8 times
    the target size: the Gaussian pre-filter costs pixels x reduction factor (a 39174x12 image
    resized to 7 pixels took over a minute); at most 32 times it is left exact."""
    from PIL import Image

    h, w = pixels.shape[:2]
    k = (max(1, h // (8 * new[0])) if h > most * new[0] else 1, max(1, w // (8 * new[1])) if w > most * new[1] else 1)
    if k == (1, 1):
        return pixels
    chans = pixels[..., None] if pixels.ndim == 2 else pixels
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(chans[..., c], dtype=np.float32)).reduce((k[1], k[0])))
                    for c in range(chans.shape[2])], axis=-1)
    return out[..., 0] if pixels.ndim == 2 else out


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 (H, W[, C]) array as PNG, atomically (temporary file, then rename)."""
    from PIL import Image

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        Image.fromarray(image).save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


