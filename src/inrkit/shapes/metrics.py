"""Distances between two surfaces, each given as a mesh and compared through dense samples.

With ``P`` points sampled on the prediction and ``G`` on the reference (area-weighted, with their
face normals), ``d(p, G)`` the distance to the nearest reference sample (a k-d tree, scipy):

- Chamfer-L1 (Mescheder et al. 2019, "Occupancy Networks", sec. 4): ``(mean_p d(p, G) + mean_g
  d(g, P)) / 2``, reported as a fraction of the reference bounding-box diagonal;
- normal consistency (the same paper): the mean of ``|n_p . n_g|`` over nearest pairs, both ways;
- F-score at ``tau`` (Tatarchenko et al. 2019, "What do single-view 3D reconstruction networks
  learn?", sec. 3): the harmonic mean of precision (fraction of ``P`` within ``tau`` of ``G``) and
  recall (fraction of ``G`` within ``tau`` of ``P``), ``tau`` = 1 % of the diagonal by default.
"""

from __future__ import annotations

import numpy as np
import torch

from .mesh import Mesh


def compare_meshes(pred: Mesh, ref: Mesh, samples: int = 100_000, tau: float = 0.01, seed: int = 0) -> dict:
    """Chamfer-L1 (fraction of the diagonal), normal consistency and F-score at ``tau`` x diagonal."""
    g = torch.Generator().manual_seed(seed)
    p, pn = (t.double().numpy() for t in pred.sample(samples, g))
    r, rn = (t.double().numpy() for t in ref.sample(samples, g))
    return compare_samples(p, pn, r, rn, ref.diagonal(), tau)


def compare_samples(p: np.ndarray, pn: np.ndarray, r: np.ndarray, rn: np.ndarray, diag: float,
                    tau: float = 0.01) -> dict:
    """The same figures from samples: prediction ``p, pn (P, 3)``, reference ``r, rn (G, 3)`` (e.g. an
    input point cloud with its normals), ``diag`` the reference bounding-box diagonal."""
    from scipy.spatial import cKDTree

    samples = int(p.shape[0])
    d_pr, i_pr = cKDTree(r).query(p)  # prediction -> reference
    d_rp, i_rp = cKDTree(p).query(r)
    chamfer = 0.5 * (d_pr.mean() + d_rp.mean())
    nc = 0.5 * (np.abs((pn * rn[i_pr]).sum(-1)).mean() + np.abs((rn * pn[i_rp]).sum(-1)).mean())
    t = tau * diag
    precision, recall = float((d_pr < t).mean()), float((d_rp < t).mean())
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"chamfer_l1": float(chamfer / diag), "normal_consistency": float(nc), "fscore": f,
            "precision": precision, "recall": recall, "tau": tau, "diagonal": diag, "samples": samples}
