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
