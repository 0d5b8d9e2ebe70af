"""COIN (a quantised SIREN as the file) across resolutions: the seed's "INR size vs array size".

    python benchmarks/codec_coin.py [STEPS] [SIZES...]

One SIREN recipe (width 32, 3 hidden layers, w0 30, Adam 2e-4 as in COIN) fitted to the built-in
camera at each size, its weights quantised per tensor and range-coded into a .inrk file
(lambda 1e-3 picks the precision). Prints the file's bytes against the raw 8-bit array's, bpp,
PSNR decoded from the file, and Pillow JPEG's PSNR at the nearest rate it reaches (quality sweep).
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np
from PIL import Image

from inrkit.codec import compress, decompress
from inrkit.codec.coin import CoinSettings
from inrkit.signals import load_image


def psnr(a, b) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def jpeg_at(ref: np.ndarray, bpp: float) -> tuple[float, float]:
    h, w = ref.shape[:2]
    best = None
    for q in range(1, 96):
        buf = io.BytesIO()
        Image.fromarray(ref[..., 0]).save(buf, format="JPEG", quality=q)
        b = 8 * len(buf.getvalue()) / (h * w)
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())))[..., None]
        if best is None or abs(np.log(b / bpp)) < abs(np.log(best[0] / bpp)):
            best = (b, psnr(dec, ref))
    return best


def main(steps: int, sizes: list[int]) -> None:
    settings = CoinSettings(width=32, hidden_layers=3, steps=steps)
    print(f"SIREN 32x3, {steps} steps; camera; lambda 1e-3")
    print(f"{'size':>9} {'raw bytes':>10} {'file bytes':>10} {'file/raw':>8} {'bpp':>6} {'PSNR':>6} "
          f"{'JPEG bpp':>8} {'JPEG PSNR':>9} {'encode s':>8}")
    for s in sizes:
        sig = load_image("camera", size=s)
        ref = np.round(sig.pixels * 255).astype(np.uint8)
        t0 = time.perf_counter()
        r = compress(sig, 1e-3, codec="coin", settings=settings)
        enc = time.perf_counter() - t0
        img = decompress(r.data)
        jb, jp = jpeg_at(ref, r.bpp)
        raw = ref.size
        print(f"{s:>4}x{s:<4} {raw:>10,} {len(r.data):>10,} {len(r.data) / raw:>8.3f} {r.bpp:>6.3f} {psnr(img, ref):>6.2f} "
              f"{jb:>8.3f} {jp:>9.2f} {enc:>8.0f}   ({r.info['bits']} bits below std)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, [int(x) for x in sys.argv[2:]] or [64, 128, 256])
