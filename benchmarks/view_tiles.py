"""How long ``inrkit view`` takes to fill a 1000 x 700 view after a zoom step, by mode.

Fits nothing itself: give it an image run folder (``inrkit fit camera --preset fast --out RUN``). The
server runs in this process; six client threads request the tiles of the view over HTTP, as the
page does (the browser's six connections per host), after one zoom step (x2 about a point off the
tile grid). Prints the wall time to fill the view, tiles per forward pass and the per-tile latency
(render + PNG) by mode. The colour scale of a derivative mode is computed once per run, when the
page first shows that mode: timed separately.

    OMP_NUM_THREADS=1 python benchmarks/view_tiles.py RUN [--zoom 16] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import torch

from inrkit.view import make_server, open_layers, serve_in_thread
from inrkit.view import tiles as T


def view_tiles(w_train: int, h_train: int, zoom: float, cx: float, cy: float, width: int = 1000,
               height: int = 700) -> tuple[int, list[tuple[int, int]]]:
    """The level and tiles a ``width x height`` pane shows at ``zoom`` about ``(cx, cy)`` (as view.js)."""
    level = max(0, min(T.MAX_LEVEL, math.ceil(math.log2(zoom * max(w_train, h_train) / T.TILE) - 1e-9)))
    kx, ky = zoom * w_train / 2, zoom * h_train / 2
    xl, xr = cx - width / 2 / kx, cx + width / 2 / kx
    yt, yb = cy - height / 2 / ky, cy + height / 2 / ky
    n, tu = 1 << level, 2.0 / (1 << level)
    xs = range(max(0, math.floor((xl + 1) / tu)), min(n - 1, math.floor((xr + 1) / tu)) + 1)
    ys = range(max(0, math.floor((yt + 1) / tu)), min(n - 1, math.floor((yb + 1) / tu)) + 1)
    return level, [(x, y) for y in ys for x in xs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("--zoom", type=float, default=16.0, help="screen pixels per training pixel after the step")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--batch", type=int, default=8, help="most tiles per forward pass (the server's default: 8)")
    p.add_argument("--modes", default=",".join(T.MODES), help="comma-separated modes to time")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    layer = open_layers([a.run], bicubic=False)[0]
    h, w = layer.shape
    server = make_server([layer])
    serve_in_thread(server)
    svc = server.service
    svc.batch = a.batch
    cx, cy = 0.137, -0.071
    print(f"run {a.run}: {w} x {h} px, field {type(layer.model).__name__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), at most {a.batch} tiles per forward pass")
    x = T.tile_coords(5, 3, 4)
    field_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        T.quantity(layer.model, x, "value")
        field_s.append(time.perf_counter() - t0)
    print(f"the field alone: {1000 * min(field_s):.0f} ms per 256 x 256 tile of values (best of 3)")
    for mode in a.modes.split(","):
        t0 = time.perf_counter()
        svc.scale(layer, mode)
        scale_s = time.perf_counter() - t0
        # the view before the step (cached, as the page had it), then the step: zoom x2 about (cx, cy)
        level0, before = view_tiles(w, h, a.zoom / 2, cx, cy)
        for x, y in before:
            svc.tile(layer, mode, level0, x, y)
        svc.timings.clear()
        level, tiles = view_tiles(w, h, a.zoom, cx, cy)

        def fetch(t):
            url = f"{server.url}tile/{layer.id}/{layer.hash}/{mode}/{level}/{t[0]}/{t[1]}.png"
            with urllib.request.urlopen(url) as r:
                return r.read()

        t0 = time.perf_counter()
        with ThreadPoolExecutor(6) as pool:
            pngs = list(pool.map(fetch, tiles))
        wall = time.perf_counter() - t0
        n = sum(k for _, k, _ in svc.timings)
        busy = sum(s for _, _, s in svc.timings)
        print(f"{mode:9s}: view 1000 x 700 at zoom {a.zoom:g} (level {level}): {len(tiles)} tiles in {wall:.2f} s; "
              f"{len(svc.timings)} forward passes ({n / max(1, len(svc.timings)):.1f} tiles each), "
              f"{1000 * busy / max(1, n):.0f} ms per tile (render + PNG); colour scale once per run: "
              f"{scale_s:.2f} s; {sum(map(len, pngs)) / 1e6:.1f} MB of PNG")
    server.shutdown()


if __name__ == "__main__":
    main()
