"""Tiny fields for the viewer's tests: an analytic field and a small SIREN saved as a run folder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inrkit.config import FieldConfig, build_field
from inrkit.train import checkpoint
from inrkit.view.layers import Layer


class Wave(nn.Module):
    """f(x, y) = 0.8 sin(pi a x) cos(pi b y): smooth, with closed-form derivatives."""

    def __init__(self, a: float = 1.5, b: float = 1.0):
        super().__init__()
        self.a, self.b = a, b
        self.register_buffer("dummy", torch.zeros(1))

    def forward(self, x):
        return (0.8 * torch.sin(math.pi * self.a * x[..., :1]) * torch.cos(math.pi * self.b * x[..., 1:2]))


def wave_layer(layer_id: str = "0", name: str = "wave", hash_: str = "w1", a: float = 1.5) -> Layer:
    return Layer(layer_id, name, "image", hash_, Wave(a), {}, shape=(64, 64))


def tiny_run(folder: Path, seed: int = 0, size: int = 32, width: int = 16) -> Path:
    """A run folder as ``inrkit fit`` writes it, in small: model.safetensors/json and target.png."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    field = build_field(FieldConfig(arch="siren", width=width, hidden_layers=1), 2, 1,
                        generator=torch.Generator().manual_seed(seed))
    meta = {"signal": {"kind": "image", "name": "tiny", "shape": [size, size], "channels": 1}}
    checkpoint.save(folder / "model", field, meta)
    yy, xx = np.mgrid[0:size, 0:size] / size
    Image.fromarray((127 + 120 * np.sin(6 * xx) * np.cos(4 * yy)).astype(np.uint8)).save(folder / "target.png")
    return folder


def tiny_nerf_run(folder: Path, seed: int = 0) -> Path:
    """A NeRF run folder in small: 2 x 16 MLP, 8 samples per ray, the checkpoint JSON NeRF runs write."""
    from dataclasses import asdict, replace

    from inrkit.apps.nerf import VANILLA, build_model

    folder.mkdir(parents=True, exist_ok=True)
    recipe = replace(VANILLA, samples=8, importance=0, field_args={"width": 16, "depth": 2}, occupancy_resolution=0)
    model = build_model(recipe, np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]), seed)
    meta = {"task": "nerf", "recipe": asdict(recipe), "background": "white", "image_size": [24, 32],
            "intrinsics": [40.0, 40.0, 16.0, 12.0], "orbit": {"radius": 3.0, "elevation_deg": 30.0,
                                                             "center": [0.0, 0.0, 0.0]}}
    checkpoint.save(folder / "model", model, meta)
    return folder


def tiny_volume_run(folder: Path, seed: int = 0) -> Path:
    """A volume run folder in small: a 3-D SIREN over 16 x 32 x 32 voxels, z bounds half the x extent."""
    folder.mkdir(parents=True, exist_ok=True)
    field = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 3, 1,
                        generator=torch.Generator().manual_seed(seed))
    meta = {"signal": {"kind": "volume", "name": "tiny", "shape": [16, 32, 32], "channels": 1,
                       "bounds": [[-1.0, 1.0], [-1.0, 1.0], [-0.5, 0.5]], "spacing": None, "value_range": [0.0, 1.0]}}
    checkpoint.save(folder / "model", field, meta)
    return folder


def tiny_audio_run(folder: Path, seed: int = 0, n: int = 4000, rate: int = 8000) -> Path:
    """An audio run folder in small: a 1-D SIREN over half a second at 8 kHz."""
    folder.mkdir(parents=True, exist_ok=True)
    field = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 1, 1,
                        generator=torch.Generator().manual_seed(seed))
    meta = {"signal": {"kind": "audio", "name": "tiny", "shape": [n], "channels": 1, "bounds": [[-1.0, 1.0]],
                       "spacing": None, "value_range": [-1.0, 1.0], "sample_rate": rate}}
    checkpoint.save(folder / "model", field, meta)
    return folder
