"""``inrkit functa train | encode | classify | sample``: a modulated SIREN shared by a dataset
(Dupont et al. 2022), its functaset, and models on the latents."""

from __future__ import annotations

from pathlib import Path

from ..config import MAX_BATCH, MAX_PARAMETERS, _mlp_size
from ..errors import InrkitError
from .image import preflight
from .options import Command, Group, Invocation, opt, options
from .shared import (Device, DryRun, Log, Out, Overwrite, Quiet, RunOptions, Seed, dry_run_by_probe, print_dry_run,
                     sources)


@options
class TrainArgs(RunOptions, DryRun, Log):
    dataset: str = opt(help="mnist, digits, or a folder of same-size images (sub-folders = classes)", positional=True)
    latent_dims: str = opt("64", "comma-separated latent sizes, one model each")
    steps: int = opt(1000, "outer steps", at_least=1)
    minutes: float | None = opt(None, "training-time budget per latent size: stop earlier once it is spent",
                                above=0, unset="no budget")
    batch_size: int = opt(32, "images per outer step", at_least=1, at_most=MAX_BATCH)
    width: int = opt(128, "hidden width of the shared SIREN", at_least=1)
    depth: int = opt(3, "hidden layers of the shared SIREN", at_least=0)
    w0: float = opt(30.0, "SIREN frequency omega_0", above=0)
    inner_steps: int = opt(3, "inner-loop steps that fit each image's latent", at_least=1)
    lr: float = opt(3e-4, "outer Adam learning rate", above=0)
    first_order: bool = opt(False, "first-order meta-gradients (cheaper)")
    eval_items: int = opt(500, "test images scored in the report: a class-balanced random subset (seeded by "
                          "--seed), or the whole test split when it has no more", at_least=1)
    snapshot_minutes: float = opt(5.0, "save the whole training state beside --out (.NAME.resume) this often, "
                                  "so a killed run can continue with --resume; 0: never", at_least=0.0)
    resume: bool = opt(False, "continue the killed run that was writing --out: finished latent sizes are kept, "
                       "the running one continues from its last saved state")
    nproc: int = opt(1, "data-parallel processes on this machine: launches `torchrun --standalone --nproc-per-node "
                     "N -m inrkit functa train ...` (gloo on the CPU, NCCL on GPUs); each takes --batch-size / N "
                     "images of every batch (N must divide it). Under torchrun already: leave at 1",
                     at_least=1, at_most=1024, group="run")

    def check(self) -> None:
        """The shared SIREN, its latent-to-shift map and Meta-SGD rates, counted from the numbers
        (one output channel: the fewest) before the dataset is read."""
        for d in _latent_dims(self.latent_dims):
            shifts = (d + 1) * (self.depth + 1) * self.width
            MAX_PARAMETERS.check(_mlp_size(2, 1, self.width, self.depth) + shifts + d,
                                 f"a functa field of width {self.width} x {self.depth} hidden layers, latent {d}")


def _latent_dims(text: str) -> list[int]:
    try:
        dims = [int(d) for d in text.split(",")]
    except ValueError:
        raise InrkitError(f"--latent-dims must be comma-separated integers, not {text!r}") from None
    if any(d < 1 for d in dims):
        raise InrkitError(f"--latent-dims must be positive, not {text}")
    return dims


def run_train(a: TrainArgs, run: Invocation) -> None:
    from ..apps.functa import finish_functa_run, train_functa_sizes
    from ..apps.image import state_folder
    from ..report.rundir import default_run_dir

    from .. import distributed as D
    from ..device import resolve_device

    dims = _latent_dims(a.latent_dims)
    if a.resume and a.out is None:
        raise InrkitError("--resume needs the --out of the interrupted run")
    rank, world = D.env_world()
    if a.nproc > 1 and world > 1:
        raise InrkitError(f"--nproc {a.nproc} under torchrun (WORLD_SIZE={world}): torchrun already started the "
                          "processes; drop --nproc")
    if world > 1 or a.nproc > 1:
        D.split_batch(a.batch_size, max(world, a.nproc))  # before anything starts: one line, exit 2
    if world > 1 and a.out is None:
        raise InrkitError("under torchrun give --out: every process must name the same run folder")
    out = a.out or default_run_dir("functa", Path(a.dataset).name)
    if a.dry_run:
        return _dry_run_train(a, run, dims, out)
    if a.nproc > 1:  # what can be checked once is checked here, before the processes start
        from ..signals.collections import load_collection

        preflight(out, a.overwrite)
        load_collection(a.dataset)
        return _launch(a, run, out)
    if rank == 0:
        preflight(out, a.overwrite)
    D.init_from_env(resolve_device(a.device))
    sdir = state_folder(out) if a.snapshot_minutes > 0 or a.resume else None
    runs = train_functa_sizes(a.dataset, dims, state_dir=sdir,
                              snapshot_minutes=a.snapshot_minutes if a.snapshot_minutes > 0 else 1e9, resume=a.resume,
                              steps=a.steps, batch_size=a.batch_size, width=a.width, hidden_layers=a.depth, w0=a.w0,
                              inner_steps=a.inner_steps, lr=a.lr, first_order=a.first_order, seed=a.seed,
                              device=a.device, eval_items=a.eval_items, progress=not a.quiet, minutes=a.minutes,
                              nproc=max(world, a.nproc))
    if rank != 0:  # rank 0 evaluates and writes the run folder; the others are done
        D.barrier()
        return
    D.barrier()
    finish_functa_run(runs=runs, out=out, command=run.command, overwrite=a.overwrite, state_dir=sdir)
    print(f"{'latent':>6} {'1 step':>7} {'3 steps':>8} {'10 steps':>9} {'PCA':>6}  (held-out PSNR, dB)  "
          "outer steps, s per step")
    for r in runs:
        hp = r["heldout_psnr"]
        print(f"{r['latent_dim']:>6} {hp[1]:7.2f} {hp[3]:8.2f} {hp[10]:9.2f} {r['pca_psnr']:6.2f}  "
              f"{r['steps_done']:>19} {r['seconds_per_step']:.4f}")
    print(f"-> {out}/report.html")


def _launch(a: TrainArgs, run: Invocation, out: Path) -> None:
    """``--nproc N``: the same command under ``torchrun --standalone`` (one machine, a free port),
    without ``--nproc`` and with ``--out`` fixed, so every process names the same run folder."""
    import os
    import shlex
    import subprocess
    import sys

    argv = shlex.split(run.command)[1:]
    keep, skip = [], False
    for i, x in enumerate(argv):
        if skip:
            skip = False
            continue
        if x == "--nproc":
            skip = True
            continue
        if x.startswith("--nproc="):
            continue
        keep.append(x)
    if a.out is None:
        keep += ["--out", str(out)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={a.nproc}",
           "-m", "inrkit", *keep]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    code = subprocess.call(cmd, env=env)
    if code:
        raise InrkitError(f"the {a.nproc} training processes failed (exit {code}); their messages are above")


PROBE_STEPS = 3


def _dry_run_train(a: TrainArgs, run: Invocation, dims: list[int], out: Path) -> None:
    """``functa train --dry-run``: read the dataset (nothing is written), time a probe of outer steps per latent size."""
    from ..apps.functa import load_collection, train_functa
    from ..device import resolve_device
    coll = load_collection(a.dataset)
    total, parts = 0.0, []
    for d in dims:
        r = train_functa(coll, latent_dim=d, steps=PROBE_STEPS + 1, batch_size=a.batch_size, width=a.width,
                         hidden_layers=a.depth, w0=a.w0, inner_steps=a.inner_steps, lr=a.lr,
                         first_order=a.first_order, seed=a.seed, device=a.device, eval_items=min(a.eval_items, 20))
        per = r["seconds_per_step"]
        total += min(per * a.steps, 60 * a.minutes) if a.minutes else per * a.steps
        parts.append(f"latent {d}: {per:.3g} s/step")
    rows = sources(a, run.given, overrides={"out": (out, "flag" if a.out else "default: a new folder under runs/")})
    how = (f"measured: a probe of {PROBE_STEPS + 1} outer steps on {resolve_device(a.device)} ({', '.join(parts)}) "
           f"x {a.steps:,} steps{', capped by --minutes' if a.minutes else ''}; the evaluation of {a.eval_items} "
           f"test images and the report are not counted")
    print_dry_run(run.command, rows, (total, how), out,
                  (f"dataset {coll.name if hasattr(coll, 'name') else a.dataset}: {len(coll.labels):,} images of "
                   f"{' x '.join(str(n) for n in coll.images.shape[1:])}",))


@options
class EncodeArgs(Device, Quiet, DryRun):
    """No ``--log``: encoding has no training loop to record (each item's latent is a few inner steps inside one
    batched computation, with no loss kept; the progress display counts shards), and ``--out`` is a dataset
    folder resumed in place and read by ``functa classify`` / ``sample``, not a run folder."""

    checkpoint: str = opt(help="a model_z*.safetensors/.json from functa train", positional=True)
    dataset: str = opt(help="the dataset to encode (as for functa train)", positional=True)
    out: Path = opt(help="functaset folder (an interrupted run resumes in it)")
    inner_steps: int | None = opt(None, "inner-loop steps per item", unset="the training's", at_least=1)
    shard_size: int = opt(1000, "items per safetensors shard", at_least=1)
    batch_size: int = opt(256, "items encoded together", at_least=1, at_most=MAX_BATCH)


def run_encode(a: EncodeArgs, run: Invocation) -> None:
    from ..apps.functa import encode_functaset
    from ..report.rundir import check_writable

    check_writable(a.out)  # a functaset folder is resumed in place, not swapped: only check it can be written
    from ..report.rundir import honour_umask
    from .shared import check_checkpoint

    check_checkpoint(a.checkpoint, "functa checkpoint (model_zD from functa train)")
    if a.dry_run:
        from ..apps.functa import estimate_encode

        seconds, how, notes, steps = estimate_encode(ckpt=a.checkpoint, dataset=a.dataset, out=a.out,
                                                     inner_steps=a.inner_steps, shard_size=a.shard_size,
                                                     batch_size=a.batch_size, device=a.device)
        rows = sources(a, run.given, overrides={} if a.inner_steps is not None else
                       {"inner_steps": (steps, "default: the checkpoint's training")})
        return print_dry_run(run.command, rows, (seconds, how), a.out, notes)
    m = encode_functaset(ckpt=a.checkpoint, dataset=a.dataset, out=a.out, inner_steps=a.inner_steps,
                         shard_size=a.shard_size, batch_size=a.batch_size, device=a.device, progress=not a.quiet)
    honour_umask(a.out)
    print(f"functaset of {m['items']} items, latent {m['latent_dim']}, modulations {m['modulation_dim']} -> {a.out}")
    if m["encoded_this_run"]:
        print(f"encoded {m['encoded_this_run']} items in {m['encode_seconds']:.1f} s "
              f"({m['encoded_this_run'] / m['encode_seconds']:.0f} signals/s, {m['inner_steps']} inner steps)")


@options
class ClassifyArgs(Seed, Quiet, DryRun):  # writes nothing: no --out
    functaset: str = opt(help="a functaset folder from functa encode", positional=True)
    epochs: int = opt(100, "training epochs of each MLP", at_least=1)


def run_classify(a: ClassifyArgs, run: Invocation) -> None:
    from ..apps.functa import classify

    if a.dry_run:
        return dry_run_by_probe(a, run, None, lambda: classify(functaset=a.functaset, epochs=a.epochs, seed=a.seed,
                                                              progress=False),
                                notes=("the estimate is the first of the three MLPs (modulations, latents, pixels); "
                                       "the others take about as long each",))
    r = classify(functaset=a.functaset, epochs=a.epochs, seed=a.seed, progress=not a.quiet)
    print(f"test accuracy on {r['dataset']} ({r['train_items']} train / {r['test_items']} test), same MLP:")
    print("| input | dimension | accuracy |\n|---|---|---|")
    print(f"| modulations | {r['modulation_dim']} | {100 * r['modulations']:.1f} % |")
    print(f"| latents | {r['latent_dim']} | {100 * r['latents']:.1f} % |")
    print(f"| pixels | {r['pixel_dim']} | {100 * r['pixels']:.1f} % |")


@options
class SampleArgs(Seed, Out, Overwrite, Quiet, DryRun, Log):  # runs on the CPU: no --device
    functaset: str = opt(help="a functaset folder from functa encode", positional=True)
    checkpoint: str | None = opt(None, "functa checkpoint that decodes it", unset="the one in the manifest")
    samples: int = opt(32, "samples drawn and decoded", at_least=1)
    temperature: float = opt(0.8, "scale of the base normal when sampling", above=0)
    couplings: int = opt(8, "RealNVP coupling layers", at_least=1)
    hidden: int = opt(128, "hidden width of each coupling", at_least=1)
    epochs: int = opt(100, "at most; the best epoch on validation is kept", at_least=1)
    pairs: int = opt(4, "interpolation pairs (test items of different classes)", at_least=1)
    steps: int = opt(8, "points along each interpolation path", at_least=2)
    diffusion_steps: int = opt(0, "also train a DDPM on the latents for this many steps (e.g. 4000; 0: flow only)",
                               at_least=0)


def run_sample(a: SampleArgs, run: Invocation) -> None:
    from ..apps.functa import sample_functa
    from ..report.rundir import default_run_dir

    out = a.out or default_run_dir("functa_sample", Path(a.functaset).name)
    preflight(out, a.overwrite)

    def work(progress: bool):
        return sample_functa(functaset=a.functaset, out=out, checkpoint_path=a.checkpoint, samples=a.samples,
                             temperature=a.temperature, couplings=a.couplings, hidden=a.hidden, epochs=a.epochs,
                             pairs=a.pairs, steps=a.steps, seed=a.seed, command=run.command, overwrite=a.overwrite,
                             progress=progress, diffusion_steps=a.diffusion_steps)

    if a.dry_run:
        return dry_run_by_probe(a, run, out, lambda: work(False),
                                notes=(("the estimate covers the flow; the DDPM's --diffusion-steps are not counted",)
                                       if a.diffusion_steps else ()))
    m = work(not a.quiet)
    print(f"held-out log-likelihood per latent dim: flow {m['test_ll_per_dim_flow']:.3f}, "
          f"Gaussian {m['test_ll_per_dim_gaussian']:.3f} nats")
    print("Frechet distance to the held-out latents: " +
          ", ".join(f"{k} {v:.4g}" for k, v in m["frechet_distance_to_test"].items()))
    print(f"-> {out}/report.html")


GROUP = Group((
    Command("train", "meta-train on a dataset (mnist, digits or a folder) and report PSNR vs PCA", TrainArgs,
            run_train),
    Command("encode", "turn a dataset into a functaset (safetensors shards + manifest, resumable)", EncodeArgs,
            run_encode),
    Command("classify", "MLP on modulations beside the same MLP on pixels", ClassifyArgs, run_classify),
    Command("sample", "fit a RealNVP flow to a functaset; decode samples and interpolations", SampleArgs,
            run_sample),
), name="functa", help="functa: meta-learn a modulated SIREN, encode datasets, classify, sample")
