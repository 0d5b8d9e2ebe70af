"""Figures as uint8 arrays or PNG files (matplotlib, Agg backend, never a window)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def colorize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """Map a 2D array through a matplotlib colormap to uint8 RGB."""
    import matplotlib

    norm = np.clip((values - vmin) / (vmax - vmin if vmax > vmin else 1.0), 0, 1)
    rgba = matplotlib.colormaps[cmap](norm)
    return (rgba[..., :3] * 255).round().astype(np.uint8)


@dataclass(frozen=True)
class Scale:
    """How values became colours: ``cmap`` from ``vmin`` to ``vmax``, and what the values are.

    A report draws it as a colour bar beside the map (:func:`inrkit.report.html.figure`'s ``scale``).
    """

    cmap: str
    vmin: float
    vmax: float
    label: str = ""

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``values (H, W)`` -> uint8 RGB ``(H, W, 3)`` through this scale."""
        return colorize(values, self.cmap, self.vmin, self.vmax)


def colorbar(scale: Scale, length: int = 256) -> np.ndarray:
    """A horizontal strip ``(1, length, 3)`` of the colour map, ``vmin`` at the left."""
    return colorize(np.linspace(scale.vmin, scale.vmax, length)[None, :], scale.cmap, scale.vmin, scale.vmax)


def robust_scale(values: np.ndarray, q: float = 99.0) -> float:
    """The q-th percentile of |values|, or 1 if that is zero (an all-zero map stays black)."""
    s = float(np.percentile(np.abs(values), q))
    return s if s > 1e-12 else 1.0


def gradient_scale(grad: np.ndarray) -> Scale:
    """The scale :func:`gradient_image` uses: grayscale from 0 to the 99th percentile of |grad|."""
    return Scale("gray", 0.0, robust_scale(np.linalg.norm(grad, axis=-1)), "|gradient|")


def laplacian_scale(lap: np.ndarray) -> Scale:
    """The scale :func:`laplacian_image` uses: blue-white-red, symmetric about 0 at the 99th percentile."""
    s = robust_scale(lap)
    return Scale("RdBu_r", -s, s, "Laplacian")


def gradient_image(grad: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` gradient -> grayscale magnitude, scaled by its own 99th percentile."""
    return gradient_scale(grad).apply(np.linalg.norm(grad, axis=-1))


def laplacian_image(lap: np.ndarray) -> np.ndarray:
    """``(H, W)`` Laplacian -> diverging colours (blue negative, red positive), symmetric scale."""
    return laplacian_scale(lap).apply(lap)


def error_scale(errors: list[np.ndarray] | np.ndarray, label: str = "|error|") -> Scale:
    """A shared magma scale from 0 to the largest 99th percentile of the given absolute errors."""
    arrays = errors if isinstance(errors, list) else [errors]
    return Scale("magma", 0.0, max(robust_scale(np.abs(e)) for e in arrays), label)


def is_flat(values: np.ndarray, rel: float = 1e-3) -> bool:
    """True when at least 90 % of ``values`` are zero next to the largest (|v| <= rel max|v|):
    a map that would show as one flat colour (a hash grid's Laplacian, say)."""
    peak = float(np.abs(values).max()) if values.size else 0.0
    if peak == 0.0:
        return True
    return float(np.mean(np.abs(values) <= rel * peak)) >= 0.9


def fig_to_png_bytes(fig) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


_X_AXES = {"step": ("step", "step"), "seconds": ("seconds", "training time (s)")}
_CURVE_LABELS = {"psnr": ("PSNR (dB)", "PSNR"), "psnr_heldout": ("PSNR (dB)", "held-out PSNR"), "ssim": ("SSIM", "SSIM"), "loss": ("loss", "training loss")}


def _has(hist: list[dict], key: str) -> bool:
    return any(key in h and h[key] is not None and np.isfinite(h[key]) for h in hist)


def training_curves(histories: dict[str, list[dict]], x: str = "step",
                    keys: tuple[str, ...] = ("psnr", "ssim"), titles: dict[str, str] | None = None) -> bytes:
    """One panel per quantity in ``keys`` against ``x`` (``step`` or ``seconds`` of training), a line per run.

    A quantity no run recorded (absent or NaN throughout) gets no panel; ``loss`` is drawn on a
    log axis when it spans more than a decade. ``titles`` overrides a panel's title (``{"psnr": "held-out PSNR"}``).
    """
    if x not in _X_AXES:
        raise ValueError(f"x must be one of {', '.join(_X_AXES)}, not {x!r}")
    xkey, xlabel = _X_AXES[x]
    shown = [k for k in keys if any(_has(h, k) for h in histories.values())] or list(keys[:1])
    plt = _plt()
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.6), squeeze=False)
    for ax, key in zip(axes[0], shown):
        ylabel, title = _CURVE_LABELS.get(key, (key, key))
        for label, hist in histories.items():
            pts = [(h[xkey], h[key]) for h in hist if key in h and h.get(xkey) is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, marker="." if len(pts) < 30 else None)
        vals = [h[key] for hist in histories.values() for h in hist if key in h and np.isfinite(h[key])]
        positive = [v for v in vals if v > 0]
        if key == "loss" and positive and len(positive) == len(vals) and max(positive) > 10 * min(positive):
            ax.set_yscale("log")  # a loss falling over decades; a narrow range reads better on a linear axis
        if xkey == "step":
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=xlabel, ylabel=ylabel, title=(titles or {}).get(key, title))
        if xkey == "seconds":
            ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        if len(histories) > 1:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig_to_png_bytes(fig)


def band_snr(pred: np.ndarray, target: np.ndarray, bands: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Signal-to-error ratio per radial frequency band, in dB.

    For ``(H, W)`` images: E = FFT(pred - target), T = FFT(target); band k holds the
    frequencies whose radius (cycles per image, up to Nyquist) falls in it, and its
    value is 10 log10(sum |T|^2 / sum |E|^2). Spectral bias shows as a curve that falls
    towards high frequencies. Returns (band centres in cycles per image, dB).
    """
    h, w = target.shape
    fy = np.fft.fftfreq(h) * h
    fx = np.fft.fftfreq(w) * w
    # Radius in cycles per image, normalised so both axes reach Nyquist at 1 (non-square safe).
    r = np.sqrt((fx[None, :] / (w / 2)) ** 2 + (fy[:, None] / (h / 2)) ** 2)
    T = np.abs(np.fft.fft2(target)) ** 2
    E = np.abs(np.fft.fft2(pred - target)) ** 2
    edges = np.linspace(0, 1, bands + 1)
    snr = np.full(bands, np.nan)
    for k in range(bands):
        m = (r >= edges[k]) & (r < edges[k + 1]) if k < bands - 1 else (r >= edges[k]) & (r <= 1.0)
        if m.any():
            snr[k] = 10 * np.log10(max(T[m].sum(), 1e-20) / max(E[m].sum(), 1e-20))
    centres = 0.5 * (edges[:-1] + edges[1:]) * (min(h, w) / 2)
    return centres, snr


def spectral_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for label, (f, snr) in curves.items():
        ax.plot(f, snr, marker="o", ms=3, label=label)
    ax.set(xlabel="radial frequency (cycles per image, Nyquist at right)", ylabel="signal / error (dB)",
           title="Error per frequency band (higher is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig_to_png_bytes(fig)


def image_grid(rows: list[list[np.ndarray]], row_labels: list[str], col_labels: list[str],
               scales: list[list[Scale | None]] | None = None, notes: list[list[str | None]] | None = None) -> bytes:
    """A figure of uint8 images: rows x columns, labelled (SIREN Figure 1 layout).

    ``scales[i][j]``, where given, draws a colour bar beside cell (i, j) with the values its
    colours stand for; ``notes[i][j]`` is a short line of text under the cell (why it is empty, say).
    """
    plt = _plt()
    from matplotlib import colors as mcolors, cm

    nr, nc = len(rows), len(rows[0])
    fig, axes = plt.subplots(nr, nc, figsize=(2.5 * nc, 2.4 * nr), squeeze=False)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            ax = axes[i][j]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(col_labels[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=9)
            sc = scales[i][j] if scales is not None else None
            if sc is not None:
                mappable = cm.ScalarMappable(mcolors.Normalize(sc.vmin, sc.vmax), sc.cmap)
                cb = fig.colorbar(mappable, ax=ax, fraction=0.046, pad=0.03)
                cb.ax.tick_params(labelsize=6)
                cb.ax.yaxis.get_offset_text().set_fontsize(6)
            note = notes[i][j] if notes is not None else None
            if note:
                ax.set_xlabel(note, fontsize=7, color="#aa3311")
    fig.tight_layout()
    return fig_to_png_bytes(fig)
