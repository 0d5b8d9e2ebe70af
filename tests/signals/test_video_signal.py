"""Video files and the video signal: PyAV round trips, limits checked before decoding, bad files."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
import torch

from inrkit import coords as C
from inrkit.errors import InrkitError

av = pytest.importorskip("av")

from inrkit.signals.video import (VideoSignal, encode_gif, frame_coords, frame_times, load_video,  # noqa: E402
                                  psnr_per_frame, read_header, strip_indices, write_video)


def smooth_clip(t=8, h=24, w=32) -> np.ndarray:
    """A smooth moving colour pattern, uint8 (T, H, W, 3): little for H.264 to lose."""
    k = np.arange(t)[:, None, None]
    y = np.arange(h)[None, :, None]
    x = np.arange(w)[None, None, :]
    r = 128 + 90 * np.sin(x / 9 + k / 3) + 0 * y
    g = 128 + 90 * np.cos(y / 8 - k / 4) + 0 * x
    b = 128 + 60 * np.sin((x + y) / 11) + 0 * k
    return np.stack([r, g, b], -1).astype(np.uint8)


def raw_h264(frames: np.ndarray, fps: int = 10) -> bytes:
    """An Annex-B H.264 elementary stream: no container, so no frame count or duration in any header."""
    buf = io.BytesIO()
    c = av.open(buf, "w", format="h264")
    s = c.add_stream("libx264", rate=fps)
    s.height, s.width = frames.shape[1:3]
    s.pix_fmt = "yuv420p"
    for i, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(f, format="rgb24")
        vf.pts = i
        for p in s.encode(vf):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return buf.getvalue()


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    clip = smooth_clip()
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, clip, fps=12, crf=0)
    return path, clip


def test_mp4_round_trip(clip_file):
    path, clip = clip_file
    head = read_header(path)
    assert (head.width, head.height, head.frames, head.fps, head.codec) == (32, 24, 8, 12.0, "h264")
    sig = load_video(path)
    assert sig.frames.shape == clip.shape and sig.frames.dtype == np.uint8
    assert sig.fps == 12.0 and sig.shape == (8, 24, 32)
    err = np.abs(sig.frames.astype(int) - clip)
    # yuv420p halves the chroma resolution and rounds to limited range: a few levels on saturated colour.
    assert err.mean() < 4.0 and np.percentile(err, 99) < 16
    grey = np.repeat(clip[..., :1], 3, -1)
    write_video(path.with_name("grey.mp4"), grey, fps=12, crf=0)
    assert np.abs(load_video(path.with_name("grey.mp4")).frames.astype(int) - grey).max() <= 2


def test_subsampling_at_load(clip_file):
    path, clip = clip_file
    sig = load_video(path, stride=3, start=1, size=16)
    assert sig.shape == (3, 12, 16) and sig.fps == 4.0  # frames 1, 4, 7; longer side 16
    assert sig.info["stride"] == 3 and sig.info["start"] == 1
    assert load_video(path, frames=2, stride=2).shape == (2, 24, 32)
    full = load_video(path)
    np.testing.assert_array_equal(load_video(path, stride=3, start=1).frames, full.frames[1::3])


def test_odd_sizes_and_gif(tmp_path):
    clip = smooth_clip(3, 11, 15)
    write_video(tmp_path / "odd.mp4", clip, fps=5)
    back = load_video(tmp_path / "odd.mp4")
    assert back.shape == (3, 12, 16)  # padded to even by repeating the last row and column
    assert np.abs(back.frames[:, :11, :15].astype(int) - clip).mean() < 6
    write_video(tmp_path / "a.gif", clip, fps=5)
    from PIL import Image

    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3 and im.size == (15, 11)
    with pytest.raises(InrkitError, match="must end in .mp4 or .gif"):
        write_video(tmp_path / "a.avi", clip, fps=5)
    assert not list(tmp_path.glob(".a.*"))  # nothing half-written
    with pytest.raises(InrkitError, match="share one size"):
        encode_gif([clip[0], clip[0, :5]], 5)


def test_limits_refused_from_the_header(clip_file, monkeypatch):
    path, _ = clip_file
    monkeypatch.setenv("INRKIT_MAX_VIDEO_FRAMES", "5")
    # "8 frames" is the header's count: refused before a frame is decoded
    with pytest.raises(InrkitError, match=r"has 8 frames, above the limit of 5 .*INRKIT_MAX_VIDEO_FRAMES"):
        load_video(path)
    assert load_video(path, frames=5).shape[0] == 5  # fewer frames kept: allowed
    assert load_video(path, stride=2).shape[0] == 4
    monkeypatch.delenv("INRKIT_MAX_VIDEO_FRAMES")
    monkeypatch.setenv("INRKIT_MAX_VIDEO_PIXELS", str(8 * 24 * 32 - 1))
    with pytest.raises(InrkitError, match="INRKIT_MAX_VIDEO_PIXELS"):
        load_video(path)
    assert load_video(path, size=16).shape == (8, 12, 16)  # smaller frames fit
    monkeypatch.delenv("INRKIT_MAX_VIDEO_PIXELS")
    with pytest.raises(InrkitError, match="per frame"):
        load_video(path, max_pixels=100)


def test_limits_checked_while_decoding_when_the_header_says_nothing(tmp_path, monkeypatch):
    path = tmp_path / "raw.h264"
    path.write_bytes(raw_h264(np.full((8, 16, 16, 3), 100, np.uint8)))
    assert read_header(path).frames is None  # an elementary stream has no count
    assert load_video(path).shape == (8, 16, 16)
    monkeypatch.setenv("INRKIT_MAX_VIDEO_FRAMES", "5")
    with pytest.raises(InrkitError, match=r"has 6 frames, above the limit of 5"):
        load_video(path)


def test_bad_files(tmp_path, clip_file):
    a = np.full((3, 16, 16, 3), 100, np.uint8)
    b = np.full((3, 32, 16, 3), 50, np.uint8)
    (tmp_path / "changing.h264").write_bytes(raw_h264(a) + raw_h264(b))
    (tmp_path / "empty.y4m").write_bytes(b"YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\n")  # a header, no frame
    (tmp_path / "junk.mp4").write_bytes(bytes(range(256)) * 20)
    good = clip_file[0].read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (tmp_path / "zero.mp4").write_bytes(b"")
    with wave.open(str(tmp_path / "sound.mp4"), "wb") as w:  # audio only, whatever its name says
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    cases = {"changing.h264": "frames of changing size", "empty.y4m": "has no frames",
             "junk.mp4": "not a video file", "truncated.mp4": "not a video file|cannot be decoded",
             "zero.mp4": "not a video file", "sound.mp4": "no video stream", "missing.mp4": "no video file named"}
    for name, msg in cases.items():
        with pytest.raises(InrkitError, match=msg) as info:
            load_video(tmp_path / name)
        assert "\n" not in str(info.value)
    with pytest.raises(InrkitError, match="no frames"):
        load_video(clip_file[0], start=100)


def test_coordinates_follow_the_convention(clip_file):
    sig = load_video(clip_file[0])
    grid = C.grid(sig.shape).reshape(-1, 3)  # (x, y, t)
    idx = torch.randint(0, sig.pixels, (500,), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(sig.coords(idx), grid[idx])
    assert sig.values.dtype == np.uint8  # kept as decoded; targets are made per batch
    torch.testing.assert_close(sig.targets(idx), torch.from_numpy(sig.frames.reshape(-1, 3)[idx.numpy()]).float()
                               * (2 / 255) - 1)
    full = sig.sampler(0)(None)
    assert full.grid == sig.shape
    torch.testing.assert_close(full.coords, grid)
    batch = sig.sampler(64)(torch.Generator().manual_seed(1))
    assert batch.coords.shape == (64, 3) and batch.targets.shape == (64, 3) and batch.grid is None
    assert float(batch.targets.min()) >= -1 and float(batch.targets.max()) <= 1
    # frame k of T sits at -1 + (2k+1)/T; 3x the frame rate reproduces it at 3k+1
    t = frame_times(3 * sig.shape[0])
    torch.testing.assert_close(t[3 * 2 + 1].float(), torch.tensor(sig.frame_time(2)))
    torch.testing.assert_close(frame_coords(sig.frame_time(2), 24, 32), C.grid(sig.shape)[2])
    meta = sig.meta()
    assert meta["kind"] == "video" and meta["shape"] == [8, 24, 32] and meta["fps"] == 12.0
    assert meta["value_range"] == [0.0, 255.0] and meta["bounds"] == [[-1.0, 1.0]] * 3


def test_psnr_per_frame_and_strip():
    target = np.zeros((3, 4, 4, 3), np.uint8)
    pred = target.astype(np.float32)
    pred[1] += 2.55  # an error of 1 % of the range: 40 dB
    p = psnr_per_frame(pred, target)
    assert np.isinf(p[0]) and abs(p[1] - 40.0) < 1e-5
    assert strip_indices(250) == [0, 50, 100, 149, 199, 249] and strip_indices(2) == [0, 1]


def test_registered_kind():
    from inrkit.signals import kinds

    k = kinds.get("video")
    assert k.in_dim == 3 and {"reference", "cpu", "fast", "tiny"} <= set(k.presets)
    assert kinds.kind_of("clip.MP4").name == "video" and kinds.kind_of("clip.webm").name == "video"


def test_signal_checks_its_array():
    with pytest.raises(InrkitError, match="uint8"):
        VideoSignal(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(InrkitError, match="no pixels"):
        VideoSignal(np.zeros((0, 4, 4, 3), np.uint8))
    assert VideoSignal(np.zeros((2, 4, 4), np.uint8)).channels == 1


def _mp4(path, frames: np.ndarray, fps: int = 10, rotation: int = 0, pts: list[int] | None = None) -> None:
    """An MP4 with an optional display rotation (degrees counter-clockwise) and explicit frame stamps."""
    from fractions import Fraction

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames.shape[1:3]
        s.pix_fmt = "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            s.set_display_rotation(rotation)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = (pts[i] if pts else i * 1000 // fps)
            vf.time_base = Fraction(1, 1000)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_display_rotation_is_applied(tmp_path, rotation):
    """A phone's portrait clip is stored landscape with a display matrix: frames come out upright."""
    frames = np.zeros((4, 32, 48, 3), np.uint8)
    frames[:, :12, :12] = 255  # a white block in the stored frame's top-left corner
    _mp4(tmp_path / "r.mp4", frames, rotation=rotation)
    sig = load_video(tmp_path / "r.mp4")
    want = np.rot90(frames[0, :, :, 0], rotation // 90)
    got = sig.values[0, :, :, 0]
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want).mean() < 8  # H.264 blurs the block's edge a little
    assert sig.info["rotation"] % 360 == rotation % 360
    assert load_video(tmp_path / "r.mp4", size=24).values.shape[1:3] == tuple(
        np.array(want.shape) // 2)  # --size scales the upright frame's longer side


def test_variable_frame_rate_is_said(tmp_path):
    frames = smooth_clip(t=8)
    _mp4(tmp_path / "cfr.mp4", frames)
    with pytest.warns(UserWarning, match="variable frame rate"):
        sig = load_video(_write_vfr(tmp_path, frames))
    assert "variable_frame_rate" in sig.info
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant-rate clip warns of nothing
        assert "variable_frame_rate" not in load_video(tmp_path / "cfr.mp4").info


def _write_vfr(tmp_path, frames):
    stamps = [0, 100, 200, 250, 300, 500, 700, 800]  # ms: intervals 50 to 200
    _mp4(tmp_path / "vfr.mp4", frames, pts=stamps)
    return tmp_path / "vfr.mp4"
