"""Per-axis resolutions of the hash grid (a video's time axis beside its pixels), and that isotropic grids,
their specs, configurations and old checkpoints are unchanged."""

from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from inrkit.config import FieldConfig, HashConfig, build_field, field_size
from inrkit.encodings import MultiresGrid
from inrkit.encodings.grid import PRIMES
from inrkit.errors import InrkitError
from inrkit.fields.registry import build_field_from_spec, check_field_spec
from test_grid import reference_encode  # the isotropic tests' reference, per axis

FIXTURES = Path(__file__).parents[1] / "train" / "fixtures" / "checkpoints"


def test_per_axis_schedule_gives_each_axis_its_own_levels():
    # a video of 30 frames of 64 x 27 (x, y, t): N_max 128, 54, 60 from N_min 16 over 8 levels
    enc = MultiresGrid.from_paper(3, levels=8, features=2, log2_table_size=12, min_resolution=16,
                                  max_resolution=(128, 54, 60))
    cols = [MultiresGrid.paper_resolutions(8, 16, m) for m in (128, 54, 60)]  # eqs. 2-3 on each axis
    assert enc.level_resolutions == [tuple(c[level] for c in cols) for level in range(8)]
    assert enc.level_resolutions[0] == (16, 16, 16) and enc.level_resolutions[-1] == (128, 54, 60)
    assert [r[0] for r in enc.level_resolutions] == MultiresGrid.paper_resolutions(8, 16, 128)
    assert enc.resolution.shape == (8, 3) and enc.per_axis
    # a table row per vertex of each level's (N_x + 1) x (N_y + 1) x (N_t + 1) lattice, at most T
    assert enc.sizes.tolist() == [min(2**12, (a + 1) * (b + 1) * (c + 1)) for a, b, c in enc.level_resolutions]
    assert enc.table.shape[0] == MultiresGrid.table_rows(3, enc.resolutions, 12)
    # an axis whose N_max is below N_min starts there (min(N_min, N_max)), as the isotropic schedule does
    small = MultiresGrid.axis_resolutions(2, 4, 16, (64, 8))
    assert [r[1] for r in small] == [8, 8, 8, 8] and [r[0] for r in small] == MultiresGrid.paper_resolutions(4, 16, 64)


@pytest.mark.parametrize("d", [2, 3])
def test_per_axis_values_and_lattice_match_the_reference(d):
    g = torch.Generator().manual_seed(d)
    res = [[2, 3, 1][:d], [5, 9, 3][:d], [40, 7, 90][:d]]  # dense, dense, hashed
    enc = MultiresGrid(d, res, log2_table_size=8, features=3, generator=g).double()
    with torch.no_grad():
        enc.table.normal_(generator=g)
    assert enc.dense.tolist() == [True, True, False]
    x = torch.cat([torch.rand(10, d, generator=g, dtype=torch.float64) * 2 - 1,
                   torch.tensor([[-1.0] * d, [1.0] * d, [1.3] * d], dtype=torch.float64)])
    ref = reference_encode(enc, x)
    torch.testing.assert_close(enc(x), ref, atol=1e-12, rtol=0)
    with torch.no_grad():  # the fused no-grad path too
        torch.testing.assert_close(enc(x), ref, atol=1e-12, rtol=0)
    axes = [torch.linspace(-0.9, 0.95, n, dtype=torch.float64) for n in (5, 4, 3)[:d]]
    lat, _ = enc.encode_lattice(axes)
    pts = torch.stack(torch.meshgrid(*reversed(axes), indexing="ij")[::-1], -1)  # (n_{d-1}, ..., n_0, d), x first
    torch.testing.assert_close(lat, enc(pts), atol=1e-12, rtol=0)


def test_equal_axes_are_the_isotropic_grid_exactly():
    iso = MultiresGrid(3, [4, 9, 33], log2_table_size=10, features=2, generator=torch.Generator().manual_seed(0))
    same = MultiresGrid(3, [[4, 4, 4], [9, 9, 9], [33, 33, 33]], log2_table_size=10, features=2,
                        generator=torch.Generator().manual_seed(0))
    assert same.spec() == iso.spec() and same.resolutions == [4, 9, 33] and not same.per_axis
    assert same.resolution.shape == (3,)
    x = torch.rand(50, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert torch.equal(same(x), iso(x))
    assert MultiresGrid.from_paper(3, 8, 2, 12, 16, (100, 100, 100)).spec() == MultiresGrid.from_paper(
        3, 8, 2, 12, 16, 100).spec()


def test_per_axis_spec_round_trips_and_is_checked():
    enc = MultiresGrid(3, [[4, 2, 3], [20, 6, 9]], log2_table_size=9, features=2)
    spec = enc.spec()
    assert spec["resolutions"] == [[4, 2, 3], [20, 6, 9]]
    back = MultiresGrid.from_spec(spec)
    assert back.level_resolutions == enc.level_resolutions and back.table.shape == enc.table.shape
    field_spec = {"type": "neural_field", "encoding": spec,
                  "network": {"type": "mlp", "in_dim": 4, "out_dim": 1, "width": 8, "hidden_layers": 0,
                              "activation": "relu"}}
    assert check_field_spec(field_spec) > enc.table.numel()
    assert build_field_from_spec(field_spec).encoding.level_resolutions == enc.level_resolutions
    for bad in ([[4, 2]], [[4, 2, 3], 5], [[4, 0, 3]]):
        with pytest.raises((TypeError, ValueError)):
            MultiresGrid.check_spec({**spec, "resolutions": bad})
    with pytest.raises(ValueError, match="one per axis"):
        MultiresGrid(3, [[4, 2]])


def test_old_style_config_builds_the_same_grid():
    # a run's JSON record from before per-axis resolutions: no time_cells key, max_res an int or None
    old = {"arch": "hash", "width": 16, "hidden_layers": 1,
           "hash": {"levels": 8, "features": 4, "log2_table": 19, "min_res": 16, "max_res": None}}
    cfg = FieldConfig(**old)
    assert cfg.hash == HashConfig(levels=8, features=4, log2_table=19, min_res=16) and cfg.hash.time_cells is None
    f = build_field(cfg, 3, 3, samples_per_axis=64)
    assert f.encoding.spec()["resolutions"] == MultiresGrid.paper_resolutions(8, 16, 128)  # 2 x the longest side
    # per-axis samples given (as fit_grid gives them) but no time_cells: still twice the longest axis everywhere
    f2 = build_field(cfg, 3, 3, samples_per_axis=(64, 27, 30))
    assert f2.encoding.spec() == f.encoding.spec()
    assert field_size(cfg, 3, 3, 64) == sum(p.numel() for p in f.parameters())
    # the record round-trips, a tuple max_res included (JSON holds it as a list)
    tup = FieldConfig(**{**old, "hash": {**old["hash"], "max_res": [128, 54, 60]}})
    assert tup.hash.max_res == (128, 54, 60) and FieldConfig(**asdict(tup)) == tup
    g = build_field(tup, 3, 3, samples_per_axis=64)
    assert g.encoding.level_resolutions[-1] == (128, 54, 60)
    assert field_size(tup, 3, 3, 64) == sum(p.numel() for p in g.parameters())
    # the video recipe's time_cells = 1: the time axis's N_max is the frame count, x and y twice the longer side
    timed = FieldConfig(**{**old, "hash": {**old["hash"], "time_cells": 1.0}})
    per = build_field(timed, 3, 3, (64, 27, 30))
    assert per.encoding.level_resolutions[-1] == (128, 128, 30)
    assert [r[2] for r in per.encoding.level_resolutions] == MultiresGrid.paper_resolutions(8, 16, 30)
    assert field_size(timed, 3, 3, (64, 27, 30)) == sum(p.numel() for p in per.parameters())
    # a clip with more frames than pixels per side: x and y still follow the frame's longer side, not the frames
    assert build_field(timed, 3, 3, (16, 12, 100)).encoding.level_resolutions[-1] == (32, 32, 100)
    assert timed.hash.finest(3, 64) == 128  # one number for every axis (other callers): as before
    assert timed.hash.finest(3, (64, 27, 128)) == 128  # equal on every axis: the isotropic form
    for bad in (0, -1.0, float("nan"), True):
        with pytest.raises(InrkitError, match="time_cells"):
            HashConfig(time_cells=bad)
    with pytest.raises(InrkitError, match="2 axes"):
        build_field(FieldConfig(**{**old, "hash": {**old["hash"], "max_res": [64, 64]}}), 3, 3)


@pytest.mark.parametrize("name", ["hash", "hash_3d"])
def test_checkpoints_written_before_load_unchanged(name):
    from safetensors.torch import load_file

    from inrkit.train import checkpoint

    field, meta = checkpoint.load(FIXTURES / name)
    assert field.spec() == meta["architecture"]
    assert all(isinstance(r, int) for r in meta["architecture"]["encoding"]["resolutions"])
    assert field.encoding.resolution.dim() == 1  # the isotropic form
    e = load_file(FIXTURES / "expected.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(field(e[f"{name}.coords"]), e[f"{name}.values"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("bad", [dict(max_res=(64, 0, 8)), dict(max_res=(64, 64, 1 << 30)),
                                 dict(time_cells=0.0), dict(time_cells=float("nan")), dict(time_cells=1e12)])
def test_absurd_per_axis_resolutions_are_refused_in_one_line(bad):
    with pytest.raises(InrkitError, match="hash (max_res|time_cells)"):
        HashConfig(**bad)
