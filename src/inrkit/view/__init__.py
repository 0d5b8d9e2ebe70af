"""``inrkit view``: a local web viewer that renders a field itself at every zoom level.

- :mod:`.tiles`: the tile pyramid, pixel-centre grids, modes, colour scales, PNG bytes;
- :mod:`.layers`: layers from run folders (image fields, the bicubic comparison, NeRF);
- :mod:`.server`: the standard-library HTTP server, tile service (batching, LRU cache, dropping);
- :mod:`.live`: :class:`LiveView`, the training callback behind ``fit --view``;
- ``static/``: the page (HTML, JS, CSS), shipped in the package, nothing loaded from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from .layers import BicubicField, Layer, bicubic_layer, check_comparable, load_run
from .live import LiveView
from .server import TileService, ViewServer, make_server, serve_in_thread


def open_layers(runs: list[Path], device="cpu", bicubic: bool = True) -> list[Layer]:
    """Load every run (read-only) as a layer, plus each image run's bicubic comparison; one line of
    error for a missing or corrupt run, or runs of kinds that cannot be compared."""
    if not runs:
        from ..errors import InrkitError

        raise InrkitError("name at least one run folder")
    layers = [load_run(p, str(i), device) for i, p in enumerate(runs)]
    check_comparable(layers)
    extra = []
    if bicubic:
        for p, layer in zip(runs, list(layers)):
            folder = p if p.is_dir() else p.parent
            b = bicubic_layer(layer, folder, f"b{layer.id}")
            if b is not None:
                extra.append(b)
    return layers + extra


__all__ = ["BicubicField", "Layer", "LiveView", "TileService", "ViewServer", "bicubic_layer", "check_comparable",
           "load_run", "make_server", "open_layers", "serve_in_thread"]
