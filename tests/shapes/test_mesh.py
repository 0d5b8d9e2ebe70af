"""Mesh extraction, metrics, files and inside/outside on analytic shapes."""

import math

import numpy as np
import pytest
import torch

from inrkit.errors import InrkitError
from inrkit.shapes import analytic_shape, compare_meshes, extract_mesh, load_mesh, load_oriented_points, write_mesh
from inrkit.shapes.mesh import Mesh, evaluate_grid, winding_number


def test_marching_cubes_of_a_sphere_has_its_area_and_a_small_chamfer_distance():
    sphere = analytic_shape("sphere")  # radius 0.6
    mesh = extract_mesh(sphere.sdf, 64, chunk=5000)  # small chunks: many slabs, the same volume
    assert mesh.is_watertight()
    assert mesh.area() == pytest.approx(4 * math.pi * 0.36, rel=0.01)
    v = mesh.vertices[mesh.faces]
    volume = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6
    assert volume == pytest.approx(4 / 3 * math.pi * 0.6 ** 3, rel=0.01)  # positive: normals point out
    r = np.linalg.norm(mesh.vertices, axis=1)
    assert np.abs(r - 0.6).max() < 2 / 63 * 0.1  # vertices on the sphere to a tenth of a cell
    ref = sphere.reference_mesh(96)
    m = compare_meshes(mesh, ref, samples=20_000)
    # Sampled Chamfer has a floor from the spacing of 20,000 samples (about 0.0036 of the diagonal here):
    # the same surface compared with itself through other samples.
    floor = compare_meshes(ref, ref, samples=20_000, seed=5)["chamfer_l1"]
    assert m["chamfer_l1"] < 1.1 * floor and m["normal_consistency"] > 0.99 and m["fscore"] > 0.99


def test_chunked_grid_equals_one_pass():
    f = analytic_shape("torus").sdf
    a = evaluate_grid(f, 20, chunk=100)
    b = evaluate_grid(f, 20, chunk=10_000)
    assert np.array_equal(a, b)
    x = torch.linspace(-1, 1, 20)
    assert a[3, 7, 11] == pytest.approx(float(f(torch.tensor([[x[3], x[7], x[11]]]))), abs=1e-6)


def test_metrics_see_a_shifted_sphere():
    s = analytic_shape("sphere")
    ref = s.reference_mesh(64)
    moved = Mesh(ref.vertices + np.array([0.05, 0, 0]), ref.faces)
    m = compare_meshes(moved, ref, samples=20_000)
    diag = ref.diagonal()
    assert 0.3 * 0.05 / diag < m["chamfer_l1"] < 0.05 / diag
    assert m["fscore"] < 0.6


def test_winding_number_and_csg_inside():
    csg = analytic_shape("csg")
    mesh = csg.reference_mesh(64)
    assert mesh.is_watertight()
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.45, 0.45, 0.0], [0.9, 0.9, 0.9], [0.45, 0.0, 0.4]])
    w = winding_number(mesh, pts)
    inside = (csg.sdf(pts)[:, 0] < 0).float()
    assert torch.allclose((w > 0.5).float(), inside)
    assert inside.tolist() == [0.0, 1.0, 0.0, 1.0]  # the centre is drilled out


def test_mesh_files_round_trip(tmp_path):
    mesh = analytic_shape("sphere").reference_mesh(24)
    for ext in ("ply", "obj"):
        write_mesh(tmp_path / f"s.{ext}", mesh)
        back = load_mesh(tmp_path / f"s.{ext}")
        assert back.faces.shape == mesh.faces.shape
        assert back.area() == pytest.approx(mesh.area(), rel=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.obj", "s.ply"]  # no temporaries left


def test_bad_meshes_and_clouds_are_refused(tmp_path):
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1 2\n")
    with pytest.raises(InrkitError):
        load_mesh(bad)
    junk = tmp_path / "junk.obj"
    junk.write_text("this is not a mesh\n")
    with pytest.raises(InrkitError, match="no faces|cannot read"):
        load_mesh(junk)
    nofaces = tmp_path / "pts.obj"
    nofaces.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    with pytest.raises(InrkitError, match="no faces"):
        load_mesh(nofaces)
    nan = tmp_path / "nan.obj"
    nan.write_text("v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(InrkitError, match="NaN"):
        load_mesh(nan)
    xyz = tmp_path / "p.xyz"
    xyz.write_text("\n".join(f"{i} {i % 3} {i % 5}" for i in range(40)))
    with pytest.raises(InrkitError, match="without normals"):
        load_oriented_points(xyz)
    xyz.write_text("\n".join(f"{i} 0 nan 0 0 1" for i in range(40)))
    with pytest.raises(InrkitError, match="NaN"):
        load_oriented_points(xyz)
    with pytest.raises(InrkitError, match="resolution"):
        extract_mesh(analytic_shape("sphere").sdf, 100_000)
    with pytest.raises(InrkitError, match="does not cross"):
        extract_mesh(lambda x: torch.ones(x.shape[0], 1), 16)


def test_occupancy_labels_agree_between_analytic_sign_and_winding_number():
    from inrkit.signals.shape import OccupancySampler, ShapeSource, load_shape

    sphere = load_shape("sphere", points=2000)
    mesh_only = ShapeSource("sphere-mesh", sphere.points, sphere.normals, analytic_shape("sphere").reference_mesh(24))
    g = torch.Generator().manual_seed(0)
    batch = OccupancySampler(sphere, batch=2000)(g)
    assert 0.2 < float(batch.targets.mean()) < 0.8  # half the points near the surface: both labels present
    pool = OccupancySampler(mesh_only, batch=500, pool=3000)
    x, y = pool.pool
    r = x.norm(dim=-1, keepdim=True)
    far = (r - 0.6).abs() > 0.02  # the 24^3 mesh is within a cell of the sphere
    assert torch.equal(y[far], (r[far] < 0.6).float())
    n = mesh_only.mesh.vertex_normals()
    assert np.allclose((n * mesh_only.mesh.vertices).sum(-1) / 0.6, 1, atol=0.01)  # outward, radial


def test_vertex_colours_are_written_and_read_back(tmp_path):
    import trimesh

    mesh = extract_mesh(lambda p: p.norm(dim=-1, keepdim=True) - 0.6, 16)
    rgb = (np.abs(mesh.vertices) * 255).clip(0, 255).astype(np.uint8)
    mesh.colours = rgb
    write_mesh(tmp_path / "c.ply", mesh)
    back = trimesh.load(str(tmp_path / "c.ply"), process=False)
    assert np.array_equal(np.asarray(back.visual.vertex_colors)[:, :3], rgb)
    with pytest.raises(ValueError, match="vertex colours"):
        Mesh(mesh.vertices, mesh.faces, rgb[:-1])


def test_point_to_mesh_distance_is_exact_on_a_cube_and_a_sphere():
    import trimesh

    from inrkit.shapes.metrics import point_to_mesh_distance

    box = trimesh.creation.box(extents=(2, 2, 2))  # 12 triangles: faces, edges and corners
    cube = Mesh(box.vertices, box.faces)
    rng = np.random.default_rng(0)
    p = rng.uniform(-3, 3, (2000, 3))
    outside = np.linalg.norm(np.maximum(np.abs(p) - 1, 0), axis=-1)
    inside = 1 - np.abs(p).max(-1)
    exact = np.where(outside > 0, outside, inside)  # distance to the box's surface
    assert np.allclose(point_to_mesh_distance(p, cube, chunk=333), exact, atol=1e-9)
    sphere = extract_mesh(lambda q: q.norm(dim=-1, keepdim=True) - 0.5, 64)
    q = rng.normal(size=(500, 3))
    d = point_to_mesh_distance(q, sphere)
    nearest_vertex = np.linalg.norm(q[:, None] - sphere.vertices[None], axis=-1).min(1)
    assert np.all(d <= nearest_vertex + 1e-12)  # never worse than the nearest vertex
    assert np.allclose(d, np.abs(np.linalg.norm(q, axis=-1) - 0.5), atol=2e-3)  # the polygonised sphere


def test_surface_chamfer_is_below_the_sample_estimate():
    sphere = extract_mesh(lambda q: q.norm(dim=-1, keepdim=True) - 0.5, 48)
    m = compare_meshes(sphere, sphere, samples=5000)
    assert m["chamfer_l1_surface"] < 1e-7 < 1e-4 < m["chamfer_l1"]  # same surface: 0 to rounding; samples: not
