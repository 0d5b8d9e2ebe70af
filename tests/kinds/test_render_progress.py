"""``inrkit render`` of a video run shows the one progress display frame by frame (an audio render block by block);
``--quiet`` silences it, leaving the summary line that names the output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("av")

from inrkit.apps.grid import fit_file  # noqa: E402
from inrkit.signals.video import load_video, write_video  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread(_threads):
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny video (5 frames of 12 x 16) fitted for a few steps, as a run folder."""
    folder = tmp_path_factory.mktemp("videoprogress")
    k = np.arange(5)[:, None, None]
    x = np.arange(16)[None, None, :] + 0 * np.arange(12)[None, :, None]
    clip = np.stack(np.broadcast_arrays(128 + 90 * np.sin(x / 5 + k / 2), 128 + 0 * k, 128 + 60 * np.cos(x / 4 - k)),
                    -1)  # (5, 12, 16, 3)
    write_video(folder / "clip.mp4", clip.astype(np.uint8), fps=10.0, crf=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fit_file(folder / "clip.mp4", preset="tiny", steps=3, out=folder / "run", command="inrkit fit clip.mp4")
    finally:
        torch.set_num_threads(threads)
    return folder / "run"


def test_render_shows_progress_frame_by_frame(run, tmp_path, capsys):
    from inrkit.cli import main

    out = tmp_path / "slow.mp4"
    assert main(["render", str(run), "--fps", "30", "--size", "16", "12", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    # 5 frames at 10 fps rendered at 30 fps: 15 frames. stderr is not a terminal here, so the display prints
    # plain lines every 10 % of the frames and one at the end, as it does for a fit.
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("render video 16x12  ")]
    assert len(lines) >= 5, captured.err  # frame by frame, not one line at the end
    assert lines[0].startswith("render video 16x12  2/15  ") and lines[-1].startswith("render video 16x12  15/15  100%")
    assert "encode mp4 16x12  15/15  100%" in captured.err  # the encoding shows the same display
    # the summary line at the end names the output, on stdout
    assert captured.out.strip().splitlines()[-1].startswith(f"wrote {out} (15 frames of 16x12 at 30 fps")
    assert load_video(out).shape == (15, 12, 16)


def test_quiet_render_prints_only_the_summary(run, tmp_path, capsys):
    from inrkit.cli import main

    out = tmp_path / "quiet.mp4"
    assert main(["render", str(run), "--fps", "30", "--size", "16", "12", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "render video" not in captured.err and "encode mp4" not in captured.err and "%" not in captured.err
    assert captured.out.strip().splitlines() == [captured.out.strip().splitlines()[-1]]
    assert captured.out.startswith(f"wrote {out} (15 frames of 16x12 at 30 fps")
    assert out.is_file()


def test_audio_render_shows_progress_by_blocks(tmp_path, capsys):
    from inrkit.cli import main
    from inrkit.signals.audio import read_wav, write_wav

    t = np.arange(1000) / 8000
    write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 220 * t), 8000, 16)
    fit_file(tmp_path / "tone.wav", preset="tiny", steps=3, out=tmp_path / "run", command="inrkit fit tone.wav")
    out = tmp_path / "fast.wav"
    # 1,000 samples at 8 kHz rendered at 32 kHz: 4,000 samples, in blocks of 500 (--chunk)
    assert main(["render", str(tmp_path / "run"), "--rate", "32000", "--chunk", "500", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("render audio 32,000 Hz  ")]
    assert len(lines) >= 4 and lines[-1].startswith("render audio 32,000 Hz  4000/4000  100%"), captured.err
    assert captured.out.strip().splitlines()[-1].startswith(f"wrote {out} (4,000 samples at 32,000 Hz")
    assert read_wav(out)[0].shape[0] == 4000
    assert main(["render", str(tmp_path / "run"), "--rate", "32000", "--chunk", "500", "--out", str(out),
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "render audio" not in captured.err and captured.out.startswith(f"wrote {out} (")
