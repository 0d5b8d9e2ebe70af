"""Inverse-problem workflows: sparse-view CT and undersampled MRI, each a field fitted through its
forward operator by the one loop, beside the classical reconstructions of the same measurements.

- CT (Tancik et al. 2020, sec. 6, "2D computed tomography"): the field mu(x, y) is fitted to a
  parallel-beam sinogram through :class:`inrkit.objectives.RayIntegral`; baselines: filtered
  back-projection (``skimage.transform.iradon``, ramp filter) and SART (``iradon_sart``, a few
  iterations, each starting from the last), both from the same sinogram.
- MRI: the field is the image, fitted to masked k-space through
  :class:`inrkit.objectives.MaskedFourier`; baselines: the zero-filled inverse DFT and total
  variation by Chambolle-Pock (:func:`inrkit.ops.fourier.tv_reconstruction`), its weight picked from
  a small set by PSNR against the ground truth (an oracle choice, which favours the baseline).

The default field is Gaussian Fourier features (Tancik et al. 2020, sec. 6) with a ReLU MLP.
Every run writes a folder: ``metrics.json``, the reconstructions as PNG, the checkpoint
(``model.safetensors`` + ``model.json``) and ``report.html`` (images side by side, error maps on
one shared scale, the table, the command).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..atomic import write_json
from ..config import FieldConfig, FourierConfig, build_field, check_arch
from ..device import resolve_device
from ..errors import InrkitError
from ..metrics import psnr, ssim
from ..objectives import MaskedFourier, RayIntegral
from ..report import html as H
from ..report import plots
from ..report.rundir import RunDir
from ..signals.io import write_png
from ..signals.kspace import MRIProblem
from ..signals.tomography import CTProblem, image_of
from ..train import checkpoint, fit, schedules
from ..train.progress import Progress
from .edit import LossHistory, _loss_figure

TV_POINTS = 4096
"""Random points per CT step where the field's total variation is estimated (with ``--tv``)."""

TV_WEIGHTS = (0.0003, 0.001, 0.003, 0.01, 0.03)
"""Total-variation weights tried by the MRI baseline (images in [0, 1], unitary DFT)."""

NONNEG = ("none", "softplus", "relu", "abs")
"""Output maps of ``InverseConfig.nonneg``: none (the network's output as is) or one that makes the field
>= 0 everywhere (attenuation and magnitude images are), applied before the forward operator."""

SOFTPLUS_BETA = 10.0
"""Sharpness of the ``softplus`` output, softplus(beta v) / beta: 0.069 at v = 0 (a plain softplus gives
0.69, far above the phantoms' background of 0), within 1e-4 of relu beyond |v| = 0.7."""


class NonNegative(torch.nn.Module):
    """``field`` followed by a pointwise map onto [0, inf): ``softplus`` (smooth, beta
    :data:`SOFTPLUS_BETA`), ``relu`` (exact zeros, no gradient where the output is negative) or ``abs``.
    Still pointwise. The checkpoint stores the inner field and names the map (``"output"``)."""

    def __init__(self, field: torch.nn.Module, kind: str):
        super().__init__()
        if kind not in NONNEG[1:]:
            raise InrkitError(f"unknown non-negative output {kind!r}; choose one of {', '.join(NONNEG[1:])}")
        self.field, self.kind = field, kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.field(x)
        if self.kind == "softplus":
            return torch.nn.functional.softplus(v, beta=SOFTPLUS_BETA)
        return torch.relu(v) if self.kind == "relu" else v.abs()


@dataclass(frozen=True)
class InverseConfig:
    """The field and its training. ``arch`` ffn (Gaussian Fourier features of ``features`` frequencies
    of scale ``sigma`` in [-1, 1] units) or any of inrkit's architectures; ``width`` x ``depth`` MLP;
    Adam at ``lr`` for ``steps`` steps with ``schedule`` (``constant``; ``cosine``: decay to 1 % of ``lr``
    over ``steps``, which lowers the data term's floor; measured on the phantoms, docs/benchmarks.md: 0.3 dB
    lower for CT, 0.6 dB lower for radial MRI, 1.4 dB higher for random-mask MRI); ``minutes``
    caps the training time (a capped cosine run stops before its rate has decayed). ``tv`` > 0 adds that
    weight times the field's total variation to the data term (:mod:`inrkit.objectives.inverse`; 0: the
    pure INR). ``nonneg`` maps the network's output onto [0, inf) (:data:`NONNEG`, :class:`NonNegative`;
    ``none``: as it is)."""

    arch: str = "ffn"
    width: int = 128
    depth: int = 2
    features: int = 128
    sigma: float = 2.0
    w0: float = 30.0
    steps: int = 1000
    lr: float = 3e-3
    schedule: str = "constant"
    tv: float = 0.0
    seed: int = 0
    minutes: float | None = None
    nonneg: str = "none"

    def __post_init__(self):
        if self.nonneg not in NONNEG:
            raise InrkitError(f"unknown non-negative output {self.nonneg!r}; choose one of {', '.join(NONNEG)}")

    def field_config(self) -> FieldConfig:
        check_arch(self.arch)
        return FieldConfig(arch=self.arch, width=self.width, hidden_layers=self.depth, w0=self.w0,
                           ffn=FourierConfig(features=self.features, sigma=self.sigma))


def _fit(problem_sampler, objective, cfg: InverseConfig, device, progress: bool, label: str, n_side: int):
    gen = torch.Generator().manual_seed(cfg.seed)
    field = build_field(cfg.field_config(), 2, 1, samples_per_axis=n_side, generator=gen).to(device)
    if cfg.nonneg != "none":
        field = NonNegative(field, cfg.nonneg)
    losses = LossHistory.for_steps(cfg.steps)
    cbs = [losses, Progress(label, progress)]  # always: --log records through it
    opt = torch.optim.Adam(field.parameters(), lr=cfg.lr)
    res = fit(field, problem_sampler, objective, steps=cfg.steps, optimizer=opt,
              scheduler=schedules.make(cfg.schedule, opt, cfg.steps), generator=gen, callbacks=cbs,
              max_seconds=None if cfg.minutes is None else 60.0 * cfg.minutes)
    return field.eval(), res, losses.history


def _scores(rec: np.ndarray, truth: np.ndarray | None) -> dict:
    if truth is None:
        return {}
    r = np.clip(rec, 0.0, 1.0)
    return {"psnr": psnr(r, truth, 1.0), "ssim": ssim(r, truth, 1.0)}


# ---- CT -------------------------------------------------------------------------------------

def reconstruct_ct(problem: CTProblem, cfg: InverseConfig = InverseConfig(), rays: int = 0,
                   samples: int | None = None, device: str = "auto", progress: bool = False, pixels: bool = False):
    """Fit a field to ``problem``'s sinogram: ``(field, image (n, n), FitResult, loss history)``.
    ``rays`` per step (0: every ray), ``samples`` per ray (default one per pixel of path). ``pixels``:
    project the field's pixel image with the measurement's own operator (:class:`RayIntegral`, n^2 field
    evaluations a step; ``samples`` is then unused)."""
    dev = resolve_device(device)
    n = problem.n
    sampler = problem.sampler(rays, dev, samples=1 if pixels else samples,
                              tv_points=TV_POINTS if cfg.tv and not pixels else 0)
    field, res, hist = _fit(sampler, RayIntegral(n, tv=cfg.tv, pixels=pixels), cfg, dev, progress,
                            f"CT {problem.views} views", n)
    return field, image_of(lambda x: field(x.to(dev)).cpu(), n), res, hist


def ct_baselines(problem: CTProblem, sart_iterations: int = 3) -> dict[str, tuple[np.ndarray, float]]:
    """``{"FBP": (image, seconds), "SART": (image, seconds)}`` from the problem's sinogram."""
    from skimage.transform import iradon, iradon_sart

    t0 = time.perf_counter()
    fbp = iradon(problem.sinogram, problem.theta, circle=True, filter_name="ramp", output_size=problem.n)
    t1 = time.perf_counter()
    sart = None
    for _ in range(sart_iterations):
        sart = iradon_sart(problem.sinogram, problem.theta, image=sart)
    t2 = time.perf_counter()
    return {"FBP": (fbp, t1 - t0), f"SART ({sart_iterations} it.)": (sart, t2 - t1)}


def run_ct(problem: CTProblem, cfg: InverseConfig = InverseConfig(), *, rays: int = 0, samples: int | None = None,
           sart_iterations: int = 3, device: str = "auto", out: str | Path | None = None,
           overwrite: bool = False, progress: bool = False, command: str = "", pixels: bool = False) -> dict:
    """INR, FBP and SART from the same sinogram; scores against the ground truth when known."""
    if sart_iterations < 1:
        raise InrkitError(f"SART needs at least one iteration, not {sart_iterations}")
    base = ct_baselines(problem, sart_iterations)
    t0 = time.perf_counter()
    field, rec, res, hist = reconstruct_ct(problem, cfg, rays, samples, device, progress, pixels)
    seconds = time.perf_counter() - t0
    methods = {_inr_label(cfg): (rec, seconds), **base}
    results = {"task": "ct", "problem": problem.meta(), "config": asdict(cfg), "rays_per_step": rays,
               "operator": "pixels" if pixels else "rays",
               "samples_per_ray": problem.n if pixels else samples or problem.n, "sart_iterations": sart_iterations,
               "steps_done": res.steps, "status": res.status, "final_loss": res.final_terms.get("loss"),
               "methods": {k: {"seconds": s, **_scores(img, problem.image)} for k, (img, s) in methods.items()},
               "history": hist}
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            for k, (img, _) in methods.items():
                write_png(tmp / f"{_slug(k)}.png", _u8(img))
            if problem.image is not None:
                write_png(tmp / "truth.png", _u8(problem.image))
            write_png(tmp / "sinogram.png", _u8(problem.sinogram / max(float(problem.sinogram.max()), 1e-12)))
            checkpoint.save(tmp / "model", *_checkpointed(field, {"task": "ct", "signal": problem.meta(),
                                                                  "config": asdict(cfg)}))
            results.update(command=command, inrkit_version=__version__)
            write_json(tmp / "metrics.json", results)
            (tmp / "report.html").write_text(_report("CT", problem.name, problem.image, methods, results, hist,
                                                     _ct_problem_text(problem, pixels), command,
                                                     [(_u8(problem.sinogram / max(float(problem.sinogram.max()),
                                                                                  1e-12)),
                                                       f"the sinogram: {problem.n} detector bins x "
                                                       f"{problem.views} views")]))
    return results


def _ct_problem_text(p: CTProblem, pixels: bool = False) -> str:
    how = ("the field's image on the n x n pixel grid projected with scikit-image's operator (bilinear "
           "interpolation at fixed points along each ray)" if pixels else
           "each integral a stratified sum of the field along the ray")
    return (f"<p><b>Operator.</b> A(mu) = parallel-beam line integrals of the field along {p.views} views x "
            f"{p.n} detector bins, scikit-image's geometry (<code>skimage.transform.radon</code>, circle=True), "
            f"{how}; the field is zero outside the reconstruction circle. The classical baselines reconstruct "
            "from the same sinogram.</p>")


# ---- MRI ------------------------------------------------------------------------------------

def run_mri(problem: MRIProblem, cfg: InverseConfig = InverseConfig(), *, tv_iterations: int = 1000,
            device: str = "auto", out: str | Path | None = None, overwrite: bool = False, progress: bool = False,
            command: str = "") -> dict:
    """INR, zero-filled and TV reconstructions of the same k-space."""
    from ..ops.fourier import data_consistent, tv_reconstruction

    dev = resolve_device(device)
    h, w = problem.shape
    t0 = time.perf_counter()
    zf = problem.zero_filled()
    t_zf = time.perf_counter() - t0
    t0 = time.perf_counter()
    tv_best, tv_weight, tv_all = None, None, {}
    weights = TV_WEIGHTS if problem.image is not None else (0.01,)
    support = None if problem.support is None else problem.support.double()
    for lam in weights:
        rec = tv_reconstruction(problem.kspace, problem.mask.double(), lam, tv_iterations, support).real.numpy()
        score = psnr(np.clip(rec, 0, 1), problem.image, 1.0) if problem.image is not None else 0.0
        tv_all[lam] = score
        if tv_best is None or score > tv_all[tv_weight]:
            tv_best, tv_weight = rec, lam
    t_tv = (time.perf_counter() - t0) / len(weights)
    t0 = time.perf_counter()
    field, res, hist = _fit(problem.sampler(dev), MaskedFourier(tv=cfg.tv), cfg, dev, progress, "MRI", max(h, w))
    from .. import coords as C

    with torch.no_grad():
        rec = field(C.grid((h, w), device=dev).reshape(-1, 2))[:, 0].reshape(h, w).double().cpu().numpy()
    if support is not None:
        rec = rec * support.numpy()
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()  # the measured frequencies put back, the field's estimate kept for the others
    dc = data_consistent(torch.as_tensor(rec), problem.kspace, problem.mask.double()).real.numpy()
    t_dc = seconds + time.perf_counter() - t0
    on = " on the support" if support is not None else ""
    methods = {_inr_label(cfg): (rec, seconds), f"{_inr_label(cfg)} + data consistency": (dc, t_dc),
               "zero-filled": (zf, t_zf), f"TV{on} (weight {tv_weight:g})": (tv_best, t_tv)}
    results = {"task": "mri", "problem": problem.meta(), "config": asdict(cfg), "tv_iterations": tv_iterations,
               "tv_weights_psnr": {str(k): v for k, v in tv_all.items()}, "steps_done": res.steps,
               "status": res.status, "final_loss": res.final_terms.get("loss"),
               "methods": {k: {"seconds": s, **_scores(img, problem.image)} for k, (img, s) in methods.items()},
               "history": hist}
    if out is not None:
        mask_img = (problem.mask.numpy() * 255).astype(np.uint8)
        with RunDir(out, overwrite) as tmp:
            for k, (img, _) in methods.items():
                write_png(tmp / f"{_slug(k)}.png", _u8(img))
            if problem.image is not None:
                write_png(tmp / "truth.png", _u8(problem.image))
            write_png(tmp / "mask.png", mask_img)
            meta = {"task": "mri", "signal": problem.meta(), "config": asdict(cfg)}
            if support is not None:
                write_png(tmp / "support.png", _u8(support.numpy()))
                meta["support"] = support_meta(support.numpy() > 0)
            checkpoint.save(tmp / "model", *_checkpointed(field, meta))
            results.update(command=command, inrkit_version=__version__)
            write_json(tmp / "metrics.json", results)
            frac = float(problem.mask.mean())
            text = (f"<p><b>Operator.</b> A(f) = M . DFT(f on the {w} x {h} grid), unitary, centred k-space; the "
                    f"mask M keeps {frac:.1%} of k-space (acceleration {1 / frac:.1f}x). Data consistency: the "
                    f"measured k-space put back into the INR's image, its estimate kept only where M = 0 "
                    f"(Schlemper et al. 2017). "
                    + (f"Support: the image is taken to be zero outside a mask {problem.info.get('support')} "
                       f"({problem.info.get('support_fraction', 0):.0%} of the pixels"
                       + ("; the zero-filled magnitude smoothed 1.5 px, thresholded at half of Otsu's level, small "
                          "islands dropped, widened 3 px, holes filled" if str(problem.info.get("support", ""))
                          .startswith("estimated") else "")
                       + "), in the INR's forward model and as TV's constraint. " if support is not None else "")
                    + "TV: Chambolle-Pock, "
                    f"{tv_iterations} iterations, weight picked by PSNR against the truth from "
                    f"{', '.join(f'{x:g}' for x in weights)} (an oracle choice that favours the baseline).</p>")
            figs = [(mask_img, "the k-space mask (centred)")]
            if support is not None:
                figs.append((_u8(support.numpy()), "the support (white: where the image may be non-zero)"))
            (tmp / "report.html").write_text(_report("MRI", problem.name, problem.image, methods, results, hist,
                                                     text, command, figs))
    return results


# ---- shared -------------------------------------------------------------------------------

def _inr_label(cfg: InverseConfig) -> str:
    arch = cfg.arch if cfg.nonneg == "none" else f"{cfg.arch}, {cfg.nonneg}"
    return f"INR ({arch} + TV {cfg.tv:g})" if cfg.tv else f"INR ({arch})"


def _checkpointed(field: torch.nn.Module, meta: dict) -> tuple[torch.nn.Module, dict]:
    """The field a checkpoint can store and its metadata: a :class:`NonNegative` field is stored as its
    network with ``"output"`` naming the map (the image is that map of the stored field's values)."""
    if isinstance(field, NonNegative):
        out = {"map": field.kind, **({"beta": SOFTPLUS_BETA} if field.kind == "softplus" else {})}
        return field.field, {**meta, "output": out}
    return field, meta


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0.0, 1.0) * 255).round().astype(np.uint8)


def _report(task: str, name: str, truth: np.ndarray | None, methods: dict, results: dict, hist: list, problem: str,
            command: str, extra_figs: list) -> str:
    rows = []
    for k, (img, s) in methods.items():
        m = results["methods"][k]
        rows.append([k, H.decibels(m["psnr"]) if "psnr" in m else "n/a",
                     f"{m['ssim']:.4f}" if "ssim" in m else "n/a", f"{s:.1f}"])
    table = H.table(["method", "PSNR", "SSIM", "seconds"], rows)
    figs = ([H.figure(_u8(truth), "ground truth")] if truth is not None else [])
    figs += [H.figure(_u8(img), f"{k}" + (f": {H.decibels(results['methods'][k]['psnr'])}"
                                           if "psnr" in results["methods"][k] else ""))
             for k, (img, _) in methods.items()]
    figs += [H.figure(img, cap) for img, cap in extra_figs]
    err = ""
    if truth is not None:
        errs = {k: np.abs(np.clip(img, 0, 1) - truth) for k, (img, _) in methods.items()}
        scale = plots.error_scale(list(errs.values()), "|reconstruction - truth|")
        err = ("<p class='note'>Absolute error against the ground truth, one shared colour scale.</p>"
               + "".join(H.figure(scale.apply(e), k, scale=scale) for k, e in errs.items()))
    _, curve = _loss_figure({"INR": hist}, f"{task} data term")
    cfg = results["config"]
    settings = H.table(["setting", "value"], [[k, v] for k, v in cfg.items()] +
                       [["steps done", results["steps_done"]], ["status", results["status"]]])
    return H.page(f"inrkit {task.lower()}: {name}", f"INR through the {task} forward operator beside the classical "
                  "reconstructions of the same measurements",
                  [("Problem", problem), ("Results", table), ("Images", "".join(figs)), ("Errors", err),
                   ("Training", curve), ("Configuration", settings), ("Command", H.command(command))])


__all__ = ["InverseConfig", "NonNegative", "NONNEG", "reconstruct_ct", "ct_baselines", "run_ct", "run_mri",
           "TV_WEIGHTS"]


# ---- rendering a run at any resolution ------------------------------------------------------

class Reconstruction(torch.nn.Module):
    """What a CT or MRI run reconstructed, as a field on [-1, 1]^2 that ``inrkit render`` can draw at any
    resolution: the stored network, the output map the run trained with (``"output"``: softplus, relu or abs),
    times the region the run's forward operator assumed the object in (CT: the reconstruction circle of
    ``radon(circle=True)``, :func:`inrkit.rendering.radon.disc_mask`; MRI: the support mask when the run
    estimated one, looked up at the nearest pixel of the run's grid, zero off it). The run's images are in
    [0, 1]; this field returns them in the image pipeline's units, ``2 v - 1`` (``pixels.values_to_pixels``
    maps them back), so a render at the run's own size equals the run's PNG to rounding."""

    def __init__(self, field: torch.nn.Module, kind: str, shape: tuple[int, int], support: np.ndarray | None = None):
        super().__init__()
        self.field, self.kind, self.shape = field, kind, shape
        self.out_dim = 1
        self.register_buffer("support", None if support is None else torch.as_tensor(support, dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from ..rendering.radon import disc_mask

        v = self.field(x)[..., :1]
        if self.kind == "ct":
            v = v * disc_mask(x, self.shape[0])
        elif self.support is not None:
            h, w = self.shape
            col = torch.floor((x[..., 0] + 1) * w / 2).long()
            row = torch.floor((x[..., 1] + 1) * h / 2).long()
            inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
            s = self.support[row.clamp(0, h - 1), col.clamp(0, w - 1)] & inside
            v = v * s[..., None].to(v.dtype)
        return 2 * v - 1


def reconstruction_field(field: torch.nn.Module, meta: dict) -> torch.nn.Module:
    """A loaded CT or MRI checkpoint's network -> :class:`Reconstruction` (its JSON checked; one-line errors)."""
    sig = meta.get("signal")
    kind = sig.get("kind") if isinstance(sig, dict) else None
    if kind not in ("ct", "mri"):
        raise InrkitError(f"not a CT or MRI reconstruction (signal kind {kind!r})")
    shape = sig.get("shape")
    if (not isinstance(shape, list) or len(shape) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1 << 16 for n in shape)):
        raise InrkitError(f"the {kind.upper()} run's image shape {shape!r:.40} is not two sizes from 1 to 65536")
    out = meta.get("output")
    if out is not None:
        kind_map = out.get("map") if isinstance(out, dict) else None
        if kind_map not in NONNEG[1:]:
            raise InrkitError(f"the checkpoint's output map {out!r:.60} is not one of {', '.join(NONNEG[1:])}")
        field = NonNegative(field, kind_map)
    support = support_from_meta(meta["support"], tuple(shape)) if meta.get("support") is not None else None
    device = next((p.device for p in field.parameters()), torch.device("cpu"))
    return Reconstruction(field, kind, (shape[0], shape[1]), support).to(device).eval()


def support_meta(mask: np.ndarray) -> dict:
    """A 0/1 support mask as JSON: its shape and its packed bits, zlib-compressed, in base64 (a blob-shaped
    mask of 2048 x 2048 takes a few kB)."""
    import base64
    import zlib

    m = np.asarray(mask, dtype=bool)
    return {"shape": [int(s) for s in m.shape], "bits": base64.b64encode(zlib.compress(np.packbits(m).tobytes(),
                                                                                      9)).decode("ascii")}


def support_from_meta(doc: object, shape: tuple[int, int]) -> np.ndarray:
    """The mask :func:`support_meta` wrote, checked against the run's ``shape`` before anything is allocated:
    a damaged or oversized entry is refused in one line."""
    import base64
    import binascii
    import zlib

    from ..signals.kspace import MAX_SIDE

    if not isinstance(doc, dict) or doc.get("shape") != list(shape) or not isinstance(doc.get("bits"), str):
        raise InrkitError(f"the checkpoint's support mask is not a mask of the run's shape {list(shape)}")
    if max(shape) > MAX_SIDE:
        raise InrkitError(f"the checkpoint's support mask is {shape[0]} x {shape[1]}, above the MRI limit of "
                          f"{MAX_SIDE} pixels a side")
    n = shape[0] * shape[1]
    need = (n + 7) // 8
    try:
        d = zlib.decompressobj()
        raw = d.decompress(base64.b64decode(doc["bits"], validate=True), need + 1)
    except (binascii.Error, ValueError, zlib.error):
        raise InrkitError("the checkpoint's support mask does not decode (damaged base64 or zlib data)") from None
    if len(raw) != need or d.unconsumed_tail:
        raise InrkitError(f"the checkpoint's support mask holds {len(raw)} bytes where {need} were expected")
    return np.unpackbits(np.frombuffer(raw, np.uint8))[:n].reshape(shape).astype(bool)
