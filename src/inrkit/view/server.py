"""The HTTP side of ``inrkit view``: a standard-library threading server over a tile service.

Why ``http.server.ThreadingHTTPServer`` and not Starlette + uvicorn: the viewer answers a handful
of GET routes on the loopback address for one person; what costs time is the field, not the
protocol. The standard library adds no dependency to inrkit, has no event loop to keep out of
torch's way (a render holds the CPU for tens of milliseconds, which would stall an async server's
loop unless pushed to threads anyway), and a thread per connection lets a request whose client
went away be noticed and dropped before its tile is rendered.

Routes (GET only; any other method gets 405):

- ``/`` and ``/static/NAME``: the page, from the package's ``static`` folder only (names listed
  at start; nothing else on disk is reachable);
- ``/api/info``: the layers, their hashes, training sizes, the tile size and deepest level;
- ``/api/scale/LAYER/HASH/MODE``: the mode's colour scale for that layer (computed once);
- ``/tile/LAYER/HASH/MODE/L/X/Y.png``: a tile, ``Cache-Control: immutable`` (the hash names the
  weights); a tile outside the pyramid, an unknown layer, mode or a stale hash gets 404; a volume's
  tiles take ``?z=`` (the slice, within the volume's bounds);
- ``/nerf/LAYER/HASH/view.png?az=&el=&r=&w=``: a NeRF camera view of width ``w`` (at most 800);
- ``/audio/LAYER/HASH/wave.json?t0=&t1=&n=``: an audio field at ``n`` points of ``[t0, t1]``;
  ``/audio/LAYER/HASH/play.wav?t0=&t1=``: that stretch resampled at the training rate (at most 30 s).

Every request's ``Host`` header must name the loopback interface (``127.0.0.1``, ``localhost``,
``[::1]``), else 403: a web page elsewhere that rebinds its DNS name to 127.0.0.1 cannot read the
viewer. Serving other interfaces (``--host 0.0.0.0 --allow-remote``) replaces that check by a
random token that every request must carry (the URL printed, then a cookie).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import select
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field as dc_field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np
import torch

from ..errors import InrkitError
from . import tiles as T
from .layers import Layer

STATIC = Path(__file__).with_name("static")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
MAX_NERF_WIDTH = 800
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
_TILE = re.compile(r"^/tile/([A-Za-z0-9_]{1,16})/([A-Za-z0-9_-]{1,40})/([a-z]{1,12})/"
                   r"(\d{1,2})/(\d{1,6})/(\d{1,6})\.png$")
_SCALE = re.compile(r"^/api/scale/([A-Za-z0-9_]{1,16})/([A-Za-z0-9_-]{1,40})/([a-z]{1,12})$")
_AUDIO = re.compile(r"^/audio/([A-Za-z0-9_]{1,16})/([A-Za-z0-9_-]{1,40})/(wave\.json|play\.wav)$")
MAX_WAVE_POINTS = 8192
MAX_PLAY_SECONDS = 30.0
_NERF = re.compile(r"^/nerf/([A-Za-z0-9_]{1,16})/([A-Za-z0-9_-]{1,40})/view\.png$")


@dataclass
class _Job:
    key: tuple  # (layer id, hash, mode, level, tx, ty)
    alive: Callable[[], bool]
    done: threading.Event = dc_field(default_factory=threading.Event)
    result: bytes | None = None


class TileService:
    """Renders, caches and batches tiles; one lock around the models.

    A request adds a job and waits. Whichever waiting thread gets the model lock takes up to
    ``batch`` pending jobs of one layer and mode, drops those whose client has gone (the page aborts
    requests for tiles that left the view, which closes their connection), renders the rest in one
    forward pass and wakes their threads. Finished tiles go into an LRU cache of ``cache_tiles``
    PNGs keyed by layer, weights hash, mode and tile.
    """

    def __init__(self, layers: list[Layer], cache_tiles: int = 4096, batch: int = 8):
        self.layers = {layer.id: layer for layer in layers}
        self.lock = threading.Lock()
        self._jobs: list[_Job] = []
        self._jobs_lock = threading.Lock()
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_tiles, self.batch = cache_tiles, batch
        self.stats = {"requested": 0, "rendered": 0, "cached": 0, "dropped": 0, "batches": 0}
        self.seen: list[tuple] = []  # every tile request (layer, mode, level, tx, ty): tests and the benchmark read it
        self.timings: list[tuple[str, int, float]] = []  # (mode, tiles in the batch, seconds)
        self.seen_views: list[tuple] = []  # every NeRF view request (layer, az, el, radius, width)

    # ---- colour scales ----
    def scale(self, layer: Layer, mode: str) -> T.ColourScale:
        """The layer's colour scale of ``mode`` (one coarse render, once per weights and mode; for a volume,
        of its middle slice, used by every slice)."""
        key = (layer.hash, mode)
        s = layer.scales.get(key)
        if s is None:
            with self.lock:
                s = layer.scales.get(key)
                if s is None:
                    s = T.global_scale(layer.plane_field(None), mode)
                    layer.scales[key] = s
        return s

    # ---- tiles ----
    def _cached(self, key: tuple) -> bytes | None:
        with self._cache_lock:
            png = self._cache.get(key)
            if png is not None:
                self._cache.move_to_end(key)
            return png

    def _store(self, key: tuple, png: bytes) -> None:
        with self._cache_lock:
            self._cache[key] = png
            while len(self._cache) > self.cache_tiles:
                self._cache.popitem(last=False)

    def tile(self, layer: Layer, mode: str, level: int, tx: int, ty: int,
             alive: Callable[[], bool] = lambda: True, z: float | None = None) -> bytes | None:
        """PNG bytes of a tile (of the slice at ``z`` for a volume), or ``None`` when its client went away
        before it was rendered."""
        key = (layer.id, layer.hash, mode, z, level, tx, ty)
        self.stats["requested"] += 1
        self.seen.append((layer.id, mode, level, tx, ty, z))
        png = self._cached(key)
        if png is not None:
            self.stats["cached"] += 1
            return png
        job = _Job(key, alive)
        with self._jobs_lock:
            self._jobs.append(job)
        while not job.done.is_set():
            if self.lock.acquire(timeout=0.02):
                try:
                    if not job.done.is_set():
                        self._run_batch(job)
                finally:
                    self.lock.release()
        return job.result

    def _take(self, first: _Job) -> list[_Job]:
        """Up to ``batch`` pending jobs of the layer, weights and mode of the oldest one (which may
        not be ``first``); jobs whose client is gone are finished with no result."""
        with self._jobs_lock:
            live = []
            for j in self._jobs:
                if j.alive():
                    live.append(j)
                else:
                    j.done.set()
                    self.stats["dropped"] += 1
            if not live:
                self._jobs = []
                return []
            group = live[0].key[:4]
            batch = [j for j in live if j.key[:4] == group][:self.batch]
            taken = set(map(id, batch))
            self._jobs = [j for j in live if id(j) not in taken]
            return batch

    def _run_batch(self, first: _Job) -> None:
        jobs = self._take(first)
        if not jobs:
            return
        lid, digest, mode, z = jobs[0].key[:4]
        layer = self.layers[lid]
        todo: dict[tuple, list[_Job]] = {}
        for j in jobs:
            png = self._cached(j.key)
            if png is not None or j.key[1] != layer.hash:  # rendered meanwhile, or weights changed (live)
                j.result = png
                j.done.set()
            else:
                todo.setdefault(j.key, []).append(j)
        if not todo:
            return
        keys = list(todo)
        scale = layer.scales.get((layer.hash, mode)) or T.global_scale(layer.plane_field(None), mode)
        layer.scales[(layer.hash, mode)] = scale
        t0 = time.perf_counter()
        imgs = T.render_tiles(layer.plane_field(z), [k[4:] for k in keys], mode, scale)
        pngs = [T.png_bytes(im) for im in imgs]
        self.timings.append((mode, len(keys), time.perf_counter() - t0))
        self.stats["batches"] += 1
        self.stats["rendered"] += len(keys)
        for k, png in zip(keys, pngs):
            self._store(k, png)
            for j in todo[k]:
                j.result = png
                j.done.set()

    # ---- audio ----
    def wave(self, layer: Layer, t0: float, t1: float, n: int) -> np.ndarray:
        """The field at the ``n`` cell centres of ``[t0, t1]``: ``(n, C)`` values in the field's units."""
        from .. import coords as C

        t = C.axis(n, t0, t1, dtype=torch.float64).float()[:, None]  # (n, 1)
        with self.lock:
            return T.quantity(layer.model, t, "value").numpy()

    def play(self, layer: Layer, t0: float, t1: float) -> bytes:
        """A WAV (16-bit PCM) of ``[t0, t1]`` resampled by the field at the training rate, at most 30 s."""
        import io
        import wave as wavmod

        sig = layer.meta.get("signal") or {}
        n_train, rate = layer.shape[1], int(sig.get("sample_rate") or 1)
        exact = (t1 - t0) / 2 * n_train  # training samples in [t0, t1]
        n = max(1, min(round(exact), int(MAX_PLAY_SECONDS * rate)))
        if n < round(exact):  # longer than 30 s: play its first 30 s
            t1 = t0 + (t1 - t0) * n / exact
        v = self.wave(layer, t0, t1, n)
        lo, hi = (sig.get("value_range") or [-1.0, 1.0])[:2]
        audio = np.clip(lo + (v + 1.0) / 2.0 * (hi - lo), -1.0, 1.0)  # signal units, full scale +-1
        pcm = np.round(audio * 32767).astype("<i2")
        buf = io.BytesIO()
        with wavmod.open(buf, "wb") as w:
            w.setnchannels(pcm.shape[1])
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        return buf.getvalue()

    # ---- NeRF ----
    def nerf_view(self, layer: Layer, az: float, el: float, radius: float, width: int) -> bytes:
        """A camera view of a NeRF layer: orbit angles in degrees, ``width`` pixels wide (the training
        camera's field of view and aspect ratio)."""
        from ..rendering.nerf import render_image
        from ..rendering.rays import camera_rays, orbit_poses
        from ..pixels import to_uint8

        self.seen_views.append((layer.id, az, el, radius, width))
        meta = layer.meta
        h0, w0 = meta["image_size"]
        fx, fy, cx, cy = meta["intrinsics"]
        s = width / w0
        h, w = max(1, round(h0 * s)), width
        cam = layer.info()["camera"]
        c2w = orbit_poses(1, radius, el, tuple(cam["center"]), start_deg=az)[0]
        bgname = meta.get("background", "white")
        bg = torch.ones(3) if bgname == "white" else torch.zeros(3)
        with self.lock, torch.no_grad():
            dev = next(layer.model.parameters()).device
            o, d = camera_rays(h, w, fx * s, fy * s, cx * s, cy * s, c2w)
            r = render_image(layer.model, o.to(dev), d.to(dev), bg.to(dev))
            img = to_uint8(r["rgb"].cpu().numpy())
        return T.png_bytes(img if img.ndim == 3 else np.repeat(img[..., None], 3, -1))


def _alive(sock: socket.socket) -> Callable[[], bool]:
    """Whether the client of ``sock`` is still there: a closed connection reads as end of file."""
    def check() -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return True
            return sock.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False
    return check


def host_allowed(host_header: str | None) -> bool:
    """True when a ``Host`` header names the loopback interface: ``NAME`` or ``NAME:PORT`` with NAME one of
    :data:`LOOPBACK_NAMES` and PORT digits."""
    if not host_header:
        return False
    h = host_header.strip().lower()
    m = re.fullmatch(r"(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?", h)
    return bool(m) and m.group(1) in LOOPBACK_NAMES


class Handler(BaseHTTPRequestHandler):
    server: "ViewServer"
    protocol_version = "HTTP/1.1"
    server_version = "inrkit-view"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: the terminal shows the URL, not every tile
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8", cache: str = "no-store",
              extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; connect-src 'self'; "
                                                    "media-src 'self'; style-src 'self'; script-src 'self'")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, code: int, message: str) -> None:
        self._send(code, (message + "\n").encode())

    def _json(self, doc, cache: str = "no-store") -> None:
        self._send(200, json.dumps(doc).encode(), "application/json", cache)

    def _refuse_method(self):
        self.send_response(405)
        self.send_header("Allow", "GET")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = _refuse_method

    def _authorised(self, query: dict) -> tuple[bool, dict]:
        token = self.server.token
        if token is None:
            return host_allowed(self.headers.get("Host")), {}
        given = (query.get("token") or [""])[0]
        cookie = self.headers.get("Cookie") or ""
        has_cookie = any(part.strip() == f"inrkit_view={token}" for part in cookie.split(";"))
        if secrets.compare_digest(given, token):
            return True, {"Set-Cookie": f"inrkit_view={token}; HttpOnly; SameSite=Strict; Path=/"}
        return has_cookie, {}

    def do_GET(self):  # noqa: N802 (the standard library's name)
        try:
            self._get()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _get(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        ok, extra = self._authorised(query)
        if not ok:
            return self._error(403, "forbidden: the viewer answers requests for 127.0.0.1 or localhost only")
        path = url.path
        srv = self.server
        if path in ("/", "/index.html"):
            return self._static("index.html", extra)
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):], extra)
        if path == "/api/info":
            return self._json({"layers": [layer.info() for layer in srv.service.layers.values()],
                               "tile": T.TILE, "max_level": T.MAX_LEVEL, "modes": list(T.MODES),
                               "live": srv.live, "title": srv.title})
        m = _TILE.match(path)
        if m:
            return self._tile(*m.groups(), query=query)
        m = _SCALE.match(path)
        if m:
            layer = srv.service.layers.get(m.group(1))
            if layer is None or not layer.tiled or m.group(3) not in T.MODES or m.group(2) != layer.hash:
                return self._error(404, "no such layer, mode or weights")
            return self._json(srv.service.scale(layer, m.group(3)).to_json(), "private, max-age=31536000, immutable")
        m = _NERF.match(path)
        if m:
            return self._nerf(m.group(1), m.group(2), query)
        m = _AUDIO.match(path)
        if m:
            return self._audio(*m.groups(), query)
        return self._error(404, "not found")

    def _static(self, name: str, extra: dict) -> None:
        if name not in self.server.static_files:
            return self._error(404, "not found")
        body = (STATIC / name).read_bytes()
        self._send(200, body, CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"), "no-cache", extra)

    def _tile(self, lid: str, digest: str, mode: str, level: str, tx: str, ty: str, query: dict) -> None:
        srv = self.server
        layer = srv.service.layers.get(lid)
        L, x, y = int(level), int(tx), int(ty)
        if layer is None or not layer.tiled or mode not in T.MODES:
            return self._error(404, "no such layer or mode")
        z = None
        if "z" in query:
            try:
                z = float(query["z"][0])
            except ValueError:
                return self._error(404, "z must be a number")
        if not layer.slice_ok(z):
            return self._error(404, "a volume's tiles need z within its bounds; other layers take none")
        if not T.in_range(L, x, y):
            return self._error(404, f"tile ({L}, {x}, {y}) is outside the pyramid (levels 0 to {T.MAX_LEVEL})")
        if digest != layer.hash:
            return self._error(404, "stale weights: reload /api/info")
        png = srv.service.tile(layer, mode, L, x, y, _alive(self.connection), z)
        if png is None:
            self.close_connection = True
            return None
        cache = "no-store" if layer.live else "private, max-age=31536000, immutable"
        self._send(200, png, "image/png", cache)

    def _audio(self, lid: str, digest: str, what: str, query: dict) -> None:
        layer = self.server.service.layers.get(lid)
        if layer is None or layer.kind != "audio" or digest != layer.hash:
            return self._error(404, "no such audio layer or weights")
        try:
            t0, t1 = (float((query.get(k) or ["nan"])[0]) for k in ("t0", "t1"))
            n = int((query.get("n") or ["2"])[0])
        except ValueError:
            return self._error(404, "t0, t1 and n must be numbers")
        if not (-1.0 <= t0 < t1 <= 1.0 and 2 <= n <= MAX_WAVE_POINTS):
            return self._error(404, f"need -1 <= t0 < t1 <= 1 and 2 <= n <= {MAX_WAVE_POINTS}")
        if (t1 - t0) / n < 2.0 ** -24:  # float32 cannot tell the points apart: past the zoom cap
            return self._error(404, "points closer than float32 resolves (2^-24)")
        if what == "play.wav":
            return self._send(200, self.server.service.play(layer, t0, t1), "audio/wav", "private, max-age=3600")
        v = self.server.service.wave(layer, t0, t1, n)
        doc = {"t0": t0, "t1": t1, "n": n,
               "channels": [[round(float(x), 5) for x in v[:, c]] for c in range(v.shape[1])]}
        self._send(200, json.dumps(doc).encode(), "application/json", "private, max-age=31536000, immutable")

    def _nerf(self, lid: str, digest: str, query: dict) -> None:
        layer = self.server.service.layers.get(lid)
        if layer is None or layer.kind != "nerf" or digest != layer.hash:
            return self._error(404, "no such NeRF layer or weights")
        try:
            az, el, r = (float((query.get(k) or ["nan"])[0]) for k in ("az", "el", "r"))
            w = int((query.get("w") or ["0"])[0])
        except ValueError:
            return self._error(404, "az, el, r and w must be numbers")
        if not (math.isfinite(az) and math.isfinite(el) and math.isfinite(r) and -89.9 <= el <= 89.9
                and 0 < r < 1e4 and 1 <= w <= MAX_NERF_WIDTH):
            return self._error(404, f"view out of range (elevation within 90 degrees, radius > 0, "
                                    f"1 <= w <= {MAX_NERF_WIDTH})")
        png = self.server.service.nerf_view(layer, az, el, r, w)
        self._send(200, png, "image/png", "private, max-age=31536000, immutable")


class ViewServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address, service: TileService, token: str | None = None, live: bool = False,
                 title: str = "inrkit view", verbose: bool = False):
        self.service, self.token, self.live, self.title, self.verbose = service, token, live, title, verbose
        self.static_files = frozenset(p.name for p in STATIC.iterdir() if p.is_file())
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("127.0.0.1", "0.0.0.0", "") else host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/" + (f"?token={self.token}" if self.token else "")


def make_server(layers: list[Layer], host: str = "127.0.0.1", port: int | None = None,
                allow_remote: bool = False, live: bool = False, title: str = "inrkit view",
                verbose: bool = False, cache_tiles: int = 4096) -> ViewServer:
    """Bind the viewer (not yet serving). ``port=None``: a free port chosen by the system. A busy ``port``
    given by the user raises :class:`InrkitError`. A ``host`` other than loopback needs ``allow_remote``
    and then every request must carry a random token."""
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not loopback and not allow_remote:
        raise InrkitError(f"--host {host} would serve the viewer beyond this machine; add --allow-remote to mean it")
    token = None if loopback else secrets.token_urlsafe(16)
    service = TileService(layers, cache_tiles=cache_tiles)
    cls = ViewServer
    if ":" in host:
        cls = type("ViewServer6", (ViewServer,), {"address_family": socket.AF_INET6})
    try:
        return cls((host, 0 if port is None else port), service, token, live, title, verbose)
    except OSError as exc:
        if port is not None:
            raise InrkitError(f"port {port} on {host} is not free ({exc.strerror or exc}); choose another --port "
                              "or leave it out for a free one") from None
        raise InrkitError(f"cannot listen on {host}: {exc.strerror or exc}") from None


def serve_in_thread(server: ViewServer) -> threading.Thread:
    """Serve ``server`` from a daemon thread (tests, the training callback); ``server.shutdown()`` stops it."""
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                         name="inrkit-view")
    t.start()
    return t
