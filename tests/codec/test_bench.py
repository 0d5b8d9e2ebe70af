"""The benchmark's whole pipeline on two tiny images (gray and RGB): files, bench.json, report.html."""

from __future__ import annotations

import json

from inrkit.codec.bench import run_bench
from inrkit.codec.coolchic import CoolChicSettings


def test_bench_writes_every_point_and_a_report(tmp_path):
    out = tmp_path / "bench"
    s = CoolChicSettings(grids=2, hidden=(4, 4), steps=6)
    rec = run_bench(["camera", "astronaut"], (0.03, 0.01, 0.003, 0.001), s, "tiny", 16, out)
    data = json.loads((out / "bench.json").read_text())
    assert set(data["images"]) == {"camera", "astronaut"}
    for name, im in data["images"].items():
        pts = im["points"]
        assert len(pts["inr"]) == 4 and len(pts["jpeg"]) > 4 and len(pts["webp"]) > 4
        for p in pts["inr"]:
            f = out / f"{name}-{p['lmbda']:g}.inrk"
            assert p["bytes"] == f.stat().st_size and p["exact"]
            assert p["bpp"] == 8 * p["bytes"] / (im["shape"][0] * im["shape"][1])
    assert data["images"]["astronaut"]["jpeg_settings"]["subsampling"] == "4:2:0"
    assert data["images"]["camera"]["webp_settings"]["method"] == 6
    assert data["versions"]["constriction"] and data["machine"]["cpus"]
    html = (out / "report.html").read_text()
    assert "BD-rate vs JPEG" in html and "data:image/png;base64" in html
    assert "mean" in rec["summary_text"]


def test_an_interrupted_bench_resumes_its_finished_encodes(tmp_path, monkeypatch):
    """Encodes finished before a crash are taken from .<out>.points on the rerun, decoded afresh."""
    import pytest

    import inrkit.codec as codec

    out = tmp_path / "bench"
    s = CoolChicSettings(grids=2, hidden=(4, 4), steps=4)
    real, calls = codec.compress, []

    def failing(sig, lam, *a, **k):
        calls.append(lam)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user stops the run during the third encode
        return real(sig, lam, *a, **k)

    monkeypatch.setattr(codec, "compress", failing)
    with pytest.raises(KeyboardInterrupt):
        run_bench(["camera"], (0.03, 0.01, 0.003), s, "tiny", 16, out)
    assert not out.exists() and len(list((tmp_path / ".bench.points").glob("*.inrk"))) == 2
    calls.clear()
    damaged = tmp_path / ".bench.points" / "camera-0.01.inrk"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF  # same length, wrong CRC: not trusted
    damaged.write_bytes(bytes(data))
    rec = run_bench(["camera"], (0.03, 0.01, 0.003), s, "tiny", 16, out)
    assert calls == [0.01, 0.003]  # the damaged and the unfinished encodes run again
    pts = rec["images"]["camera"]["points"]["inr"]
    assert [bool(p.get("resumed")) for p in pts] == [True, False, False] and all(p["exact"] for p in pts)
    assert not (tmp_path / ".bench.points").exists()  # removed after the finished run
    calls.clear()
    other = run_bench(["camera"], (0.03,), CoolChicSettings(grids=2, hidden=(4, 4), steps=5), "tiny", 16,
                      tmp_path / "b2")
    assert "resumed" not in other["images"]["camera"]["points"]["inr"][0]  # other settings: encoded anew
