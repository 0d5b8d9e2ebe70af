"""``inrkit view RUN [RUN2 ...]``: a local web viewer that zooms into fitted fields (``inrkit.view``)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InrkitError
from .options import Command, Group, Invocation, opt, options
from .shared import Device, Quiet


@options
class ViewArgs(Device, Quiet):
    runs: list[str] = opt(help="run folders (or model.json) to show; two or more of one kind can be compared "
                               "side by side or with a swipe", positional=True)
    port: int | None = opt(None, "port to listen on; exit 2 when it is busy", at_least=1, at_most=65535,
                           unset="a free port chosen by the system", group="run")
    host: str = opt("127.0.0.1", "interface to listen on; anything but loopback needs --allow-remote", group="run")
    allow_remote: bool = opt(False, "really serve a --host other than loopback (every request must then carry the "
                                    "random token of the printed URL)", group="run")
    open: bool = opt(False, "open the viewer in the default web browser", group="run")
    no_bicubic: bool = opt(False, "do not offer the bicubic upsampling of each image run's training pixels as a "
                                  "comparison layer", group="output")


def run_view(a: ViewArgs, run: Invocation) -> None:
    from ..device import resolve_device
    from ..view import open_layers
    from ..view.server import make_server

    layers = open_layers([Path(r) for r in a.runs], device=resolve_device(a.device), bicubic=not a.no_bicubic)
    if a.host not in ("127.0.0.1", "localhost", "::1") and a.allow_remote:
        print(f"inrkit: warning: serving {a.host}: anyone who can reach this machine and has the URL's token can "
              "view these runs", file=sys.stderr)
    server = make_server(layers, host=a.host, port=a.port, allow_remote=a.allow_remote,
                         title="inrkit view: " + ", ".join(layer.name for layer in layers))
    print(f"inrkit view: {server.url}  (Ctrl-C stops)", flush=True)
    if a.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:  # Ctrl-C: a clean stop, not an error
        print("inrkit view: stopped", file=sys.stderr)
    finally:
        server.server_close()


GROUP = Group((
    Command("view", "serve a local web viewer that zooms into fitted fields (images, volumes, audio, NeRF) at any "
            "resolution",
            ViewArgs, run_view),
))

__all__ = ["GROUP", "ViewArgs", "InrkitError"]
