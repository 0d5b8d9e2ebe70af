"""``inrkit fit-many DATASET`` (one field per image, fitted as one batched computation; sharded by
rank under ``torchrun``) and ``inrkit extract-field RUN --id N`` (one of them as a checkpoint)."""

from __future__ import annotations

from pathlib import Path

from ..config import ARCHS
from ..errors import InrkitError
from .options import Command, Group, Invocation, opt, options
from .shared import Device, DryRun, Log, Quiet, Seed, dry_run_by_probe


@options
class FitManyArgs(Seed, Device, Quiet, DryRun, Log):
    dataset: str = opt(help="mnist, digits, or a folder of same-size images (sub-folders = classes)", positional=True)
    out: Path = opt(help="run folder, written in place: a rerun (or a restarted rank) skips finished shards",
                    group="output")
    items: int | None = opt(None, "fit this many items", unset="all from --start", at_least=1, group="input")
    start: int = opt(0, "first item (sample id) to fit", at_least=0, group="input")
    arch: str = opt("siren", "architecture of every field", choices=ARCHS, group="model")
    width: int = opt(32, "hidden width", at_least=1, at_most=4096, group="model")
    depth: int = opt(3, "hidden layers", at_least=0, at_most=64, group="model")
    w0: float = opt(30.0, "SIREN frequency omega_0", above=0, group="model")
    steps: int = opt(300, "Adam steps (every pixel of every image each step)", at_least=1,
                    group="training")
    lr: float | None = opt(None, "Adam learning rate", unset="the architecture's paper default (SIREN 1e-4)", above=0,
                         group="training")
    shard_size: int = opt(256, "fields fitted together and saved per shard (the unit of resuming and of "
                          "distribution over ranks)", at_least=1, at_most=65536, group="output")


def run_fit_many(a: FitManyArgs, run: Invocation) -> None:
    from ..apps.many import ManySettings, fit_many_run
    from ..distributed import rank_world
    from ..report.rundir import check_writable

    check_writable(a.out)
    s = ManySettings(arch=a.arch, width=a.width, hidden_layers=a.depth, w0=a.w0, steps=a.steps, lr=a.lr, seed=a.seed)
    rank, world = rank_world()
    if a.dry_run:  # fit-many writes its folder in place: the probe runs in a temporary one, then deleted
        import tempfile

        with tempfile.TemporaryDirectory(prefix="inrkit-dry-run-") as tmp:
            work = lambda: fit_many_run(a.dataset, Path(tmp) / "probe", s, items=a.items, start=a.start,  # noqa: E731
                                        shard_size=a.shard_size, device=a.device, progress=False, command=run.command)
            return dry_run_by_probe(a, run, a.out, work, notes=(
                "the estimate is one shard (--shard-size fields fitted together); the run has one per "
                "--shard-size items",))
    from ..train.progress import active_recorder, stream_beside

    if rank == 0:
        stream_beside(a.out)  # --log tensorboard: live events beside the folder while its shards are fitted
    m = fit_many_run(a.dataset, a.out, s, items=a.items, start=a.start, shard_size=a.shard_size, device=a.device,
                     progress=not a.quiet and rank == 0, command=run.command)
    rec = active_recorder()  # written in place, not through a RunDir: the logs go in with the shards
    if rec is not None and rank == 0:
        rec.write(a.out)
        rec.finish_live(a.out)
    if m is not None:
        print(f"{m['items']} fields, PSNR mean {m['psnr_mean']:.2f} dB (min {m['psnr_min']:.2f}, max "
              f"{m['psnr_max']:.2f}) -> {a.out}/manifest.json")
    elif world > 1:
        print(f"rank {rank}: shards done -> {a.out}")


@options
class ExtractArgs(Quiet):
    run: str = opt(help="a finished fit-many folder", positional=True)
    id: int = opt(0, "the sample id (item index in the dataset) to extract", at_least=0, group="input")
    out: Path = opt(help="checkpoint NAME (writes NAME.safetensors and NAME.json, loadable by inrkit render)",
                    group="output")


def run_extract(a: ExtractArgs, run: Invocation) -> None:
    from ..apps.many import load_field
    from ..train import checkpoint

    if a.out.exists() and a.out.is_dir():
        raise InrkitError(f"--out {a.out} is a folder; give a checkpoint name such as {a.out}/model")
    if not a.out.parent.is_dir():
        raise InrkitError(f"output folder {a.out.parent} does not exist")
    field, meta = load_field(a.run, a.id)
    st, js = checkpoint.save(a.out, field, meta)
    print(f"field {a.id} ({meta['training']['psnr']:.2f} dB) -> {st}, {js}")


GROUP = Group((
    Command("fit-many", "fit one field per image of a dataset at once (batched; sharded over torchrun ranks)",
            FitManyArgs, run_fit_many),
    Command("extract-field", "write one field of a fit-many folder as an ordinary checkpoint", ExtractArgs,
            run_extract),
))
