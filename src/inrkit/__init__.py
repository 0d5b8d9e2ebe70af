"""inrkit: implicit neural representations, fitted, used and compared.

The public API, re-exported explicitly::

    import inrkit
    run = inrkit.fit_image("camera", arch="siren", steps=500, size=128)
    field, meta = inrkit.load("runs/camera-siren/model")
    img = inrkit.render(field, meta, size=(1024, 1024))
"""

__version__ = "0.1.0"

from . import coords, ops  # noqa: E402
from .errors import InrkitError  # noqa: E402
from .fields import Field, NeuralField, num_parameters  # noqa: E402
from .signals import ImageSignal, load_image  # noqa: E402
from .train import fit  # noqa: E402
from .train.checkpoint import load, save  # noqa: E402
from .apps.image import compare_images, fit_image, render  # noqa: E402

__all__ = ["__version__", "coords", "ops", "InrkitError", "Field", "NeuralField", "num_parameters",
           "ImageSignal", "load_image", "fit", "load", "save", "fit_image", "compare_images", "render"]
