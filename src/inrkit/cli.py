"""The command line: ``inrkit fit | compare | render``, over ``config.py`` and ``apps/``.

Bad input exits with code 2 and one line on stderr (``inrkit: error: ...``), never a
traceback; argparse's own usage errors use the same code.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from . import __version__
from .config import ALL_ARCHS, ARCHS, PRESETS, preset, replace
from .errors import InrkitError
from .signals import DEFAULT_MAX_PIXELS
from .signals.io import RESAMPLE_FILTERS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage first by default)
        raise InrkitError(message)


IMAGE_HELP = "image file (PNG, JPEG, TIFF, ...) or a built-in name such as camera, astronaut, coffee"


def _add_image_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help=IMAGE_HELP)
    p.add_argument("--alpha", choices=("keep", "drop"), default="keep",
                   help="alpha channel: fit it as a fourth channel (keep, default) or discard it (drop)")
    _add_common(p)


def _add_common(p: argparse.ArgumentParser, size_default: int | None = None,
                resample_default: str = "gaussian", images: bool = True) -> None:
    if images:  # options of commands that read images
        p.add_argument("--size", type=int, default=size_default,
                       help=f"resize so the longer side has SIZE pixels before fitting (default {size_default})")
        p.add_argument("--resample", choices=RESAMPLE_FILTERS, default=resample_default,
                       help="down-sampling filter of --size: gaussian (scikit-image anti-aliasing), triangle (PIL "
                            f"bilinear, the SIREN paper's), box, lanczos (default {resample_default})")
        p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                       help=f"refuse images above this many pixels before decoding (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--width", type=int, help="hidden width (default 256)")
    p.add_argument("--depth", type=int, help="hidden layers of width x width (default 3; SIREN's convention)")
    p.add_argument("--w0", type=float, help="SIREN frequency omega_0 (default 30)")
    p.add_argument("--pe-frequencies", type=int, help="NeRF PE octaves (default: Nyquist rule of the image)")
    p.add_argument("--ffn-features", type=int, help="Fourier features m (default 256)")
    p.add_argument("--ffn-sigma", type=float, help="Fourier feature scale in [-1,1] units (default 5 = Tancik's 10)")
    p.add_argument("--hash-levels", type=int, help="hash grid levels L (default 16)")
    p.add_argument("--hash-log2-table", type=int, help="hash grid log2 of entries per level T (default 18)")
    p.add_argument("--hash-max-res", type=int, help="hash grid finest resolution N_max (default 2x the longer side)")
    p.add_argument("--preset", default="reference",
                   help=f"starting recipe, overridden by other options: {', '.join(PRESETS)} (default reference)")
    p.add_argument("--schedule", choices=("constant", "cosine"), help="learning-rate schedule")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the training step")
    p.add_argument("--amp", action="store_true", default=None, help="bfloat16 autocast on CUDA")
    p.add_argument("--steps", type=int, help="optimisation steps (default 500)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: the architecture's paper value)")
    p.add_argument("--batch-size", type=int, help="random pixels per step; 0 = whole image (default)")
    p.add_argument("--log-every", type=int, help="evaluate PSNR/SSIM every N steps (default 25)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    p.add_argument("--out", type=Path, help="run folder (default runs/<image>-<arch>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _configs(a: argparse.Namespace, arch: str | None):
    for name in ("width", "depth", "steps", "ffn_features", "pe_frequencies", "hash_levels", "hash_log2_table",
                 "hash_max_res"):
        v = getattr(a, name)
        if v is not None and v < 1:
            raise InrkitError(f"--{name.replace('_', '-')} must be at least 1, not {v}")
    if a.lr is not None and not a.lr > 0:
        raise InrkitError(f"--lr must be positive, not {a.lr}")
    if a.hash_log2_table is not None and a.hash_log2_table > 26:
        raise InrkitError(f"--hash-log2-table {a.hash_log2_table} is too large (at most 26)")
    base_f, base_t = preset(a.preset)
    fcfg = replace(base_f, arch=arch, width=a.width, hidden_layers=a.depth, w0=a.w0,
                   pe_frequencies=a.pe_frequencies, ffn_features=a.ffn_features, ffn_sigma=a.ffn_sigma,
                   hash_levels=a.hash_levels, hash_log2_table=a.hash_log2_table, hash_max_res=a.hash_max_res)
    tcfg = replace(base_t, steps=a.steps, lr=a.lr, batch_size=a.batch_size, log_every=a.log_every, seed=a.seed,
                   schedule=a.schedule, compile=a.compile, amp=a.amp)
    return fcfg, tcfg


def _image_name(src: str) -> str:
    return Path(src).stem or "image"


def cmd_fit(a: argparse.Namespace, command: str) -> None:
    from .apps.image import fit_image
    from .report.rundir import default_run_dir

    fcfg, tcfg = _configs(a, a.arch)
    out = a.out or default_run_dir(_image_name(a.image), fcfg.arch)
    fit_ = fit_image(a.image, fcfg.arch, size=a.size, field_cfg=fcfg, train_cfg=tcfg, device=a.device, out=out,
                     overwrite=a.overwrite, max_pixels=a.max_pixels, alpha=a.alpha, progress=not a.quiet,
                     command=command, resample=a.resample)
    m = fit_.metrics
    print(f"{fcfg.arch}: PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f}, {m['parameters']:,} parameters, "
          f"{m['seconds']:.1f} s -> {out}/report.html")


def cmd_compare(a: argparse.Namespace, command: str) -> None:
    from .apps.image import compare_images
    from .report.rundir import default_run_dir

    archs = tuple(a.archs.split(",")) if a.archs else ARCHS
    fcfg, tcfg = _configs(a, None)
    out = a.out or default_run_dir("compare", _image_name(a.image))
    fits = compare_images(a.image, archs, size=a.size, field_cfg=fcfg, train_cfg=tcfg, device=a.device, out=out,
                          overwrite=a.overwrite, max_pixels=a.max_pixels, alpha=a.alpha, progress=not a.quiet,
                          command=command, resample=a.resample)
    print(f"{'architecture':<10} {'PSNR':>8} {'SSIM':>7} {'params':>9} {'seconds':>8}")
    for f in fits:
        m = f.metrics
        print(f"{f.arch:<10} {m['psnr']:8.2f} {m['ssim']:7.4f} {m['parameters']:9,d} {m['seconds']:8.1f}")
    print(f"-> {out}/report.html")


def cmd_render(a: argparse.Namespace, command: str) -> None:
    from .apps.image import render, resolve_device
    from .signals.io import write_png
    from .train import checkpoint

    field, meta = checkpoint.load(a.checkpoint, device=resolve_device(a.device))
    if meta.get("signal", {}).get("kind") != "image":
        raise InrkitError(f"{a.checkpoint} is not an image field")
    if a.size is None:
        h, w = meta["signal"]["shape"]
        size = (w * a.scale, h * a.scale)
    else:
        size = tuple(a.size)
    if size[0] * size[1] > a.max_pixels:
        raise InrkitError(f"render size {size[0]}x{size[1]} is above the limit of {a.max_pixels} pixels (--max-pixels)")
    img = render(field, meta, size, tuple(a.region) if a.region else None, a.what, a.chunk)
    out = a.out or Path(f"{Path(a.checkpoint).with_suffix('')}-{a.what}-{size[0]}x{size[1]}.png")
    if out.parent and not out.parent.exists():
        raise InrkitError(f"output folder {out.parent} does not exist")
    write_png(out, img)
    print(f"wrote {out} ({size[0]}x{size[1]}, {a.what})")


def _common_train(a: argparse.Namespace, default_steps: int):
    if a.steps is None:
        a.steps = default_steps
    return _configs(a, a.arch)


def cmd_poisson(a: argparse.Namespace, command: str) -> None:
    from .apps.edit import poisson_reconstruction
    from .report.rundir import default_run_dir

    archs = tuple(a.archs.split(","))
    a.arch = None
    fcfg, tcfg = _common_train(a, 10_000)
    out = a.out or default_run_dir("poisson", a.supervision, _image_name(a.image))
    r = poisson_reconstruction(a.image, a.supervision, archs, a.size, fcfg, tcfg, a.device, out, a.overwrite,
                               not a.quiet, command, a.max_pixels, a.minutes, a.resample, a.operator)
    print(f"from the {a.supervision}, {r['steps']} steps (PSNR after removing the constant):")
    for arch, m in r["architectures"].items():
        print(f"  {arch:<8} {m['psnr']:6.2f} dB   vs discrete solve {m['psnr_vs_classical']:6.2f} dB   "
              f"{m['steps_done']} steps in {m['seconds']:.1f} s")
    print(f"  discrete Poisson solve (DCT) {r['classical_psnr']:.2f} dB\n-> {out}/report.html")


def cmd_blend(a: argparse.Namespace, command: str) -> None:
    from .apps.edit import blend
    from .report.rundir import default_run_dir

    fcfg, tcfg = _common_train(a, 1000)
    out = a.out or default_run_dir("blend", _image_name(a.a), _image_name(a.b))
    r = blend(a.a, a.b, a.mix, a.mask, a.size, fcfg, tcfg, a.device, out, a.overwrite, not a.quiet, command,
              a.max_pixels, a.resample)
    print(f"{r['mode']}: INR blend vs discrete Poisson blend {r['psnr_inr_vs_discrete']:.2f} dB "
          f"(naive {r['psnr_naive_vs_discrete']:.2f} dB) -> {out}/report.html")


def cmd_integrate(a: argparse.Namespace, command: str) -> None:
    from .apps.edit import integrate
    from .report.rundir import default_run_dir

    fcfg, tcfg = _common_train(a, 1000)
    out = a.out or default_run_dir("integrate", Path(a.fields[0]).stem)
    r = integrate(a.fields, fcfg, tcfg, a.device, out, a.overwrite, not a.quiet, command)
    print(f"integrated {r['shape'][1]}x{r['shape'][0]}: INR vs discrete solve {r['psnr_inr_vs_discrete']:.2f} dB "
          f"-> {out}/scalar.npy, scalar.png")


def cmd_functa_train(a: argparse.Namespace, command: str) -> None:
    from .apps.functa import train_functa, write_functa_run
    from .report.rundir import default_run_dir

    try:
        dims = [int(d) for d in a.latent_dims.split(",")]
    except ValueError:
        raise InrkitError(f"--latent-dims must be comma-separated integers, not {a.latent_dims!r}") from None
    if a.width < 1 or a.depth < 0 or any(d < 1 for d in dims):
        raise InrkitError("--width, --depth and --latent-dims must be positive")
    out = a.out or default_run_dir("functa", Path(a.dataset).name)
    if out.exists() and not a.overwrite:
        raise InrkitError(f"output folder {out} already exists (pass --overwrite or another --out)")
    runs = [train_functa(a.dataset, d, a.steps, a.batch_size, a.width, a.depth, a.w0, a.inner_steps, a.lr,
                         a.first_order, a.seed, a.device, a.eval_items, not a.quiet, a.minutes) for d in dims]
    write_functa_run(runs, out, command, a.overwrite)
    print(f"{'latent':>6} {'1 step':>7} {'3 steps':>8} {'10 steps':>9} {'PCA':>6}  (held-out PSNR, dB)  "
          "outer steps, s per step")
    for r in runs:
        hp = r["heldout_psnr"]
        print(f"{r['latent_dim']:>6} {hp[1]:7.2f} {hp[3]:8.2f} {hp[10]:9.2f} {r['pca_psnr']:6.2f}  "
              f"{r['steps_done']:>19} {r['seconds_per_step']:.4f}")
    print(f"-> {out}/report.html")


def cmd_functa_encode(a: argparse.Namespace, command: str) -> None:
    from .apps.functa import encode_functaset

    m = encode_functaset(a.checkpoint, a.dataset, a.out, a.inner_steps, a.shard_size, a.batch_size, a.device,
                         not a.quiet)
    print(f"functaset of {m['items']} items, latent {m['latent_dim']}, modulations {m['modulation_dim']} -> {a.out}")
    if m["encoded_this_run"]:
        print(f"encoded {m['encoded_this_run']} items in {m['encode_seconds']:.1f} s "
              f"({m['encoded_this_run'] / m['encode_seconds']:.0f} signals/s, {m['inner_steps']} inner steps)")


def cmd_functa_classify(a: argparse.Namespace, command: str) -> None:
    from .apps.functa import classify

    r = classify(a.functaset, a.epochs, a.seed)
    print(f"test accuracy on {r['dataset']} ({r['train_items']} train / {r['test_items']} test), same MLP:")
    print(f"| input | dimension | accuracy |\n|---|---|---|")
    print(f"| modulations | {r['modulation_dim']} | {100 * r['modulations']:.1f} % |")
    print(f"| latents | {r['latent_dim']} | {100 * r['latents']:.1f} % |")
    print(f"| pixels | {r['pixel_dim']} | {100 * r['pixels']:.1f} % |")


def cmd_functa_sample(a: argparse.Namespace, command: str) -> None:
    from .apps.functa import sample_functa
    from .report.rundir import default_run_dir

    out = a.out or default_run_dir("functa_sample", Path(a.functaset).name)
    if out.exists() and not a.overwrite:
        raise InrkitError(f"output folder {out} already exists (pass --overwrite or another --out)")
    m = sample_functa(a.functaset, out, a.checkpoint, a.samples, a.temperature, a.couplings, a.hidden, a.epochs,
                      a.pairs, a.steps, a.seed, command, a.overwrite, not a.quiet, a.diffusion_steps)
    print(f"held-out log-likelihood per latent dim: flow {m['test_ll_per_dim_flow']:.3f}, "
          f"Gaussian {m['test_ll_per_dim_gaussian']:.3f} nats")
    print("Frechet distance to the held-out latents: " +
          ", ".join(f"{k} {v:.4g}" for k, v in m["frechet_distance_to_test"].items()))
    print(f"-> {out}/report.html")


def cmd_nerf_scene(a: argparse.Namespace, command: str) -> None:
    from .signals.scene import write_scene

    if a.size < 8 or a.size > 2048 or a.train < 1 or a.val < 1 or a.test < 1:
        raise InrkitError("--size must be 8..2048 and --train/--val/--test at least 1")
    write_scene(a.out, a.size, a.train, a.val, a.test, a.overwrite)
    print(f"built-in scene: {a.train}/{a.val}/{a.test} views of {a.size}x{a.size} (Blender layout) -> {a.out}")


def cmd_nerf_train(a: argparse.Namespace, command: str) -> None:
    from .apps.nerf import train_nerf, write_nerf_run
    from .report.rundir import default_run_dir

    out = a.out or default_run_dir("nerf", Path(str(a.dataset)).name)
    if out.exists() and not a.overwrite:
        raise InrkitError(f"output folder {out} already exists (pass --overwrite or another --out)")
    r = train_nerf(a.dataset, a.preset, a.steps, a.minutes, a.eval_every, a.eval_views, a.background, a.downscale,
                   a.seed, a.device, not a.quiet, batch_rays=a.batch_rays)
    write_nerf_run(r, out, command, a.overwrite)
    last = r["history"][-1]
    print(f"{r['steps']} steps in {r['seconds']:.0f} s: validation PSNR {last['val_psnr']:.2f} dB, "
          f"SSIM {last['val_ssim']:.4f} -> {out}/report.html")


def cmd_nerf_eval(a: argparse.Namespace, command: str) -> None:
    from .apps.nerf import eval_nerf
    from .report.rundir import default_run_dir

    out = a.out or default_run_dir("nerf_eval", Path(str(a.dataset)).name)
    r = eval_nerf(a.checkpoint, a.dataset, out, a.split, a.limit, a.device, command, a.overwrite)
    print(f"{r['split']}: {r['views']} views, PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f} -> {out}/report.html")


def cmd_nerf_render(a: argparse.Namespace, command: str) -> None:
    from .apps.nerf import render_orbit

    if not a.orbit:
        raise InrkitError("nerf render needs --orbit (the only path it renders)")
    ck = Path(a.checkpoint)
    out = a.out or (ck if ck.is_dir() else ck.parent) / "orbit"
    r = render_orbit(a.checkpoint, out, a.frames, a.size, a.elevation, a.radius, a.format, a.device, a.overwrite)
    print(f"{r['frames']} frames of {r['size'][0]}x{r['size'][1]} -> {out}/orbit.{a.format}, orbit_depth.{a.format}")


def cmd_nerf_mesh(a: argparse.Namespace, command: str) -> None:
    from .apps.nerf import export_mesh

    if a.out.suffix.lower() != ".ply":
        raise InrkitError("--out must end in .ply")
    r = export_mesh(a.checkpoint, a.out, a.resolution, a.level, a.device)
    print(f"{r['vertices']} vertices, {r['faces']} faces -> {a.out}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="inrkit", description="Implicit neural representations: fit, compare, render.")
    p.add_argument("--version", action="version", version=f"inrkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    f = sub.add_parser("fit", help="fit one architecture to an image and write a run folder with a report")
    _add_image_args(f)
    f.add_argument("--arch", help=f"architecture: {', '.join(ALL_ARCHS)} (default: the preset's, siren)")
    f.set_defaults(func=cmd_fit)

    c = sub.add_parser("compare", help="fit every architecture with the same steps and seed; one figure and table")
    _add_image_args(c)
    c.add_argument("--archs", help=f"comma-separated list from {','.join(ALL_ARCHS)} (default {','.join(ARCHS)})")
    c.set_defaults(func=cmd_compare)

    po = sub.add_parser("poisson", help="reconstruct an image from its gradient or Laplacian only (SIREN sec. 4.1)")
    po.add_argument("image", help=IMAGE_HELP)
    po.add_argument("--supervision", choices=("gradient", "laplacian"), default="gradient")
    po.add_argument("--archs", default="tanh,pe,siren", help=f"comma-separated list from {','.join(ALL_ARCHS)}")
    po.add_argument("--minutes", type=float, help="training-time cap per architecture (steps done are reported)")
    po.add_argument("--operator", choices=("analytic", "stencil", "stencil-sobolev"), default="analytic",
                    help="what is matched to the targets: the network's own derivatives (analytic, the paper's), "
                         "the Sobel / 5-point stencil applied to its values on the pixel grid (stencil), or, for "
                         "the Laplacian, that stencil with the residual in the H^-1 norm (stencil-sobolev)")
    _add_common(po, size_default=256, resample_default="triangle")
    po.set_defaults(func=cmd_poisson, arch=None)

    bl = sub.add_parser("blend", help="blend two same-size images in the gradient domain (mixing or seamless cloning)")
    bl.add_argument("a", help="image A (the background for --mask)")
    bl.add_argument("b", help="image B (pasted inside --mask)")
    bl.add_argument("--mix", "--alpha", dest="mix", type=float, default=0.5,
                    help="mixing weight: grad = alpha grad A + (1 - alpha) grad B (default 0.5)")
    bl.add_argument("--mask", help="binary mask image: paste B's gradients inside it, keep A outside (seamless cloning)")
    bl.add_argument("--arch", help=f"architecture (default siren): {', '.join(ALL_ARCHS)}")
    _add_common(bl)
    bl.set_defaults(func=cmd_blend)

    ig = sub.add_parser("integrate", help="integrate an H x W x 2 gradient field (.npy) into a scalar field")
    ig.add_argument("fields", nargs="+", help="one (H, W, 2) .npy file, or two (H, W) files: d/dx then d/dy, per pixel")
    ig.add_argument("--arch", help=f"architecture (default siren): {', '.join(ALL_ARCHS)}")
    _add_common(ig, images=False)  # reads .npy arrays: no resize, no image pixel limit
    ig.set_defaults(func=cmd_integrate)

    fu = sub.add_parser("functa", help="functa: meta-learn a modulated SIREN, encode datasets, classify, sample")
    fsub = fu.add_subparsers(dest="functa_command", required=True, parser_class=_Parser)
    ft = fsub.add_parser("train", help="meta-train on a dataset (mnist, digits or a folder) and report PSNR vs PCA")
    ft.add_argument("dataset", help="mnist, digits, or a folder of same-size images (sub-folders = classes)")
    ft.add_argument("--latent-dims", default="64", help="comma-separated latent sizes, one model each (default 64)")
    ft.add_argument("--steps", type=int, default=1000, help="outer steps (default 1000)")
    ft.add_argument("--minutes", type=float, help="training-time budget per latent size: stop earlier once it is spent")
    ft.add_argument("--batch-size", type=int, default=32)
    ft.add_argument("--width", type=int, default=128)
    ft.add_argument("--depth", type=int, default=3, help="hidden layers of the shared SIREN")
    ft.add_argument("--w0", type=float, default=30.0)
    ft.add_argument("--inner-steps", type=int, default=3)
    ft.add_argument("--lr", type=float, default=3e-4, help="outer Adam learning rate")
    ft.add_argument("--first-order", action="store_true", help="first-order meta-gradients (cheaper)")
    ft.add_argument("--eval-items", type=int, default=500, help="test images scored in the report")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--device", default="auto")
    ft.add_argument("--out", type=Path)
    ft.add_argument("--overwrite", action="store_true")
    ft.add_argument("--quiet", action="store_true")
    ft.set_defaults(func=cmd_functa_train)
    fe = fsub.add_parser("encode", help="turn a dataset into a functaset (safetensors shards + manifest, resumable)")
    fe.add_argument("checkpoint", help="a model_z*.safetensors/.json from functa train")
    fe.add_argument("dataset")
    fe.add_argument("--out", type=Path, required=True, help="functaset folder (an interrupted run resumes in it)")
    fe.add_argument("--inner-steps", type=int, help="default: the training's")
    fe.add_argument("--shard-size", type=int, default=1000)
    fe.add_argument("--batch-size", type=int, default=256)
    fe.add_argument("--device", default="auto")
    fe.add_argument("--quiet", action="store_true")
    fe.set_defaults(func=cmd_functa_encode)
    fc = fsub.add_parser("classify", help="MLP on modulations beside the same MLP on pixels")
    fc.add_argument("functaset")
    fc.add_argument("--epochs", type=int, default=100)
    fc.add_argument("--seed", type=int, default=0)
    fc.set_defaults(func=cmd_functa_classify)
    fs = fsub.add_parser("sample", help="fit a RealNVP flow to a functaset; decode samples and interpolations")
    fs.add_argument("functaset")
    fs.add_argument("--checkpoint", help="functa checkpoint that decodes it (default: the one in the manifest)")
    fs.add_argument("--samples", type=int, default=32)
    fs.add_argument("--temperature", type=float, default=0.8, help="scale of the base normal when sampling")
    fs.add_argument("--couplings", type=int, default=8)
    fs.add_argument("--hidden", type=int, default=128)
    fs.add_argument("--epochs", type=int, default=100, help="at most; the best epoch on validation is kept")
    fs.add_argument("--pairs", type=int, default=4, help="interpolation pairs (test items of different classes)")
    fs.add_argument("--steps", type=int, default=8, help="points along each interpolation path")
    fs.add_argument("--diffusion-steps", type=int, default=0,
                    help="also train a DDPM on the latents for this many steps (e.g. 4000; 0: flow only)")
    fs.add_argument("--seed", type=int, default=0)
    fs.add_argument("--out", type=Path)
    fs.add_argument("--overwrite", action="store_true")
    fs.add_argument("--quiet", action="store_true")
    fs.set_defaults(func=cmd_functa_sample)

    ne = sub.add_parser("nerf", help="NeRF: train on posed images, evaluate, render orbits, export meshes")
    nsub = ne.add_subparsers(dest="nerf_command", required=True, parser_class=_Parser)
    ns = nsub.add_parser("scene", help="write the built-in ray-traced scene in the Blender layout")
    ns.add_argument("--out", type=Path, required=True)
    ns.add_argument("--size", type=int, default=100)
    ns.add_argument("--train", type=int, default=100)
    ns.add_argument("--val", type=int, default=10)
    ns.add_argument("--test", type=int, default=20)
    ns.add_argument("--overwrite", action="store_true")
    ns.set_defaults(func=cmd_nerf_scene)
    nt = nsub.add_parser("train", help="train a NeRF on a folder (Blender layout or transforms.json) or 'builtin'")
    nt.add_argument("dataset", help="dataset folder, or builtin (rendered once into ~/.cache/inrkit)")
    nt.add_argument("--preset", default="fast", help="fast (hash grid + occupancy), vanilla (the 2020 paper's), "
                    "fast-tiny, vanilla-small")
    nt.add_argument("--steps", type=int, default=20000, help="at most this many steps")
    nt.add_argument("--minutes", type=float, default=10.0, help="at most this much training time (default 10)")
    nt.add_argument("--batch-rays", type=int, help="rays per step (default: the preset's)")
    nt.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between validation renders")
    nt.add_argument("--eval-views", type=int, default=3)
    nt.add_argument("--background", default="white", help="white or black, for transparent frames")
    nt.add_argument("--downscale", type=int, default=1, help="divide the image resolution by this integer")
    nt.add_argument("--seed", type=int, default=0)
    nt.add_argument("--device", default="auto")
    nt.add_argument("--out", type=Path)
    nt.add_argument("--overwrite", action="store_true")
    nt.add_argument("--quiet", action="store_true")
    nt.set_defaults(func=cmd_nerf_train)
    nv = nsub.add_parser("eval", help="PSNR and SSIM on held-out views, images side by side")
    nv.add_argument("checkpoint")
    nv.add_argument("dataset")
    nv.add_argument("--split", default="test")
    nv.add_argument("--limit", type=int, help="first views only")
    nv.add_argument("--device", default="auto")
    nv.add_argument("--out", type=Path)
    nv.add_argument("--overwrite", action="store_true")
    nv.set_defaults(func=cmd_nerf_eval)
    nr = nsub.add_parser("render", help="render an orbit video (GIF or MP4) with its depth")
    nr.add_argument("checkpoint")
    nr.add_argument("--orbit", action="store_true", help="circle the scene at the training cameras' mean elevation")
    nr.add_argument("--frames", type=int, default=60)
    nr.add_argument("--size", type=int, help="width in pixels (default: the training images')")
    nr.add_argument("--elevation", type=float, help="degrees")
    nr.add_argument("--radius", type=float)
    nr.add_argument("--format", default="gif", choices=("gif", "mp4"))
    nr.add_argument("--device", default="auto")
    nr.add_argument("--out", type=Path)
    nr.add_argument("--overwrite", action="store_true")
    nr.set_defaults(func=cmd_nerf_render)
    nm = nsub.add_parser("mesh", help="marching cubes on the density field, written as a coloured PLY")
    nm.add_argument("checkpoint")
    nm.add_argument("--out", type=Path, required=True)
    nm.add_argument("--resolution", type=int, default=128)
    nm.add_argument("--level", type=float, default=25.0, help="density iso-value")
    nm.add_argument("--device", default="auto")
    nm.set_defaults(func=cmd_nerf_mesh)

    r = sub.add_parser("render", help="evaluate a fitted image field at any resolution")
    r.add_argument("checkpoint", help="run folder, or model.safetensors / model.json")
    r.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), help="output size (default: training size x --scale)")
    r.add_argument("--scale", type=int, default=1, help="multiple of the training size when --size is not given")
    r.add_argument("--region", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
                   help="rectangle of the domain [-1,1]^2 to render (x right, y down)")
    r.add_argument("--what", choices=("image", "gradient", "laplacian"), default="image")
    r.add_argument("--chunk", type=int, help="points per evaluation block, bounds memory "
                   "(default 65536 for images, 8192 for derivatives)")
    r.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS * 4, help="refuse larger renders")
    r.add_argument("--device", default="auto")
    r.add_argument("--out", type=Path, help="output PNG (default beside the checkpoint)")
    r.set_defaults(func=cmd_render)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "inrkit " + " ".join(shlex.quote(x) for x in argv)
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "chunk", 1) is not None and getattr(args, "chunk", 1) < 1:
            raise InrkitError("--chunk must be at least 1")
        args.func(args, command)
    except InrkitError as exc:
        print(f"inrkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("inrkit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
