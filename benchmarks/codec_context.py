"""What the spatial context model saves: the latents of .inrk files coded with context classes
(grid k's Laplace decay chosen by the decoded grid k + 1) against one factorised Laplace per grid.

    python benchmarks/codec_context.py FILE.inrk [...]

Exact code lengths from the integer tables (the range coder's output is within a few words of
them), the factorised model fitted to each grid the same way (maximum likelihood, then refined).
"""

from __future__ import annotations

import sys
from pathlib import Path

from inrkit.codec import entropy as E, format as FM
from inrkit.codec.coolchic import decoder_model


def main(paths: list[str]) -> None:
    tot_ctx = tot_fac = tot_file = 0.0
    for p in paths:
        c = FM.read(p)
        if c.codec != "coolchic":
            continue
        _, ys = decoder_model(c)
        qs = [y[0, 0].numpy().astype("int64") for y in ys]  # fine -> coarse
        ctx = fac = 0.0
        for i, q in enumerate(qs):
            lo, hi = int(q.min()), int(q.max())
            r = E.refine_decay(q, lo, hi, E.fit_decay(q))
            f = E.code_length_bits(q, E.laplace_frequencies([r], lo, hi), lo)
            fac += f
            if i + 1 < len(qs):
                cls = E.classes_from_coarser(qs[i + 1], q.shape)
                rq = [E.refine_decay(q[cls == k], lo, hi, E.fit_decay(q[cls == k]), span=1) if (cls == k).any() else 0
                      for k in range(E.N_CONTEXT_CLASSES)]
                ctx += E.code_length_bits(q, E.laplace_frequencies(rq, lo, hi), lo, cls)
            else:
                ctx += f
        size = Path(p).stat().st_size
        tot_ctx, tot_fac, tot_file = tot_ctx + ctx, tot_fac + fac, tot_file + size
        print(f"{Path(p).name:<28} file {size:>7,} B  latents: context {ctx / 8:>8,.0f} B, factorised {fac / 8:>8,.0f} B "
              f"({100 * (ctx - fac) / fac:+.1f} %)")
    if tot_fac:
        print(f"{'all':<28} file {tot_file:>7,.0f} B  latents: context {tot_ctx / 8:>8,.0f} B, factorised "
              f"{tot_fac / 8:>8,.0f} B ({100 * (tot_ctx - tot_fac) / tot_fac:+.1f} %); whole files "
              f"{100 * (tot_ctx - tot_fac) / 8 / tot_file:+.1f} %")


if __name__ == "__main__":
    main(sys.argv[1:])
