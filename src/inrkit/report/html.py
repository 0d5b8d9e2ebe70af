"""Self-contained HTML reports: images inlined as base64, no external files or scripts."""

from __future__ import annotations

import base64
import html
import io

import numpy as np

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d2433;background:#fafbfc;line-height:1.5}
h1{margin-bottom:.1em} h2{margin-top:1.8em;border-bottom:1px solid #dde;padding-bottom:.2em}
.sub{color:#667;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.card{background:#fff;border:1px solid #e3e6ee;border-radius:8px;padding:.6em 1em;min-width:120px}
.card b{display:block;font-size:1.5em}
.card span{color:#667;font-size:.85em}
figure{display:inline-block;margin:.4em;text-align:center;vertical-align:top}
figure img{image-rendering:pixelated;border:1px solid #dde;max-width:100%}
figcaption{font-size:.85em;color:#556}
table{border-collapse:collapse;background:#fff;margin:.6em 0}
td,th{border:1px solid #e3e6ee;padding:.3em .7em;text-align:right}
th{background:#f0f2f7} td:first-child,th:first-child{text-align:left}
code,pre{background:#f0f2f7;border-radius:4px;padding:.1em .3em}
pre{padding:.6em;overflow-x:auto}
.note{color:#556;font-size:.9em}
.cbar{display:flex;align-items:center;justify-content:center;gap:.4em;font-size:.75em;color:#445;margin:.2em 0}
.cbar img{border:1px solid #ccd;image-rendering:auto}
.cbar-label{color:#667}
figure .note{margin:.2em 0;text-align:left}
.views{display:flex;flex-wrap:wrap;align-items:flex-start}
"""


def png_data_uri(image: np.ndarray | bytes) -> str:
    """A uint8 array or PNG bytes -> ``data:image/png;base64,...``."""
    if not isinstance(image, (bytes, bytearray)):
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        image = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(image).decode()


MIN_WIDTH = 256
"""Images narrower than this are shown enlarged (nearest-neighbour, whole multiples) in reports."""


def upscale(image: np.ndarray, min_width: int = MIN_WIDTH, max_height: int = 4096) -> tuple[np.ndarray, int]:
    """Repeat each pixel ``zoom`` x ``zoom`` times (nearest neighbour) so the image is at least
    ``min_width`` wide (and at most ``max_height`` tall); return the image and ``zoom``."""
    h, w = image.shape[:2]
    zoom = max(1, -(-min_width // max(w, 1)))
    zoom = max(1, min(zoom, max_height // max(h, 1)))
    if zoom > 1:
        image = np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)
    return image, zoom


def _num(v: float) -> str:
    return f"{v:.3g}"


def colour_bar(scale) -> str:
    """An inline colour bar for a :class:`inrkit.report.plots.Scale`: min, the colour strip, max, label."""
    from .plots import colorbar

    label = f'<span class="cbar-label">{html.escape(scale.label)}</span>' if scale.label else ""
    return (f'<div class="cbar"><span>{_num(scale.vmin)}</span><img src="{png_data_uri(colorbar(scale))}" '
            f'width="160" height="10" alt="colour bar"><span>{_num(scale.vmax)}</span>{label}</div>')


def figure(image, caption: str, width: int | None = None, *, scale=None, note: str | None = None,
           min_width: int = MIN_WIDTH) -> str:
    """One image with its caption, inlined.

    A uint8 array narrower than ``min_width`` is enlarged by a whole factor with nearest-neighbour
    sampling (each pixel a visible square) and the caption says so. ``scale``
    (:class:`inrkit.report.plots.Scale`) adds a colour bar with the value range under the image;
    ``note`` is a sentence under the caption (say why a panel looks empty).
    """
    shown = width
    if not isinstance(image, (bytes, bytearray)):
        image = np.asarray(image)
        h, w = image.shape[:2]
        image, zoom = upscale(image, min_width)
        if zoom > 1:
            caption = f"{caption} ({w}x{h} px, shown {zoom}x, nearest-neighbour)"
        shown = width or image.shape[1]
    w_attr = f' width="{shown}"' if shown else ""
    style = f' style="max-width:{max(shown, 200) + 24}px"' if shown else ""
    bar = colour_bar(scale) if scale is not None else ""
    extra = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return (f'<figure{style}><img src="{png_data_uri(image)}"{w_attr}>{bar}'
            f'<figcaption>{html.escape(caption)}</figcaption>{extra}</figure>')


EXACT_DB = 100.0
"""Above this PSNR two results agree to rounding (float64 round-off lands near 300 dB, float32 near 140)."""


def decibels(value: float, exact_above: float = EXACT_DB) -> str:
    """A PSNR for people: ``31.42 dB``, or ``exact to rounding (> 100 dB)`` above ``exact_above``."""
    if value is None or value != value:
        return "n/a"
    if value > exact_above:
        return f"exact to rounding (> {exact_above:g} dB)"
    return f"{value:.2f} dB"


def command(line: str) -> str:
    """The command that made a run, escaped, or a sentence when it was made from Python."""
    if not line:
        return "<p class='note'>Made through the Python API (no command line).</p>"
    return f"<pre>{html.escape(line)}</pre>"


def cards(items: list[tuple[str, str]]) -> str:
    inner = "".join(f'<div class="card"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>' for k, v in items)
    return f'<div class="cards">{inner}</div>'


def table(header: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def page(title: str, subtitle: str, sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='sub'>{html.escape(subtitle)}</p>{body}</body></html>")
