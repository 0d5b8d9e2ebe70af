"""``fit --view``: serve the field while it trains, as a callback of the one loop (:func:`inrkit.train.fit`)."""

from __future__ import annotations

import copy
import sys
import time

from torch import nn

from ..train.fit import Callback, FitState
from .layers import Layer, LiveModel
from .server import ViewServer, make_server, serve_in_thread


class LiveView(Callback):
    """Serve a copy of the training field; refresh its weights every ``seconds`` of wall time.

    ``on_start`` copies the model (the viewer never touches the one being trained), binds the
    server and prints its URL; ``after_step`` copies the weights in when ``seconds`` have passed,
    without waiting for a tile being rendered (then it tries again at the next step), and records
    the step and the last PSNR another callback published (``state.log["psnr"]``). The page polls
    ``/api/info`` and swaps tiles when the weights' name changes. ``on_end`` refreshes a last time
    and keeps serving until :meth:`close` (the command line waits for Ctrl-C).

    ``shape``: the training image's ``(H, W)`` (for the HUD and the page's geometry); ``None`` takes
    it from the signal of another callback of the same fit (``ImageEvaluation.signal``). ``field``: the
    model to copy; ``None`` takes the field that callback evaluates (the eager field when ``fit``
    trains a ``torch.compile`` wrapper), else ``state.model``.
    """

    def __init__(self, shape: tuple[int, int] | None = None, *, name: str = "training", field: nn.Module | None = None,
                 seconds: float = 1.0, host: str = "127.0.0.1", port: int | None = None, open_browser: bool = False,
                 announce=None):
        self.shape, self.name, self.field, self.seconds = shape, name, field, seconds
        self.host, self.port, self.open_browser = host, port, open_browser
        self.announce = announce if announce is not None else (lambda s: print(f"inrkit: {s}", file=sys.stderr))
        self.server: ViewServer | None = None
        self.live: LiveModel | None = None
        self._last = 0.0

    @property
    def url(self) -> str | None:
        return self.server.url if self.server else None

    def _from_callbacks(self, state: FitState) -> None:
        for cb in state.callbacks:
            sig, fld = getattr(cb, "signal", None), getattr(cb, "field", None)
            shape = getattr(sig, "shape", None)
            if cb is self or not (isinstance(shape, tuple) and len(shape) == 2):
                continue
            if self.shape is None:
                self.shape = tuple(int(n) for n in shape)
            if self.field is None and isinstance(fld, nn.Module):
                self.field = fld
            return

    def on_start(self, state: FitState) -> None:
        if self.shape is None or self.field is None:
            self._from_callbacks(state)
        if self.shape is None:
            raise ValueError("LiveView needs the training image's shape (H, W)")
        source = self.field if self.field is not None else state.model
        shadow = copy.deepcopy(source).eval()
        for p in shadow.parameters():
            p.requires_grad_(False)
        layer = Layer("0", self.name, "image", "live-0", shadow, {}, shape=self.shape, live=True, step=state.step)
        self.server = make_server([layer], host=self.host, port=self.port, live=True,
                                  title=f"inrkit fit --view: {self.name}")
        self.live = LiveModel(layer, self.server.service.lock)
        serve_in_thread(self.server)
        self.announce(f"viewing the training field at {self.server.url}")
        if self.open_browser:
            import webbrowser

            webbrowser.open(self.server.url)
        self._last = time.monotonic()

    def _refresh(self, state: FitState, force: bool = False) -> None:
        src = self.field if self.field is not None else state.model
        psnr = state.log.get("psnr")
        ok = self.live.refresh(src, state.step, None if psnr is None else float(psnr))
        if not ok and force:  # the last weights must land: wait for the tile being rendered
            with self.server.service.lock:
                pass
            self.live.refresh(src, state.step, None if psnr is None else float(psnr))

    def after_step(self, state: FitState) -> None:
        now = time.monotonic()
        if now - self._last >= self.seconds:
            self._refresh(state)
            self._last = now

    def on_end(self, state: FitState) -> None:
        self._refresh(state, force=True)

    def wait(self, message: str | None = None) -> None:
        """Keep serving after training until Ctrl-C, then stop (``inrkit fit --view``). ``message`` is printed to
        stderr once Ctrl-C is already caught, so a Ctrl-C sent as soon as it appears still stops cleanly."""
        try:
            if message:
                print(message, file=sys.stderr, flush=True)
            while self.server is not None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
