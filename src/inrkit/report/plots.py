"""Figures as uint8 arrays or PNG files (matplotlib, Agg backend, never a window)."""

from __future__ import annotations

import io

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


def robust_scale(values: np.ndarray, q: float = 99.0) -> float:
    """The q-th percentile of |values|, or 1 if that is zero (an all-zero map stays black)."""
    s = float(np.percentile(np.abs(values), q))
    return s if s > 1e-12 else 1.0


def gradient_image(grad: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` gradient -> grayscale magnitude, scaled by its own 99th percentile."""
    mag = np.linalg.norm(grad, axis=-1)
    return colorize(mag, "gray", 0.0, robust_scale(mag))


def laplacian_image(lap: np.ndarray) -> np.ndarray:
    """``(H, W)`` Laplacian -> diverging colours (blue negative, red positive), symmetric scale."""
    s = robust_scale(lap)
    return colorize(lap, "RdBu_r", -s, s)


def fig_to_png_bytes(fig) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def training_curves(histories: dict[str, list[dict]]) -> bytes:
    """PSNR and SSIM against step, one line per run."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, hist in histories.items():
        steps = [h["step"] for h in hist]
        axes[0].plot(steps, [h["psnr"] for h in hist], label=label)
        axes[1].plot(steps, [h["ssim"] for h in hist], label=label)
    axes[0].set(xlabel="step", ylabel="PSNR (dB)", title="PSNR")
    axes[1].set(xlabel="step", ylabel="SSIM", title="SSIM")
    for ax in axes:
        ax.grid(alpha=0.3)
    if len(histories) > 1:
        axes[0].legend(fontsize=8)
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


def image_grid(rows: list[list[np.ndarray]], row_labels: list[str], col_labels: list[str]) -> bytes:
    """A figure of uint8 images: rows x columns, labelled (SIREN Figure 1 layout)."""
    plt = _plt()
    nr, nc = len(rows), len(rows[0])
    fig, axes = plt.subplots(nr, nc, figsize=(2.2 * nc, 2.2 * nr), squeeze=False)
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
    fig.tight_layout()
    return fig_to_png_bytes(fig)
