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
"""


def png_data_uri(image: np.ndarray | bytes) -> str:
    """A uint8 array or PNG bytes -> ``data:image/png;base64,...``."""
    if not isinstance(image, (bytes, bytearray)):
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        image = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(image).decode()


def figure(image, caption: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<figure><img src="{png_data_uri(image)}"{w}><figcaption>{html.escape(caption)}</figcaption></figure>'


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
