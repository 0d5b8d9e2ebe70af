"""Volume signals: NIfTI with anisotropic voxels, .npy, TIFF stacks, the grid signal's coordinates, bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from inrkit import coords as C
from inrkit.errors import InrkitError
from inrkit.signals import kinds as K
from inrkit.signals.grid import GridSignal, bounds_for, holdout_mask, index_coords
from inrkit.signals.volume import load_volume, parse_slice, slice_coords, volume_from_array

nib = pytest.importorskip("nibabel")


def _vol(shape=(6, 5, 4)):
    rng = np.random.default_rng(0)
    return rng.normal(100.0, 20.0, shape).astype(np.float32)


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_nifti_round_trip_with_anisotropic_spacing(tmp_path, name):
    data = _vol()
    img = nib.Nifti1Image(data, np.diag([0.5, 1.0, 2.5, 1.0]))
    img.header.set_zooms((0.5, 1.0, 2.5))
    nib.save(img, tmp_path / name)
    s = load_volume(tmp_path / name)
    assert s.kind == "volume" and s.shape == (4, 5, 6) and s.channels == 1  # (Z, Y, X)
    assert np.array_equal(s.values[..., 0], np.transpose(data, (2, 1, 0)))
    # physical extents x 3, y 5, z 10: z spans [-1, 1], x [-0.3, 0.3], y [-0.5, 0.5]
    assert np.allclose(s.bounds, ((-0.3, 0.3), (-0.5, 0.5), (-1.0, 1.0)))
    assert s.value_range == (float(data.min()), float(data.max()))
    meta = s.meta()
    assert meta["voxel_size_xyz"] == [0.5, 1.0, 2.5] and meta["shape"] == [4, 5, 6]
    # one coordinate unit is the same length on every axis: steps are proportional to the spacing
    steps = C.pixel_step(s.shape, s.bounds)
    assert np.allclose(np.array(steps) / np.array([0.5, 1.0, 2.5]), steps[0] / 0.5)


def test_coords_follow_the_convention():
    s = GridSignal(np.zeros((3, 4, 5, 1)), "volume", spacing=(2.0, 1.0, 1.0))
    full = s.coords()  # (3, 4, 5, 3), coordinate order (x, y, z)
    idx = torch.arange(60)
    assert torch.equal(full.reshape(-1, 3), s.coords(idx))
    assert torch.allclose(full, C.grid(s.shape, s.bounds), atol=1e-7)
    assert torch.allclose(full[0, 0, :, 0], C.axis(5, -5 / 6, 5 / 6), atol=1e-7)
    assert torch.allclose(full[:, 0, 0, 2], C.axis(3), atol=1e-7)  # z: physical extent 6 is the longest
    assert bounds_for((7,)) == ((-1.0, 1.0),)
    assert torch.allclose(index_coords(torch.tensor([6]), (7,), ((-1.0, 1.0),)), torch.tensor([[1 - 1 / 7]]))


def test_values_targets_round_trip_and_constant_volume():
    s = volume_from_array(_vol())
    t = s.targets()
    assert float(t.min()) == -1.0 and abs(float(t.max()) - 1.0) < 1e-6
    assert np.allclose(s.to_values(t), s.values, atol=1e-4)
    flat = GridSignal(np.full((2, 2, 2, 1), 7.0), "volume", (7.0, 7.0))
    assert flat.value_range == (6.0, 8.0) and float(flat.targets().abs().max()) == 0.0


def test_sampler_never_draws_held_out_samples():
    s = GridSignal(np.arange(1000, dtype=np.float32).reshape(10, 10, 10, 1), "volume", (0.0, 999.0))
    held = holdout_mask(s.samples, 0.3, seed=0)
    assert held.sum() == 300 and np.array_equal(held, holdout_mask(s.samples, 0.3, seed=0))
    sampler = s.sampler(512, heldout=held)
    gen = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(20):
        b = sampler(gen)
        assert b.coords.shape == (512, 3) and b.targets.shape == (512, 1)
        seen.update(s.to_values(b.targets)[:, 0].round().astype(int).tolist())
    assert seen.isdisjoint(set(np.nonzero(held)[0].tolist()))  # value == raster index here
    whole = s.sampler(0)(None)
    assert whole.grid == (10, 10, 10) and len(whole) == 1000


def test_npy_and_tiff_stack(tmp_path):
    data = _vol((5, 4, 3))
    np.save(tmp_path / "v.npy", data)
    s = load_volume(tmp_path / "v.npy")
    assert s.shape == (3, 4, 5) and np.array_equal(s.values[..., 0], np.transpose(data, (2, 1, 0)))
    tifffile = pytest.importorskip("tifffile")
    planes = np.transpose(data, (2, 1, 0)).astype(np.uint16)  # (Z, Y, X): one page per z
    tifffile.imwrite(tmp_path / "stack.tif", planes, photometric="minisblack")
    assert K.kind_of(tmp_path / "stack.tif").name == "volume"  # more than one page
    s = load_volume(tmp_path / "stack.tif")
    assert s.shape == (3, 4, 5) and np.array_equal(s.values[..., 0], planes.astype(np.float32))
    tifffile.imwrite(tmp_path / "one.tif", planes[0])
    assert K.kind_of(tmp_path / "one.tif").name == "image"


def test_shipped_mri_reads(tmp_path):
    from pathlib import Path

    anat = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    s = load_volume(anat)
    assert s.shape == (25, 41, 33) and s.value_range[1] > s.value_range[0]


@pytest.mark.parametrize("make, needle", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"\x00" * 100), "cannot read it as NIfTI"),
    (lambda p: p.write_bytes(gzip.compress(b"\x5c\x01\x00\x00" + b"\x00" * 300)), "cannot read it as NIfTI"),
])
def test_corrupt_nifti_is_one_line(tmp_path, make, needle):
    p = tmp_path / ("bad.nii.gz" if "gzip" in repr(make) else "bad.nii")
    make(p)
    with pytest.raises(InrkitError, match=needle):
        load_volume(p)


def test_truncated_nifti(tmp_path):
    nib.save(nib.Nifti1Image(_vol((8, 8, 8)), np.eye(4)), tmp_path / "v.nii")
    data = (tmp_path / "v.nii").read_bytes()
    (tmp_path / "t.nii").write_bytes(data[:len(data) - 500])
    with pytest.raises(InrkitError, match="cannot read it as NIfTI"):
        load_volume(tmp_path / "t.nii")


def test_voxel_limit_is_checked_from_the_header(tmp_path, monkeypatch):
    nib.save(nib.Nifti1Image(_vol((8, 8, 8)), np.eye(4)), tmp_path / "v.nii")
    np.save(tmp_path / "v.npy", _vol((8, 8, 8)))
    monkeypatch.setenv("INRKIT_MAX_VOXELS", "511")

    def no_read(*a, **k):
        raise AssertionError("data read before the limit was checked")

    monkeypatch.setattr(nib.Nifti1Image, "get_fdata", no_read)
    monkeypatch.setattr(np, "load", no_read)
    for name in ("v.nii", "v.npy"):
        with pytest.raises(InrkitError, match="512 voxels.*INRKIT_MAX_VOXELS"):
            load_volume(tmp_path / name)


def test_npy_refuses_pickles_and_wrong_dimensions(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}] * 8, dtype=object).reshape(2, 2, 2), allow_pickle=True)
    with pytest.raises(InrkitError, match="must hold numbers"):
        load_volume(tmp_path / "o.npy")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(InrkitError, match="not a 3-D volume"):
        load_volume(tmp_path / "flat.npy")


def test_slices():
    bounds = ((-0.5, 0.5), (-1.0, 1.0), (-0.25, 0.25))
    assert parse_slice("z=0.1", bounds) == (2, 0.1)
    for bad in ("q=1", "z", "z=abc", "z=0.3", "x=nan"):
        with pytest.raises(InrkitError, match="--slice"):
            parse_slice(bad, bounds)
    pts = slice_coords(0, 0.2, bounds, (4, 3))  # plane x = 0.2: columns y, rows z
    assert pts.shape == (3, 4, 3) and torch.all(pts[..., 0] == 0.2)
    assert torch.allclose(pts[0, :, 1], C.axis(4, -1.0, 1.0)) and torch.allclose(pts[:, 0, 2], C.axis(3, -0.25, 0.25))
