"""inrkit view in a real browser: Debian's Chromium, headless, driven by Playwright for Python.

Never downloads a browser: the tests use /usr/bin/chromium and are skipped (with the reason) when it
or playwright is missing. The page's test hook ``window.inrView.idle()`` resolves once every tile of
the view is drawn at its level, so no test sleeps.
"""

import io
from pathlib import Path

import numpy as np
import pytest
from view_helpers import tiny_audio_run, tiny_nerf_run, tiny_volume_run, wave_layer

from inrkit.view import make_server, open_layers, serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the view-test extra)")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
                allow_module_level=True)

BAR, HUD = 35, 26  # heights of the page's top bar and HUD (view.css)


@pytest.fixture(scope="module")
def server():
    # 0 and 1 are the same field under two names (A/B sync shows as identical panes); 2 differs
    layers = [wave_layer("0", "wave", "w1"), wave_layer("1", "wave copy", "w1"),
              wave_layer("2", "faster wave", "w2", a=3.0)]
    s = make_server(layers)
    serve_in_thread(s)
    yield s
    s.shutdown()
    s.server_close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # evil.test resolves to 127.0.0.1 inside this browser only: a DNS-rebinding attacker's name
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--host-resolver-rules=MAP evil.test 127.0.0.1"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 512, "height": 512 + BAR + HUD}, device_scale_factor=1)
    pg = ctx.new_page()
    pg.requests = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, errors
    base = server.url.rstrip("/")
    assert pg.requests and all(u.startswith(base + "/") for u in pg.requests), \
        [u for u in pg.requests if not u.startswith(base + "/")]


def png_array(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_wheel_zoom_renders_a_deeper_level(page, server):
    page.goto(server.url)
    first = page.evaluate("window.inrView.idle()")
    page.mouse.move(300, 200)
    for _ in range(4):
        page.mouse.wheel(0, -250)
    after = page.evaluate("window.inrView.idle()")
    assert after["state"]["z"] > 4 * first["state"]["z"]
    assert after["level"] > first["level"]
    assert any(k[2] == after["level"] for k in server.service.seen)  # the server rendered that level
    hud = page.inner_text("#hud")
    assert f"level {after['level']}" in hud and "trained at 64 \u00d7 64 px" in hud and "view = " in hud
    assert "#" in page.url and "z=" in page.url  # the view is in the URL
    z = after["state"]["z"]
    page.mouse.dblclick(300, 200)
    assert page.evaluate("window.inrView.idle()")["state"]["z"] == pytest.approx(2 * z)
    page.keyboard.press("-")
    assert page.evaluate("window.inrView.idle()")["state"]["z"] == pytest.approx(z)


def test_zoom_stops_at_the_float32_cap(page, server):
    page.goto(f"{server.url}#x=0.3&y=0.2&z=3")
    page.evaluate("window.inrView.idle()")
    snap = page.evaluate("window.inrView.set({z: 1e12}).then(() => window.inrView.idle())")
    assert snap["level"] == 16 and snap["state"]["z"] == pytest.approx(2 ** 24 / 64)  # 2^16 x 256 px / 64 px
    assert "float32 cap" in page.inner_text("#hud") and "16,777,216 \u00d7 16,777,216 px" in page.inner_text("#hud")
    assert any(k[2] == 16 for k in server.service.seen)


@pytest.mark.parametrize("mode", ["value", "gradient"])
def test_screenshot_matches_the_servers_rendering(page, server, mode):
    # W * z = 512 device pixels for the whole domain: level 1, each tile drawn 1:1 at integer positions
    page.goto(f"{server.url}#x=0&y=0&z=8&a=0&mode={mode}")
    snap = page.evaluate("window.inrView.idle()")
    assert snap["level"] == 1 and snap["state"]["mode"] == mode
    shot = png_array(page.screenshot(clip={"x": 0, "y": BAR, "width": 256, "height": 256}))
    tile = png_array(server.service.tile(server.service.layers["0"], mode, 1, 0, 0))
    tag = (slice(0, 30), slice(0, 80))  # the pane's name label covers the corner
    diff = np.abs(shot - tile)
    diff[tag] = 0
    assert diff.max() <= 2, diff.max()


def test_ab_panes_stay_in_sync(page, server):
    page.goto(f"{server.url}#a=0&b=1&ab=side&z=6")
    page.evaluate("window.inrView.idle()")
    # drag and zoom inside pane B: pane A follows
    page.mouse.move(384, 300)
    page.mouse.down()
    page.mouse.move(340, 260, steps=4)
    page.mouse.up()
    page.mouse.wheel(0, -300)
    snap = page.evaluate("window.inrView.idle()")
    a, b = snap["panes"]
    assert (a["x"], a["y"], a["z"]) == (b["x"], b["y"], b["z"]) and a["x"] != 0
    left = png_array(page.locator("#paneA canvas").screenshot())[40:330]  # below the name labels, above the legend
    right = png_array(page.locator("#paneB canvas").screenshot())[40:330]
    assert left.shape == right.shape and left.std() > 10  # the field fills the panes
    assert np.abs(left - right).max() <= 2  # the same field in both panes: the same pixels
    # the swipe mode draws A left of the split and B right of it
    snap = page.evaluate("window.inrView.set({ab: 'swipe', b: '2', swipe: 0.5}).then(() => window.inrView.idle())")
    assert snap["state"]["ab"] == "swipe" and any(k[0] == "2" for k in server.service.seen)
    # each side has its legend: B's colour scale is its own
    page.evaluate("window.inrView.set({mode: 'gradient'}).then(() => window.inrView.idle())")
    page.wait_for_function("document.getElementById('legendLoB').textContent !== ''")
    assert page.is_visible("#legendB") and page.inner_text("#legendLabelB").startswith("B (")
    assert page.inner_text("#legendLabel").startswith("A (") and "gradient" in page.inner_text("#legendLabelB")
    page.evaluate("window.inrView.set({ab: 'off'})")
    page.wait_for_function("document.getElementById('legendB').classList.contains('hidden')")


def test_foreign_host_is_refused_in_the_browser(page, server):
    port = server.server_address[1]
    page.goto(server.url)  # one request to the real address, for the fixture's check
    response = page.goto(f"http://evil.test:{port}/")
    assert response.status == 403
    page.requests[:] = [u for u in page.requests if "evil.test" not in u]


def test_nerf_view_is_low_resolution_while_moving_and_full_at_rest(browser, tmp_path):
    s = make_server(open_layers([tiny_nerf_run(tmp_path / "nerf")]))
    serve_in_thread(s)
    try:
        ctx = browser.new_context(viewport={"width": 400, "height": 300}, device_scale_factor=1)
        pg = ctx.new_page()
        urls = []
        pg.on("request", lambda r: urls.append(r.url))
        pg.goto(f"{s.url}#nw=48")
        pg.evaluate("window.inrView.idle()")
        assert s.service.seen_views[-1][4] == 48
        assert "48 \u00d7 36 px (full resolution at rest)" in pg.inner_text("#hud")
        pg.mouse.move(200, 150)
        pg.mouse.down()
        for k in range(6):
            pg.mouse.move(200 - 10 * k, 150, steps=1)
        pg.mouse.up()
        snap = pg.evaluate("window.inrView.idle()")
        widths = [v[4] for v in s.service.seen_views]
        assert 12 in widths  # a quarter of the width while the camera moved
        # The server is threaded: a low-resolution request the browser aborted may reach it after the
        # full-resolution one, so the check is on the last full-width request, not the last request.
        full = [v for v in s.service.seen_views if v[4] == 48]
        assert len(full) >= 2 and full[-1][1] == pytest.approx(snap["state"]["az"], abs=0.01)
        assert "48 \u00d7 36 px (full resolution at rest)" in pg.inner_text("#hud")
        assert snap["state"]["az"] > 30  # dragging left orbits
        assert "full resolution at rest" in pg.inner_text("#hud")
        assert all(u.startswith(s.url.rstrip("/") + "/") for u in urls)
        ctx.close()
    finally:
        s.shutdown()
        s.server_close()


def test_volume_slice_slider(browser, tmp_path):
    s = make_server(open_layers([tiny_volume_run(tmp_path / "vol")]))
    serve_in_thread(s)
    try:
        ctx = browser.new_context(viewport={"width": 400, "height": 300}, device_scale_factor=1)
        pg = ctx.new_page()
        pg.goto(s.url)
        first = pg.evaluate("window.inrView.idle()")
        assert first["state"]["sz"] == pytest.approx(-0.5 + 8.5 / 16)  # the middle voxel's centre
        assert "slice z = " in pg.inner_text("#hud")
        pg.locator("#slice").fill("-0.25")  # the slider: input event
        snap = pg.evaluate("window.inrView.idle()")
        assert snap["state"]["sz"] == pytest.approx(-0.25)
        zs = {k[5] for k in s.service.seen}
        assert any(abs(z + 0.25) < 1e-9 for z in zs) and any(abs(z - 0.03125) < 1e-9 for z in zs)
        assert "sz=-0.25" in pg.url
        ctx.close()
    finally:
        s.shutdown()
        s.server_close()


def test_live_training_refreshes_the_page(browser):
    """fit --view: the page follows the weights (tiles of the new weights) and shows the step and PSNR."""
    import threading

    import torch

    from inrkit.apps.image import ImageEvaluation, signal_from_array
    from inrkit.config import FieldConfig, build_field
    from inrkit.objectives import Reconstruction
    from inrkit.train import fit
    from inrkit.train.fit import Callback
    from inrkit.view import LiveView

    yy, xx = np.mgrid[0:16, 0:16] / 16.0
    signal = signal_from_array((0.5 + 0.4 * np.sin(5 * xx) * np.cos(3 * yy)).astype(np.float32))
    field = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1,
                        generator=torch.Generator().manual_seed(0))
    view = LiveView(seconds=0.0, announce=lambda s: None)
    started, go = threading.Event(), threading.Event()

    class Hold(Callback):  # training waits after step 1 until the page has drawn those weights
        def after_step(self, state):
            if state.step == 1:
                started.set()
                go.wait(60)

    t = threading.Thread(target=lambda: fit(field, signal.sampler(0), Reconstruction(), steps=40, lr=1e-3,
                                            callbacks=[ImageEvaluation(field, signal, 10), view, Hold()]))
    t.start()
    try:
        assert started.wait(60)
        ctx = browser.new_context(viewport={"width": 300, "height": 300}, device_scale_factor=1)
        pg = ctx.new_page()
        urls = []
        pg.on("request", lambda r: urls.append(r.url))
        pg.goto(view.url)
        pg.evaluate("window.inrView.idle()")
        first = view.server.service.layers["0"].hash
        assert "step 1" in pg.inner_text("#hud")
        go.set()
        t.join(60)
        assert pg.evaluate("window.inrView.step(40)") == 40
        pg.evaluate("window.inrView.idle()")
        assert "step 40, PSNR" in pg.inner_text("#hud")
        last = view.server.service.layers["0"].hash
        assert last != first
        assert any(f"/tile/0/{first}/" in u for u in urls) and any(f"/tile/0/{last}/" in u for u in urls)
        assert all(u.startswith(view.url.rstrip("/") + "/") for u in urls)
        ctx.close()
    finally:
        go.set()
        t.join(60)
        view.close()


def test_audio_waveform_zooms_and_plays(browser, tmp_path):
    from urllib.parse import parse_qs, urlsplit

    s = make_server(open_layers([tiny_audio_run(tmp_path / "a"), tiny_audio_run(tmp_path / "b", seed=1)]))
    serve_in_thread(s)
    try:
        ctx = browser.new_context(viewport={"width": 500, "height": 300}, device_scale_factor=1)
        pg = ctx.new_page()
        urls = []
        pg.on("request", lambda r: urls.append(r.url))
        pg.goto(f"{s.url}#ab=swipe&b=1")  # for audio, swipe overlays B on A
        first = pg.evaluate("window.inrView.idle()")
        waves = [u for u in urls if "/wave.json" in u]
        assert {u.split("/audio/")[1].split("/")[0] for u in waves} == {"0", "1"}
        assert "8,000 Hz" in pg.inner_text("#hud")
        pg.mouse.move(250, 150)
        for _ in range(8):
            pg.mouse.wheel(0, -400)
        snap = pg.evaluate("window.inrView.idle()")
        assert snap["state"]["z"] > 100 * first["state"]["z"]
        q = parse_qs(urlsplit([u for u in urls if "/wave.json" in u][-1]).query)
        assert float(q["t1"][0]) - float(q["t0"][0]) < 0.02  # a narrow stretch of time, at one point per pixel
        pg.click("#play")
        if not any("/play.wav" in u for u in urls):
            pg.wait_for_event("request", predicate=lambda r: "/play.wav" in r.url, timeout=10000)
        assert any("/play.wav" in u for u in urls)
        assert all(u.startswith(s.url.rstrip("/") + "/") for u in urls)
        ctx.close()
    finally:
        s.shutdown()
        s.server_close()
