"""How long ``inrkit view`` takes to fill a 1000 x 700 view after a zoom step, by mode.

Fits nothing itself: give it an image run folder (``inrkit fit camera --preset fast --out RUN``). The
server runs in this process; six client threads request the tiles of the view over HTTP, as the
page does (the browser's six connections per host), after one zoom step (x2 about a point off the
tile grid). Prints the wall time to fill the view, tiles per forward pass and the per-tile latency
(render + PNG) by mode. The colour scale of a derivative mode is computed once per run, when the
page first shows that mode: timed separately.

First it times the field alone on one tile per mode (best of 3, wall and CPU seconds), by every path
the viewer has had: ``lattice`` (grid-encoded fields: the encoding's separable lattice form, the
viewer's default), ``per-point`` (the field at each of the 65,536 pixel centres, as before; for a hash
grid with the current ``grid_encode``) and, with ``--old-grid FILE`` (``git show
HEAD~N:src/inrkit/encodings/grid.py > FILE``), ``per-point, old grid_encode``: the ratios old / new
come from one process. ``--variants`` says which paths also fill the view over HTTP (``new``: the
default server; ``per-point``; ``old``: per-point with the old grid_encode).

    OMP_NUM_THREADS=1 python benchmarks/view_tiles.py RUN [--zoom 16] [--threads 1] [--old-grid FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import torch

from inrkit.encodings import grid as G
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


def load_old_grid(path: str):
    """``grid_encode`` of an older ``src/inrkit/encodings/grid.py`` (a copy made with ``git show``)."""
    src = open(path).read()
    src = src.replace("from .. import specs as S", "from inrkit import specs as S")
    src = src.replace("from .modules import", "from inrkit.encodings.modules import")
    ns: dict = {"__name__": "old_grid"}
    exec(compile(src, path, "exec"), ns)  # noqa: S102 (a file the user names, from this repository)
    return ns["grid_encode"]


@contextlib.contextmanager
def variant(name: str, old_encode):
    """Switch the viewer to a path: ``new``, ``per-point`` or ``old`` (per-point, old grid_encode)."""
    lattice, encode = T.LATTICE, G.grid_encode
    T.LATTICE = name == "new"
    if name == "old":
        if old_encode is None:
            raise SystemExit("--variants old needs --old-grid FILE")
        G.grid_encode = old_encode
    try:
        yield
    finally:
        T.LATTICE, G.grid_encode = lattice, encode


def best(f, n: int = 3) -> tuple[float, float]:
    """Best wall and CPU seconds of ``n`` calls."""
    wall, cpu = math.inf, math.inf
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("--zoom", type=float, default=16.0, help="screen pixels per training pixel after the step")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own, as a user gets)")
    p.add_argument("--batch", type=int, default=8, help="most tiles per request batch (the server's default: 8)")
    p.add_argument("--modes", default=",".join(T.MODES), help="comma-separated modes to time")
    p.add_argument("--old-grid", default=None, help="an older grid.py whose grid_encode to time as well")
    p.add_argument("--variants", default="new", help="paths that fill the view: new, per-point, old")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    old_encode = load_old_grid(a.old_grid) if a.old_grid else None
    layer = open_layers([a.run], bicubic=False)[0]
    h, w = layer.shape
    modes = a.modes.split(",")
    cx, cy = 0.137, -0.071
    level, tiles = view_tiles(w, h, a.zoom, cx, cy)
    print(f"run {a.run}: {w} x {h} px, field {type(layer.model).__name__} "
          f"({type(getattr(layer.model, 'encoding', None)).__name__}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); {load()}")
    field = layer.plane_field(None)
    paths = ["new", "per-point"] + (["old"] if old_encode else [])
    print(f"the field alone, one 256 x 256 tile (level {level}), best of 3: wall / CPU")
    for mode in modes:
        row = {}
        for name in paths:
            with variant(name, old_encode):
                row[name] = best(lambda: T.tile_quantities(field, [(level, *tiles[0])], mode))
        cells = [f"{n}: {1000 * wl:.0f} / {1000 * c:.0f} ms" for n, (wl, c) in row.items()]
        ratio = f"; old / new CPU {row['old'][1] / row['new'][1]:.1f}x" if "old" in row else ""
        print(f"  {mode:9s} " + ", ".join(cells) + ratio)
    for name in a.variants.split(","):
        with variant(name, old_encode):
            fill(a, layer, name, modes, level, tiles, w, h, cx, cy)
    print(load())


def fill(a, layer, name, modes, level, tiles, w, h, cx, cy) -> None:
    """Fill the view over HTTP in each mode, from a cold server (empty cache, no colour scale yet)."""
    layer.scales.clear()
    server = make_server([layer])
    serve_in_thread(server)
    svc = server.service
    svc.batch = a.batch
    for mode in modes:
        t0 = time.perf_counter()
        svc.scale(layer, mode)
        scale_s = time.perf_counter() - t0
        # the view before the step (cached, as the page had it), then the step: zoom x2 about (cx, cy)
        level0, before = view_tiles(w, h, a.zoom / 2, cx, cy)
        for x, y in before:
            svc.tile(layer, mode, level0, x, y)
        svc.timings.clear()

        def fetch(t):
            url = f"{server.url}tile/{layer.id}/{layer.hash}/{mode}/{level}/{t[0]}/{t[1]}.png"
            with urllib.request.urlopen(url) as r:
                return r.read()

        t0, c0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(6) as pool:
            pngs = list(pool.map(fetch, tiles))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n = sum(k for _, k, _ in svc.timings)
        busy = sum(s for _, _, s in svc.timings)
        print(f"[{name}] {mode:9s}: view 1000 x 700 at zoom {a.zoom:g} (level {level}): {len(tiles)} tiles in "
              f"{wall:.2f} s ({cpu:.2f} s CPU); {len(svc.timings)} batches ({n / max(1, len(svc.timings)):.1f} tiles "
              f"each), {1000 * busy / max(1, n):.0f} ms per tile (render + PNG); colour scale once per run: "
              f"{scale_s:.2f} s; {sum(map(len, pngs)) / 1e6:.1f} MB of PNG")
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
