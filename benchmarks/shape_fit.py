"""3-D shapes (issue 17, item 7): SDF Chamfer / normal consistency within 5 minutes; occupancy IoU per
architecture (Tancik et al. 2020 sec. 6 comparison).

    python benchmarks/shape_fit.py [--sdf-minutes 5] [--occ-minutes 1.5] [--out runs/bench-shape]

Runs ``inrkit shape sdf`` and ``inrkit shape occupancy`` and prints markdown tables with the command
and the machine. Targets: SDF Chamfer-L1 <= 0.5 % of the diagonal and normal consistency >= 0.95
within 5 minutes; occupancy IoU >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from inverse_ct import machine

from inrkit.cli import main


def shape_table(cmd: list[str], out: Path) -> str:
    code = main(cmd + ["--out", str(out), "--overwrite", "--quiet"])
    if code:
        sys.exit(code)
    m = json.loads((out / "metrics.json").read_text())
    rows = [f"| {a} | {100 * r['chamfer_l1']:.3f} % | {r['normal_consistency']:.4f} | {r['fscore']:.4f} | "
            f"{r.get('iou', float('nan')):.4f} | {r['steps_done']} | {r['seconds']:.0f} |" for a, r in m["archs"].items()]
    return "\n".join([f"`inrkit {' '.join(shlex.quote(c) for c in cmd)}` ({machine()})", "",
                      "| arch | Chamfer-L1 (of diagonal) | normal consistency | F-score @1% | IoU | steps | seconds |",
                      "|---|---|---|---|---|---|---|", *rows, ""])


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sdf-minutes", type=float, default=5.0)
    p.add_argument("--occ-minutes", type=float, default=1.5)
    p.add_argument("--sdf-shape", default="torus")
    p.add_argument("--occ-shape", default="csg")
    p.add_argument("--occ-archs", default="relu,pe,ffn,siren")
    p.add_argument("--out", type=Path, default=Path("runs/bench-shape"))
    a = p.parse_args()
    print(shape_table(["shape", "sdf", a.sdf_shape, "--steps", "100000", "--minutes", str(a.sdf_minutes),
                       "--resolution", "192"], a.out / "sdf"), flush=True)
    print(shape_table(["shape", "occupancy", a.occ_shape, "--archs", a.occ_archs, "--steps", "100000",
                       "--minutes", str(a.occ_minutes)], a.out / "occupancy"), flush=True)
