"""GPU checks, skipped where torch.cuda.is_available() is False."""

import dataclasses

import pytest
import torch

import inrkit
from inrkit.config import PRESETS, FieldConfig, TrainConfig, build_field
from inrkit.encodings import MultiresGrid

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_grid_encoding_matches_cpu():
    g = torch.Generator().manual_seed(0)
    enc = MultiresGrid(3, [4, 30, 200], 12, 2, generator=g)
    x = torch.rand(1000, 3, generator=g) * 2 - 1
    ref = enc(x)
    got = enc.to("cuda")(x.cuda()).cpu()
    assert torch.allclose(ref, got, atol=1e-6)


@cuda
def test_fast_preset_fits_on_gpu():
    sig = inrkit.load_image("camera", size=128)
    fcfg, tcfg = PRESETS["fast"]
    run = inrkit.fit_image(sig, "hash", field_cfg=fcfg, train_cfg=tcfg, device="cuda")
    assert run.metrics["psnr"] > 40.0
    run_amp = inrkit.fit_image(sig, "hash", field_cfg=fcfg, train_cfg=dataclasses.replace(tcfg, amp=True),
                               device="cuda")
    assert run_amp.metrics["psnr"] > 35.0


@cuda
def test_derivatives_on_gpu_match_cpu():
    f = build_field(FieldConfig(arch="siren", width=32, hidden_layers=2), 2, 1,
                    generator=torch.Generator().manual_seed(0))
    grid = inrkit.coords.grid((16, 16))
    cpu = inrkit.ops.evaluate(f, grid, "laplacian")
    gpu = inrkit.ops.evaluate(f.cuda(), grid, "laplacian")
    assert torch.allclose(cpu, gpu, rtol=1e-3, atol=1e-2)
