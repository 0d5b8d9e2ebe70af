"""inrkit: implicit neural representations, fitted, used and compared.

The public API, re-exported explicitly::

    import inrkit
    run = inrkit.fit("camera", preset="fast")          # a path, a built-in name or a NumPy (H, W[, C]) array
    lap = inrkit.evaluate(run.field, (256, 256), "laplacian")   # numbers on a (H, W) grid, or at any points
    field, meta = inrkit.load("runs/camera-siren")
    img = inrkit.render(field, meta, shape=(1024, 1024))      # uint8 image of (H, W)
    inrkit.fit("speech.wav"); inrkit.fit("clip.mp4"); inrkit.fit("head.nii.gz")   # audio, video, volumes
    stack, psnr = inrkit.fit_many(images)                     # N fields at once, one batched computation

Sizes in the Python API are (H, W), NumPy's order; coordinates are (x, y) in [-1, 1], y down.
``inrkit.fit`` given a field (an ``nn.Module``) is the one training loop, :func:`inrkit.train.fit`.
"""

__version__ = "0.1.0"

from . import coords, ops  # noqa: E402
from .errors import InrkitError  # noqa: E402
from .fields import Field, NeuralField, num_parameters  # noqa: E402
from .signals import ImageSignal, load_image  # noqa: E402
from .train.checkpoint import load, save  # noqa: E402
from .apps.image import compare_images, fit_image, render  # noqa: E402
from .apps.image import fit_any as fit  # noqa: E402
from .apps.image import evaluate_field as evaluate  # noqa: E402
from .apps.many import fit_many  # noqa: E402

__all__ = ["__version__", "coords", "ops", "InrkitError", "Field", "NeuralField", "num_parameters",
           "ImageSignal", "load_image", "fit", "evaluate", "load", "save", "fit_image", "compare_images", "render", "fit_many"]
