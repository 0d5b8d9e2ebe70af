"""3-D shapes: analytic solids, meshes in and out, mesh metrics and software renders.

- :mod:`.analytic`: sphere, torus and a CSG solid as exact (or sign-exact) signed distances;
- :mod:`.mesh`: :class:`Mesh`, reading meshes and oriented point clouds (trimesh), marching cubes
  of any field evaluated in bounded chunks (the one mesh extractor of inrkit), writing PLY / OBJ,
  area-weighted surface sampling and the generalised winding number (inside / outside);
- :mod:`.metrics`: Chamfer-L1, normal consistency and F-score between two meshes;
- :mod:`.render`: shaded orthographic renders of a sampled volume and SDF slices.

Pure functions and small classes over NumPy / torch (layer 1 of docs/architecture.md).
"""

from .analytic import SHAPES, analytic_shape
from .mesh import MAX_RESOLUTION, Mesh, extract_mesh, load_mesh, load_oriented_points, write_mesh
from .metrics import compare_meshes

__all__ = ["SHAPES", "analytic_shape", "Mesh", "extract_mesh", "load_mesh", "load_oriented_points", "write_mesh",
           "compare_meshes", "MAX_RESOLUTION"]
