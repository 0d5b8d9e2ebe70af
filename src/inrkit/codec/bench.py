"""The rate-distortion benchmark: the INR codec against Pillow JPEG and WebP, in one run.

Every point is a file: the INR codec's ``.inrk`` is written, then read back and decoded by a
fresh decoder call (:func:`inrkit.codec.decompress` on the file's bytes, nothing shared with the
encoder); JPEG and WebP are Pillow's bytes decoded by Pillow. ``bpp = 8 * bytes / pixels``;
``PSNR = 10 log10(255^2 / MSE)`` over all pixels and channels of the uint8 decode. JPEG is a
quality sweep with Pillow's default chroma subsampling (recorded: 4:2:0 for RGB); WebP is lossy,
``method=6`` (slowest, best), a quality sweep. Bjontegaard deltas (:mod:`.bd`) against each
anchor, PSNR at fixed rates by pchip in log rate (never extrapolated).
"""

from __future__ import annotations

import html
import io
import json
import math
import platform
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import __version__
from ..train.progress import series_named
from . import bd

JPEG_QUALITIES = (2, 5, 8, 12, 16, 20, 25, 30, 40, 50, 60, 70, 80, 90)
WEBP_QUALITIES = (0, 2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)
RATES = (0.15, 0.3, 0.6, 1.0)
CROP = 128


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * math.log10(255.0**2 / mse) if mse else float("inf")


def _pil_points(img: np.ndarray, fmt: str, qualities) -> tuple[list[dict], dict]:
    """Encode ``img (H, W[, C]) uint8`` with Pillow at each quality; points and the settings used."""
    from PIL import Image

    arr = img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img
    im = Image.fromarray(arr)
    h, w = arr.shape[:2]
    pts, extra = [], {}
    for q in qualities:
        buf = io.BytesIO()
        t0 = time.perf_counter()
        if fmt == "JPEG":
            im.save(buf, format="JPEG", quality=q)
        else:
            im.save(buf, format="WEBP", quality=q, method=6)
        enc = time.perf_counter() - t0
        data = buf.getvalue()
        t0 = time.perf_counter()
        with Image.open(io.BytesIO(data)) as d:
            dec = np.asarray(d.convert(im.mode))
            if fmt == "JPEG" and im.mode == "RGB" and "subsampling" not in extra:
                from PIL import JpegImagePlugin

                extra["subsampling"] = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(d),
                                                                                  "unknown")
        dt = time.perf_counter() - t0
        pts.append({"quality": q, "bytes": len(data), "bpp": 8.0 * len(data) / (h * w),
                    "psnr": _psnr(dec.reshape(img.shape), img), "encode_seconds": enc, "decode_seconds": dt})
    if fmt == "JPEG" and im.mode == "L":
        extra["subsampling"] = "none (gray)"
    if fmt == "WEBP":
        extra["method"] = 6
    return pts, extra


def _versions() -> dict:
    import importlib.metadata as md

    out = {"inrkit": __version__}
    for name in ("torch", "numpy", "Pillow", "constriction", "scipy", "scikit-image"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def _machine() -> dict:
    import os

    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version()}


def _deltas(curves: dict[str, list[dict]]) -> dict:
    ours = curves["inr"]
    out = {}
    for anchor in ("jpeg", "webp"):
        ref = curves[anchor]
        args = ([p["bpp"] for p in ref], [p["psnr"] for p in ref], [p["bpp"] for p in ours], [p["psnr"] for p in ours])
        out[f"bd_rate_vs_{anchor}"] = bd.bd_rate(*args)
        out[f"bd_psnr_vs_{anchor}"] = bd.bd_psnr(*args)
    out["psnr_at"] = {name: {str(r): bd.psnr_at([p["bpp"] for p in pts], [p["psnr"] for p in pts], r) for r in RATES}
                      for name, pts in curves.items()}
    return out


class PointCache:
    """Finished encodes of an interrupted benchmark, kept beside ``out`` so a rerun resumes.

    A full run is hours of CPU (five images, 5-6 lambdas, minutes per encode), and the run folder
    appears only when everything is done, so each encode's ``.inrk`` bytes and its encoder-side
    record (encode time, weight precision, training phases, exactness) are written atomically to
    ``.<out>.points/`` as soon as they exist. A rerun with the same image, lambda, preset, settings,
    size and inrkit version takes the file from there (it is still decoded afresh from its bytes
    and measured again); anything else is encoded anew. The folder is removed after a finished run."""

    def __init__(self, out: Path, fingerprint: dict):
        self.folder = out.parent / f".{out.name}.points"
        self.fingerprint = fingerprint
        self.reused = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.inrk", self.folder / f"{key}.json"

    def get(self, key: str, **which) -> tuple[bytes, dict] | None:
        data_path, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
            data = data_path.read_bytes()
        except (OSError, ValueError):
            return None
        if meta.get("fingerprint") != {**self.fingerprint, **which} or meta.get("bytes") != len(data):
            return None
        self.reused += 1
        return data, meta

    def put(self, key: str, data: bytes, record: dict, **which) -> None:
        from ..atomic import write_bytes_atomic, write_json

        self.folder.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(key)
        write_bytes_atomic(data_path, data)
        write_json(meta_path, {**record, "bytes": len(data), "fingerprint": {**self.fingerprint, **which}})

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def estimate_bench(images, lambdas, settings, preset: str, size: int | None, out: Path
                   ) -> tuple[float, str, tuple[str, ...]]:
    """``(seconds, how, notes)`` of :func:`run_bench` for ``--dry-run``; nothing is written. Every image is
    read; the JPEG and WebP sweeps are timed on the first image; the first encode still to do is probed
    (:func:`inrkit.train.progress.probing`: 3 steps after 1 warm-up step of its first phase) and every encode
    still to do costs that rate x the step budget, scaled by its pixels, at most the time budget. Encodes kept
    from an interrupted run (:class:`PointCache`) cost nothing."""
    from ..signals import load_image
    from ..train.progress import probing
    from . import compress

    out = Path(out)
    cache = PointCache(out, {"preset": preset, "settings": repr(settings), "size": size, "inrkit": __version__})
    t0 = time.perf_counter()
    sigs = {name: load_image(name, size=size, alpha="drop") for name in images}
    load = time.perf_counter() - t0
    pixels = {name: sig.shape[0] * sig.shape[1] for name, sig in sigs.items()}
    first = next(iter(sigs))
    ref = np.round(sigs[first].pixels * 255.0).astype(np.uint8)
    t0 = time.perf_counter()
    _pil_points(ref, "JPEG", JPEG_QUALITIES)
    _pil_points(ref, "WEBP", WEBP_QUALITIES)
    anchors = (time.perf_counter() - t0) * sum(pixels.values()) / pixels[first]
    todo = [(name, lam) for name in images for lam in lambdas
            if cache.get(f"{Path(name).stem}-{lam:g}", image=str(name), lmbda=lam) is None]
    total, parts = load + anchors, []
    if todo:
        name, lam = todo[0]
        probe = probing(lambda: compress(sigs[name], lam, "coolchic", preset, progress=False, settings=settings))
        if probe.per_step is None:  # pragma: no cover - an encode always takes a step
            return None, "the encode reached no training step to time", ()
        budget = getattr(settings, "seconds", None)
        for n, _ in todo:
            train = probe.per_step * settings.steps * pixels[n] / pixels[name]
            total += probe.setup_seconds + (min(train, budget) if budget else train)
        parts.append(f"{probe.label}: {probe.per_step:.3g} s/step on {name} x {settings.steps:,} steps"
                     + (f", at most {budget:g} s" if budget else "") + f", for {len(todo)} encodes, scaled by "
                     "each image's pixels")
    how = ("measured: a probe of 3 steps after 1 warm-up step of the first encode to do ("
           + ("; ".join(parts) or "none: every encode is kept from an interrupted run")
           + f"), the JPEG and WebP sweeps timed on {first} and scaled by pixels ({anchors:.1f} s), "
           f"{load:.1f} s of reading images; the encodes' later phases at full resolution run slower per step than "
           "the first, at half resolution, so a run limited by steps takes longer; decoding and the report are "
           "not counted")
    kept = len(images) * len(lambdas) - len(todo)
    notes = (f"{len(images)} images x {len(lambdas)} lambdas = {len(images) * len(lambdas)} encodes"
             + (f"; {kept} kept from an interrupted run in {cache.folder}" if kept else ""),)
    return total, how, notes


def run_bench(images, lambdas, settings, preset: str, size: int | None, out: Path, overwrite: bool = False,
              progress: bool = False, command: str = "", log: TextIO | None = None) -> dict:
    """Run the benchmark, write ``out/bench.json``, ``out/report.html`` and the ``.inrk`` files.

    Encodes finished by an earlier, interrupted call with the same settings are reused
    (:class:`PointCache`); the points say ``"resumed": true``."""
    from ..atomic import write_json
    from ..errors import InrkitError
    from ..report.rundir import RunDir
    from ..signals import load_image
    from . import compress, decompress

    out = Path(out)
    cache = PointCache(out, {"preset": preset, "settings": repr(settings), "size": size, "inrkit": __version__})

    record = {"command": command, "preset": preset, "settings": repr(settings), "size": size,
              "lambdas": list(lambdas), "versions": _versions(), "machine": _machine(), "images": {},
              "colour": "RGB (the synthesis outputs R, G, B; the loss and PSNR are on RGB)",
              "psnr": "10 log10(255^2 / MSE) over all pixels and channels of the uint8 decode"}
    crops: dict[str, dict[str, np.ndarray]] = {}
    with RunDir(out, overwrite) as tmp:
        for name in images:
            sig = load_image(name, size=size, alpha="drop")
            ref = np.round(sig.pixels * 255.0).astype(np.uint8)  # (H, W, C)
            h, w = sig.shape
            jpeg, jextra = _pil_points(ref, "JPEG", JPEG_QUALITIES)
            webp, wextra = _pil_points(ref, "WEBP", WEBP_QUALITIES)
            inr = []
            decoded: dict[float, np.ndarray] = {}
            for lam in lambdas:
                key = f"{Path(name).stem}-{lam:g}"
                hit = cache.get(key, image=str(name), lmbda=lam)
                if hit is not None:
                    try:
                        decompress(hit[0])  # a damaged cached file is encoded again, not trusted
                    except InrkitError:
                        hit = None
                if hit is None:
                    t0 = time.perf_counter()
                    with series_named(key):  # --log: the phases' series say which image and lambda
                        r = compress(sig, lam, "coolchic", preset, progress=progress, settings=settings)
                    enc = time.perf_counter() - t0
                    data = r.data
                    encoder = {"encode_seconds": enc, "weight_bits": r.info.get("weight_bits"),
                               "training": r.info.get("training")}
                else:
                    data, encoder = hit
                    enc = encoder["encode_seconds"]
                path = tmp / f"{key}.inrk"
                path.write_bytes(data)
                t0 = time.perf_counter()
                img = decompress(path.read_bytes())  # a fresh decoder call on the file alone
                dec = time.perf_counter() - t0
                if hit is None:
                    encoder["exact"] = bool((img == r.image).all())  # the decoder agrees with the encoder's own
                    cache.put(key, data, encoder, image=str(name), lmbda=lam)
                p = {"lmbda": lam, "bytes": path.stat().st_size, "bpp": 8.0 * path.stat().st_size / (h * w),
                     "psnr": _psnr(img, ref), "encode_seconds": enc, "decode_seconds": dec,
                     "weight_bits": encoder.get("weight_bits"), "training": encoder.get("training"),
                     "exact": encoder["exact"], **({"resumed": True} if hit is not None else {})}
                inr.append(p)
                decoded[p["bpp"]] = img
                if log is not None:
                    log.write(f"bench {name} {w}x{h} lambda {lam:g}: {p['bpp']:.4f} bpp, {p['psnr']:.2f} dB, "
                              f"encode {enc:.0f} s{' (from ' + str(cache.folder) + ')' if hit else ''}, "
                              f"decode {dec:.2f} s\n")
                    log.flush()
            curves = {"inr": inr, "jpeg": jpeg, "webp": webp}
            record["images"][name] = {"shape": [h, w, sig.channels], "jpeg_settings": jextra, "webp_settings": wextra,
                                      "points": curves, **_deltas(curves)}
            crops[name] = _crops(ref, decoded, jpeg, webp, jextra)
        record["mean"] = _means(record["images"])
        record["summary_text"] = summary_text(record)
        write_json(tmp / "bench.json", record)
        (tmp / "report.html").write_text(_report(record, crops))
    cache.remove()
    return record


def _crops(ref: np.ndarray, decoded: dict[float, np.ndarray], jpeg: list[dict], webp: list[dict], jextra) -> dict:
    """Centre crops of the original and each codec's decode nearest 0.3 bpp (re-encoded for the anchors)."""
    from PIL import Image

    h, w = ref.shape[:2]
    y0, x0 = max(0, h // 2 - CROP // 2), max(0, w // 2 - CROP // 2)
    def crop(a: np.ndarray) -> np.ndarray:  # (CROP, CROP) for gray, (CROP, CROP, 3) for RGB: what PIL shows
        a = a[y0:y0 + CROP, x0:x0 + CROP]
        return a[..., 0] if a.shape[2] == 1 else a

    out = {"original": crop(ref)}
    b = min(decoded, key=lambda v: abs(math.log(v / 0.3)))
    out[f"INR {b:.3f} bpp"] = crop(decoded[b])
    arr = ref[..., 0] if ref.shape[2] == 1 else ref
    for fmt, pts in (("JPEG", jpeg), ("WEBP", webp)):
        p = min(pts, key=lambda v: abs(math.log(v["bpp"] / 0.3)))
        buf = io.BytesIO()
        kw = {"quality": p["quality"]} | ({"method": 6} if fmt == "WEBP" else {})
        Image.fromarray(arr).save(buf, format=fmt, **kw)
        with Image.open(io.BytesIO(buf.getvalue())) as d:
            img = np.asarray(d.convert("L" if ref.shape[2] == 1 else "RGB")).reshape(ref.shape)
        out[f"{fmt} {p['bpp']:.3f} bpp"] = crop(img)
    return out


def _means(images: dict) -> dict:
    def mean(vals):
        vals = [v for v in vals if v is not None]
        return sum(vals) / len(vals) if vals else None

    out = {}
    for key in ("bd_rate_vs_jpeg", "bd_psnr_vs_jpeg", "bd_rate_vs_webp", "bd_psnr_vs_webp"):
        vals = [im[key] for im in images.values()]
        out[key] = mean(vals)
        out[key + "_n"] = sum(v is not None for v in vals)
    out["psnr_at"] = {c: {str(r): mean([im["psnr_at"][c][str(r)] for im in images.values()]) for r in RATES}
                      for c in ("inr", "jpeg", "webp")}
    out["psnr_at_n"] = {c: {str(r): sum(im["psnr_at"][c][str(r)] is not None for im in images.values()) for r in RATES}
                        for c in ("inr", "jpeg", "webp")}
    inr = [p for im in images.values() for p in im["points"]["inr"]]
    out["encode_seconds_mean"] = mean([p["encode_seconds"] for p in inr])
    out["decode_seconds_mean"] = mean([p["decode_seconds"] for p in inr])
    out["decode_seconds_max"] = max((p["decode_seconds"] for p in inr), default=None)
    return out


def _f(v, fmt="{:.2f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def summary_rows(record: dict) -> list[list[str]]:
    """One row per image and the mean: PSNR at 0.15/0.3/0.6/1.0 bpp (INR / JPEG / WebP) and BD figures."""
    rows = []
    items = list(record["images"].items()) + [("mean", record["mean"])]
    for name, im in items:
        at = im["psnr_at"]
        cells = [name] + [" / ".join(_f(at[c][str(r)]) for c in ("inr", "jpeg", "webp")) for r in RATES]
        cells += [_f(im["bd_rate_vs_jpeg"], "{:+.1f} %"), _f(im["bd_psnr_vs_jpeg"], "{:+.2f} dB"),
                  _f(im["bd_rate_vs_webp"], "{:+.1f} %"), _f(im["bd_psnr_vs_webp"], "{:+.2f} dB")]
        rows.append(cells)
    return rows


SUMMARY_HEADER = ["image"] + [f"PSNR @ {r} bpp (INR / JPEG / WebP)" for r in RATES] + [
    "BD-rate vs JPEG", "BD-PSNR vs JPEG", "BD-rate vs WebP", "BD-PSNR vs WebP"]


def summary_text(record: dict) -> str:
    rows = [SUMMARY_HEADER] + summary_rows(record)
    return "\n".join(" | ".join(r) for r in rows)


def _rd_plot(record: dict) -> bytes:
    from ..report.plots import _plt, fig_to_png_bytes

    plt = _plt()
    names = list(record["images"])
    n = len(names) + 1
    cols = min(3, n)
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(4.2 * cols, 3.3 * ((n + cols - 1) // cols)),
                             squeeze=False)
    style = {"inr": ("C0", "o", "INR (cool-chic-like)"), "jpeg": ("C1", "s", "JPEG (Pillow)"),
             "webp": ("C2", "^", "WebP (Pillow, method 6)")}
    for ax, name in zip(axes.flat, names):
        for c, (col, mk, lab) in style.items():
            pts = sorted(record["images"][name]["points"][c], key=lambda p: p["bpp"])
            pts = [p for p in pts if p["bpp"] <= 2.0]
            ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], marker=mk, color=col, label=lab, ms=3)
        ax.set_title(name)
        ax.set_xlabel("bpp (file bytes)")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    ax = axes.flat[len(names)]
    for c, (col, mk, lab) in style.items():
        ys = [record["mean"]["psnr_at"][c][str(r)] for r in RATES]
        xs = [r for r, y in zip(RATES, ys) if y is not None]
        ax.plot(xs, [y for y in ys if y is not None], marker=mk, color=col, label=lab)
    ax.set_title("mean over images (at fixed rates)")
    ax.set_xlabel("bpp")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    for extra in list(axes.flat)[n:]:
        extra.axis("off")
    fig.tight_layout()
    return fig_to_png_bytes(fig)


def _report(record: dict, crops: dict) -> str:
    from ..report import html as H

    m = record["mean"]
    cards = H.cards([("mean BD-rate vs JPEG", _f(m["bd_rate_vs_jpeg"], "{:+.1f} %")),
                     ("mean BD-rate vs WebP", _f(m["bd_rate_vs_webp"], "{:+.1f} %")),
                     ("mean encode", _f(m["encode_seconds_mean"], "{:.0f} s")),
                     ("max decode", _f(m["decode_seconds_max"], "{:.2f} s"))])
    table = H.table(SUMMARY_HEADER, summary_rows(record))
    note = ("<p class='note'>Rates are the files' bytes (8 x bytes / pixels). PSNR is on the uint8 decode over all "
            "pixels and channels. BD figures use pchip over the overlapping range only; n/a where the curves "
            f"overlap by less than {bd.MIN_OVERLAP_DB} dB or have fewer than {bd.MIN_POINTS} points. "
            "Mean rows average the images where a figure exists. JPEG chroma subsampling: "
            + html.escape(", ".join(f"{k}: {v['jpeg_settings'].get('subsampling')}" for k, v in record["images"].items()))
            + ".</p>")
    figs = "".join(H.figure(img, f"{name}: {label}") for name, cs in crops.items() for label, img in cs.items())
    rows = []
    for name, im in record["images"].items():
        for p in im["points"]["inr"]:
            rows.append([name, f"{p['lmbda']:g}", f"{p['bytes']:,}", f"{p['bpp']:.4f}", f"{p['psnr']:.2f}",
                         f"{p['encode_seconds']:.0f}", f"{p['decode_seconds']:.2f}", str(p["exact"])])
    points = H.table(["image", "lambda", "bytes", "bpp", "PSNR dB", "encode s", "decode s", "decode = encoder's"],
                     rows)
    machine = html.escape(json.dumps(record["machine"]) + " " + json.dumps(record["versions"]))
    return H.page("INR compression benchmark", f"preset {record['preset']}, size {record['size'] or 'full'}",
                  [("Summary", cards + table + note), ("Rate-distortion curves", H.figure(_rd_plot(record), "RD curves")),
                   ("Crops near 0.3 bpp", figs), ("Every INR point", points),
                   ("Command and machine", H.command(record["command"]) + f"<p class='note'>{machine}</p>")])
