"""inrkit view's server without a browser: routes, Host check, ranges, caching by weights, dropping,
batching, bad input, and the fit --view callback."""

import http.client
import socket
import threading

import numpy as np
import pytest
import torch
from view_helpers import Wave, tiny_audio_run, tiny_nerf_run, tiny_run, tiny_volume_run, wave_layer

from inrkit.cli import main
from inrkit.errors import InrkitError
from inrkit.train import checkpoint, fit
from inrkit.train.fit import Callback
from inrkit.view import LiveView, TileService, check_comparable, load_run, make_server, open_layers, serve_in_thread
from inrkit.view.layers import Layer
from inrkit.view.server import host_allowed

from conftest import interruptible


@pytest.fixture
def served():
    servers = []

    def start(layers, **kw):
        s = make_server(layers, **kw)
        serve_in_thread(s)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def get(server, path, host=None, method="GET"):
    port = server.server_address[1]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest(method, path, skip_host=True)
    c.putheader("Host", host or f"127.0.0.1:{port}")
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def test_routes_cache_headers_and_ranges(served):
    s = served([wave_layer()])
    code, headers, body = get(s, "/")
    assert code == 200 and b"view.js" in body and "text/html" in headers["Content-Type"]
    code, _, body = get(s, "/api/info")
    assert code == 200 and b'"max_level": 16' in body
    code, headers, png = get(s, "/tile/0/w1/value/2/3/1.png")
    assert code == 200 and png[:4] == b"\x89PNG" and "immutable" in headers["Cache-Control"]
    for bad in ("/tile/0/w1/value/17/0/0.png", "/tile/0/w1/value/2/4/0.png", "/tile/0/w1/value/0/0/1.png",
                "/tile/0/w1/colour/0/0/0.png", "/tile/9/w1/value/0/0/0.png", "/tile/0/STALE/value/0/0/0.png",
                "/static/../layers.py", "/static/%2e%2e/server.py", "/static/nothing.js", "/etc/passwd"):
        assert get(s, bad)[0] == 404, bad
    assert get(s, "/tile/0/w1/value/2/3/1.png", method="POST")[0] == 405
    code, _, body = get(s, "/api/scale/0/w1/laplacian")
    assert code == 200 and b'"diverging"' in body


@pytest.mark.parametrize("host,ok", [("127.0.0.1:8000", True), ("localhost:1", True), ("[::1]:80", True),
                                     ("localhost", True), ("evil.example:8000", False),
                                     ("127.0.0.1.evil.example", False), ("", False), (None, False),
                                     ("127.0.0.1:80@evil.example", False), ("localhost:x", False),
                                     ("[::1]", True), ("[::2]:80", False)])
def test_host_check(host, ok):
    assert host_allowed(host) is ok


def test_foreign_host_gets_403(served):
    s = served([wave_layer()])
    assert get(s, "/", host="attacker.example")[0] == 403
    assert get(s, "/tile/0/w1/value/0/0/0.png", host=f"rebind.example:{s.server_address[1]}")[0] == 403


def test_remote_needs_flag_and_token(served):
    with pytest.raises(InrkitError, match="--allow-remote"):
        make_server([wave_layer()], host="0.0.0.0")
    s = served([wave_layer()], host="0.0.0.0", allow_remote=True)
    assert "?token=" in s.url
    token = s.url.split("token=")[1]
    assert get(s, "/api/info", host="anything.example")[0] == 403
    code, headers, _ = get(s, f"/?token={token}", host="anything.example")
    assert code == 200 and token in headers["Set-Cookie"]


def test_cache_key_follows_the_checkpoint(tmp_path, served):
    run = tiny_run(tmp_path / "run")
    a = load_run(run, "0")
    before = get(served([a]), f"/tile/0/{a.hash}/value/0/0/0.png")[2]
    field, meta = checkpoint.load(run)
    with torch.no_grad():
        for p in field.parameters():
            p.mul_(1.5)
    checkpoint.save(run / "model", field, meta)  # retrained: other bytes, another hash, other tiles
    b = load_run(run, "0")
    assert b.hash != a.hash
    s = served([b])
    assert get(s, f"/tile/0/{a.hash}/value/0/0/0.png")[0] == 404
    after = get(s, f"/tile/0/{b.hash}/value/0/0/0.png")[2]
    assert after != before


def test_lru_cache_batching_and_dropping():
    layer = wave_layer()
    svc = TileService([layer], cache_tiles=3, batch=4)
    first = svc.tile(layer, "value", 1, 0, 0)
    assert svc.tile(layer, "value", 1, 0, 0) == first and svc.stats["cached"] == 1
    for t in ((1, 1, 0), (1, 0, 1), (1, 1, 1)):
        svc.tile(layer, "value", *t)
    assert len(svc._cache) == 3  # least recently used evicted
    assert svc.tile(layer, "value", 2, 0, 0, alive=lambda: False) is None and svc.stats["dropped"] == 1
    # concurrent requests share forward passes
    svc2 = TileService([layer], batch=8)
    svc2.lock.acquire()
    out = {}
    threads = [threading.Thread(target=lambda t=t: out.__setitem__(t, svc2.tile(layer, "gradient", 2, *t)))
               for t in [(x, y) for x in range(4) for y in range(2)]]
    for th in threads:
        th.start()
    while len(svc2._jobs) < len(threads):
        threading.Event().wait(0.01)
    svc2.lock.release()
    for th in threads:
        th.join()
    assert len(out) == 8 and all(v[:4] == b"\x89PNG" for v in out.values())
    assert svc2.stats["rendered"] == 8 and svc2.stats["batches"] == 1
    assert {k[2] for k in svc2.seen} == {2}


def test_bad_input(tmp_path, capsys):
    with pytest.raises(InrkitError, match="not found"):
        open_layers([tmp_path / "missing"])
    run = tiny_run(tmp_path / "run")
    st = run / "model.safetensors"
    st.write_bytes(st.read_bytes()[:50])
    with pytest.raises(InrkitError, match="corrupt|truncated"):
        load_run(run, "0")
    img, nerf = wave_layer(), Layer("1", "scene", "nerf", "h", Wave(), {})
    with pytest.raises(InrkitError, match="different kinds"):
        check_comparable([img, nerf])
    assert main(["view", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_busy_port(served):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(InrkitError, match=f"port {port}"):
            make_server([wave_layer()], port=port)
        s = served([wave_layer()])  # no --port: a free one
        assert s.server_address[1] != port


def test_live_view_callback_serves_changing_weights():
    """fit --view: LiveView beside ImageEvaluation in the one loop, as fit_signal would wire it."""
    from inrkit.apps.image import ImageEvaluation, signal_from_array
    from inrkit.config import FieldConfig, build_field
    from inrkit.objectives import Reconstruction

    yy, xx = np.mgrid[0:16, 0:16] / 16.0
    signal = signal_from_array((0.5 + 0.4 * np.sin(5 * xx) * np.cos(3 * yy)).astype(np.float32))
    field = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1,
                        generator=torch.Generator().manual_seed(0))
    view = LiveView(seconds=0.0, announce=lambda s: None)  # shape and field from ImageEvaluation
    seen = {}

    class Probe(Callback):
        def after_step(self, state):
            if state.step == 1:
                s, layer = view.server, view.server.service.layers["0"]
                seen["hash"], seen["tile"] = layer.hash, get(s, f"/tile/0/{layer.hash}/value/0/0/0.png")[2]

    try:
        fit(field, signal.sampler(0), Reconstruction(), steps=30, lr=1e-3,
            callbacks=[ImageEvaluation(field, signal, 10), view, Probe()])
        s = view.server
        layer = s.service.layers["0"]
        code, _, info = get(s, "/api/info")
        assert code == 200 and b'"live": true' in info and b'"step": 30' in info
        assert layer.shape == (16, 16) and layer.psnr is not None and layer.psnr > 10
        assert layer.hash != seen["hash"]
        code, headers, tile = get(s, f"/tile/0/{layer.hash}/value/0/0/0.png")
        assert code == 200 and headers["Cache-Control"] == "no-store" and tile != seen["tile"]
        assert get(s, f"/tile/0/{seen['hash']}/value/0/0/0.png")[0] == 404  # old weights' tiles are gone
        # the served copy holds the trained weights, and is not the trained module itself
        x = signal.coords().reshape(-1, 2)
        assert layer.model is not field
        with torch.no_grad():
            assert torch.allclose(layer.model(x), field(x))
    finally:
        view.close()


def test_nerf_camera_view(tmp_path, served):
    from PIL import Image
    import io

    layers = open_layers([tiny_nerf_run(tmp_path / "nerf")])
    assert [layer.kind for layer in layers] == ["nerf"]
    lay = layers[0]
    s = served(layers)
    code, headers, png = get(s, f"/nerf/0/{lay.hash}/view.png?az=30&el=20&r=3&w=16")
    assert code == 200 and "immutable" in headers["Cache-Control"]
    assert Image.open(io.BytesIO(png)).size == (16, 12)  # the training camera's aspect ratio (32 x 24)
    for bad in ("az=30&el=95&r=3&w=16", "az=30&el=20&r=-1&w=16", "az=nan&el=20&r=3&w=16",
                "az=30&el=20&r=3&w=100000", "az=30&el=20&r=3"):
        assert get(s, f"/nerf/0/{lay.hash}/view.png?{bad}")[0] == 404, bad
    assert get(s, f"/tile/0/{lay.hash}/value/0/0/0.png")[0] == 404  # no tiles of a NeRF
    with pytest.raises(InrkitError, match="different kinds"):
        open_layers([tmp_path / "nerf", tiny_run(tmp_path / "img")])


def test_command_line_serves_and_stops_on_ctrl_c(tmp_path, capsys):
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    run = tiny_run(tmp_path / "run")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["view", str(run), "--port", str(port), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port}" in err
    p = subprocess.Popen([sys.executable, "-m", "inrkit", "view", str(run), "--device", "cpu"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    try:
        line = p.stdout.readline()
        assert line.startswith("inrkit view: http://127.0.0.1:")
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/info", timeout=30) as resp:
            assert b'"bicubic of run"' in resp.read()
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == 0
        assert "stopped" in p.stderr.read()
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)


def test_volume_slices(tmp_path, served):
    from inrkit.view import tiles as T

    layers = open_layers([tiny_volume_run(tmp_path / "vol")])
    vol = layers[0]
    assert vol.kind == "volume" and vol.depth == (-0.5, 0.5, 16) and vol.shape == (32, 32)
    s = served(layers)
    code, _, png = get(s, f"/tile/0/{vol.hash}/value/1/1/0.png?z=0.25")
    assert code == 200
    # the tile is the field on the plane z = 0.25 at the tile's pixel centres
    xy = T.tile_coords(1, 1, 0)
    with torch.no_grad():
        v = vol.model(torch.cat([xy, torch.full_like(xy[..., :1], 0.25)], -1)).numpy()
    expect = T.colourise(v, T.VALUE_SCALE)
    from PIL import Image
    import io
    got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert np.abs(got.astype(int) - expect.astype(int)).max() <= 1
    assert get(s, f"/tile/0/{vol.hash}/value/1/1/0.png?z=-0.25")[2] != png  # another slice
    for bad in ("", "?z=0.6", "?z=abc", "?z=nan"):
        assert get(s, f"/tile/0/{vol.hash}/value/1/1/0.png{bad}")[0] == 404, bad
    assert get(s, f"/tile/0/{vol.hash}/gradient/0/0/0.png?z=0")[0] == 200  # in-plane derivatives (autograd)
    with pytest.raises(InrkitError, match="different kinds"):
        open_layers([tmp_path / "vol", tiny_run(tmp_path / "img")])


def test_audio_waveform_and_playback(tmp_path, served):
    import io
    import json
    import wave

    from inrkit import coords as C

    layers = open_layers([tiny_audio_run(tmp_path / "audio")])
    a = layers[0]
    assert a.kind == "audio" and a.info()["audio"] == {"n": 4000, "rate": 8000, "channels": 1}
    s = served(layers)
    code, _, body = get(s, f"/audio/0/{a.hash}/wave.json?t0=-0.5&t1=0.25&n=300")
    assert code == 200
    doc = json.loads(body)
    t = C.axis(300, -0.5, 0.25, dtype=torch.float64).float()[:, None]
    with torch.no_grad():
        expect = a.model(t)[:, 0].numpy()
    assert np.allclose(doc["channels"][0], expect, atol=1e-5)
    code, headers, wav = get(s, f"/audio/0/{a.hash}/play.wav?t0=-1&t1=0")
    assert code == 200 and headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (8000, 1, 2, 2000)
    for bad in ("t0=0.5&t1=0.2&n=10", "t0=-2&t1=0&n=10", "t0=0&t1=1&n=1", "t0=0&t1=1&n=100000",
                "t0=0&t1=0.0000001&n=8000", "t0=x&t1=1&n=4"):
        assert get(s, f"/audio/0/{a.hash}/wave.json?{bad}")[0] == 404, bad
    with pytest.raises(InrkitError, match="different kinds"):
        open_layers([tmp_path / "audio", tiny_run(tmp_path / "img")])
