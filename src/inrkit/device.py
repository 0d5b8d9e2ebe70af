"""The one place that turns a device name into a ``torch.device``."""

from __future__ import annotations

import torch

from .errors import InrkitError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InrkitError("device cuda asked for, but no CUDA device is available")
    if device != "cpu" and not device.startswith("cuda"):
        raise InrkitError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)
