"""Whole-grid evaluation and video rendering of grid-encoded fields through the lattice form: the same
values as the per-point path, slab by slab, in 1-D, 2-D and 3-D."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inrkit.config import FieldConfig, HashConfig, build_field
from inrkit.signals import grid as G
from inrkit.signals.grid import bounds_for, evaluate_grid


def _hash_field(in_dim: int, samples, seed: int = 0):
    cfg = FieldConfig(arch="hash", width=16, hidden_layers=1,
                      hash=HashConfig(levels=4, features=2, log2_table=8, min_res=2))
    field = build_field(cfg, in_dim, 3, samples, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():  # a table of order one, so every level and the hashed ones matter
        field.encoding.table.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(seed + 1))
    field.output_scale, field.output_shift = 1.7, -0.2
    return field


def _count_lattice_calls(monkeypatch, field) -> list:
    """Record the lattice size of every ``forward_lattice`` call: proof that the lattice path ran."""
    calls = []
    inner = field.forward_lattice

    def spy(axes):
        calls.append(tuple(int(a.numel()) for a in axes))
        return inner(axes)

    monkeypatch.setattr(field, "forward_lattice", spy)
    return calls


@pytest.mark.parametrize("shape, spacing, chunk", [((37,), None, 20), ((9, 13), None, 30), ((9, 13), None, 5),
                                                   ((5, 7, 11), (2.0, 1.0, 0.5), 200),
                                                   ((5, 7, 11), (2.0, 1.0, 0.5), 30),
                                                   ((5, 7, 11), (2.0, 1.0, 0.5), 4)])
def test_lattice_evaluation_equals_the_per_point_path(monkeypatch, shape, spacing, chunk):
    field = _hash_field(len(shape), tuple(reversed(shape)))
    assert field.separable
    calls = _count_lattice_calls(monkeypatch, field)
    bounds = bounds_for(shape, spacing)
    fast = evaluate_grid(field, shape, bounds, chunk=chunk)
    assert calls and all(np.prod(c) <= max(chunk, shape[-1]) for c in calls)  # blocks within the chunk
    assert sum(np.prod(c) for c in calls) == np.prod(shape)  # every point once
    monkeypatch.setattr(G, "LATTICE", False)
    slow = evaluate_grid(field, shape, bounds, chunk=chunk)
    assert fast.shape == slow.shape == (*shape, 3)
    assert np.abs(slow).max() > 0.1
    np.testing.assert_allclose(fast, slow, rtol=0, atol=2e-5)


@pytest.mark.parametrize("shape, chunk", [((4, 6, 5), 30), ((4, 6, 5), 64), ((4, 6, 5), 12), ((4, 6, 5), 3),
                                          ((9,), 4)])
def test_lattice_bands_cover_the_grid_in_raster_order(shape, chunk):
    seen = np.zeros(shape, dtype=int)
    last = -1
    for a0, a1, b0, b1 in G.lattice_bands(shape, chunk):
        block = seen[a0:a1] if len(shape) == 1 else seen[a0:a1, b0:b1]
        assert block.size <= max(chunk, int(np.prod(shape[2:])))
        block += 1
        first = np.ravel_multi_index((a0,) if len(shape) == 1 else (a0, b0) + (0,) * (len(shape) - 2), shape)
        assert first > last
        last = first
    assert (seen == 1).all()


def test_lattice_progress_counts_every_point():
    shape = (4, 6, 5)
    field = _hash_field(3, (5, 6, 4))
    seen = []
    evaluate_grid(field, shape, bounds_for(shape), chunk=30, progress=seen.append)
    assert seen == [30, 60, 90, 120]
    seen.clear()
    evaluate_grid(field, shape, bounds_for(shape), chunk=12, progress=seen.append)  # bands of two rows of 5
    assert seen == sorted(seen) and seen[-1] == 120 and len(seen) == 4 * 3 and seen[0] == 10


def test_a_field_without_a_lattice_form_is_not_separable():
    field = build_field(FieldConfig(arch="siren", width=8, hidden_layers=1), 2, 1, 16)
    assert not field.separable
    with pytest.raises(ValueError, match="no lattice form"):
        field.forward_lattice([torch.zeros(3), torch.zeros(2)])


def test_video_frames_render_the_same_through_the_lattice(monkeypatch):
    from inrkit.signals.video import render_frames

    field = _hash_field(3, (20, 12, 6))
    calls = _count_lattice_calls(monkeypatch, field)
    fast = np.stack(list(render_frames(field, 3, 12, 20, chunk=100)))
    assert calls == [(20, 5, 1), (20, 5, 1), (20, 2, 1)] * 3  # bands of 5 rows of 20 pixels: within the chunk
    monkeypatch.setattr(G, "LATTICE", False)
    slow = np.stack(list(render_frames(field, 3, 12, 20)))
    assert fast.shape == (3, 12, 20, 3)
    assert fast.std() > 1
    # uint8 frames: a value within 2e-5 of a rounding boundary may land on the other side
    assert np.abs(fast.astype(int) - slow.astype(int)).max() <= 1
    assert (fast == slow).mean() > 0.99


def test_outputs_to_values_in_place_give_the_same_numbers():
    from inrkit.signals.grid import GridSignal

    sig = GridSignal(np.linspace(-2, 5, 60, dtype=np.float32).reshape(5, 4, 3), "volume", value_range=(-2.0, 5.0))
    out = np.random.default_rng(0).uniform(-1, 1, (5, 4, 3)).astype(np.float32)
    copy = sig.to_values(out)
    same = sig.to_values(out, inplace=True)
    assert same is out and np.array_equal(copy, same)
    with pytest.raises(TypeError):
        sig.to_values(torch.zeros(2, 3), inplace=True)
