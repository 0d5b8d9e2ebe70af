"""Scaling out on ``torch.distributed``: ranks, exact gradient all-reduce, rank-strided shards.

inrkit uses the engine PyTorch users already run: processes started by ``torchrun`` (which
sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), gloo on the
CPU and NCCL on CUDA. Nothing here is a scheduler; these are the few pieces the apps compose
with the one loop :func:`inrkit.train.fit`:

- :func:`init_from_env` joins the process group ``torchrun`` describes (a no-op for one process);
- :class:`AllReduceGrads` wraps an optimiser so that every ``step`` first averages the
  gradients over the ranks (one flat all-reduce), then steps: data parallelism without
  :class:`torch.nn.parallel.DistributedDataParallel`, whose backward hooks assume one forward
  per backward (functa's inner loop calls the network several times and differentiates
  through it), and without any change to the loop;
- :class:`RankSlice` gives each rank its contiguous share of every global batch: every rank
  draws the same global batch from the same generator, so the union of the shares is exactly
  what one process would see;
- :func:`my_shards` assigns shards by rank, strided (shard k to rank k mod W): the shards
  themselves do not depend on the number of workers, so neither do their bytes.
"""

from __future__ import annotations

import os
from dataclasses import replace

import torch

from .batch import Batch
from .errors import InrkitError


def env_world() -> tuple[int, int]:
    """``(rank, world_size)`` from the environment ``torchrun`` sets; ``(0, 1)`` without it.

    Malformed values are one :class:`InrkitError` line."""
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise InrkitError(f"RANK={os.environ.get('RANK')!r} and WORLD_SIZE={os.environ.get('WORLD_SIZE')!r} "
                          "must be integers") from None
    if world < 1 or not 0 <= rank < world:
        raise InrkitError(f"RANK={rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    return rank, world


def is_distributed() -> bool:
    """Whether a process group with more than one rank is running."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the running process group, else from the environment."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return env_world()


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group ``torchrun`` describes: NCCL when ``device`` is CUDA (each rank on
    ``cuda:LOCAL_RANK``), gloo otherwise. One process (no ``WORLD_SIZE`` > 1): nothing is started.
    Returns ``(rank, world_size)``."""
    import torch.distributed as dist

    rank, world = env_world()
    if world == 1 or dist.is_initialized():
        return rank_world()
    if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        raise InrkitError("WORLD_SIZE > 1 but MASTER_ADDR / MASTER_PORT are not set: launch with torchrun")
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return rank, world


def local_device(device: torch.device) -> torch.device:
    """``cuda:LOCAL_RANK`` for a CUDA device under torchrun (one GPU per process), else ``device``."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ and device.index is None:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def barrier() -> None:
    if is_distributed():
        import torch.distributed as dist

        dist.barrier()


def split_batch(batch_size: int, world: int) -> int:
    """Each rank's share of a global batch of ``batch_size``; refused unless ``world`` divides it.

    An uneven split would weight the ranks' mean losses unequally (a plain average of the ranks'
    gradients is the global mean only for equal shares), so the run would no longer equal the
    one-process run; inrkit refuses it rather than silently padding or dropping signals."""
    if batch_size % world:
        raise InrkitError(f"the batch of {batch_size} does not split evenly over {world} processes: choose a "
                          f"--batch-size that is a multiple of {world}")
    return batch_size // world


class RankSlice:
    """Sampler wrapper: rank ``rank``'s contiguous ``1/world`` of every global batch's ``targets``.

    The wrapped sampler draws the whole global batch (so every rank advances the generator in
    step and draws the same indices); ``targets (B, ...)`` is cut to rows
    ``[rank * B/W, (rank + 1) * B/W)``; shared ``coords`` pass unchanged.
    """

    def __init__(self, sample, rank: int, world: int):
        self.sample, self.rank, self.world = sample, rank, world

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        batch = self.sample(generator)
        b = batch.targets.shape[0]
        share = split_batch(b, self.world)
        return replace(batch, targets=batch.targets[self.rank * share:(self.rank + 1) * share])


class AllReduceGrads:
    """An optimiser whose ``step`` first replaces every gradient by its mean over the ranks.

    With equal shares of the global batch and a loss that is the mean over the share, the mean of
    the ranks' gradients is the gradient of the global mean, so the update equals one process's
    on the whole batch (to float rounding: the sums are taken in another order). The gradients
    (shared weights, Meta-SGD rates: every parameter that has one) travel as one flat tensor,
    in the order of ``param_groups``, which is the same on every rank. A parameter without a
    gradient on this rank gets zeros, so the ranks always exchange the same number of elements.

    Everything else (``zero_grad``, ``state_dict``, ``param_groups``, ...) is the wrapped
    optimiser's, so snapshots (:mod:`inrkit.train.resume`) save and restore it unchanged.
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer

    def __getattr__(self, name):
        return getattr(self.optimizer, name)

    def step(self, closure=None):
        import torch.distributed as dist

        if is_distributed():
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            flat = torch.cat([p.grad.reshape(-1) for p in params])
            dist.all_reduce(flat)
            flat /= dist.get_world_size()
            at = 0
            for p in params:
                n = p.numel()
                p.grad.copy_(flat[at:at + n].view_as(p.grad))
                at += n
        return self.optimizer.step(closure) if closure is not None else self.optimizer.step()


def my_shards(shards: int, rank: int, world: int) -> list[int]:
    """The shards rank ``rank`` of ``world`` works on: ``rank, rank + world, ...`` (rank-strided)."""
    return list(range(rank, shards, world))


def broadcast_flag(value: bool) -> bool:
    """Rank 0's ``value`` on every rank (True/False), for decisions only rank 0 can make."""
    if not is_distributed():
        return value
    import torch.distributed as dist

    t = torch.tensor([1 if value else 0], dtype=torch.int64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.broadcast(t, 0)
    return bool(int(t.item()))


from .train.fit import Callback, FitState  # noqa: E402  (the loop's hooks; below the helpers it does not need)


class SyncRanks(Callback):
    """Keep the ranks of a data-parallel :func:`~inrkit.train.fit` run in step (a no-op in one process).

    After every step: the training clock and the stop flag become the largest over the ranks, so
    a time budget or a callback's stop ends every rank on the same step (otherwise one rank would
    wait forever in the next all-reduce); and each loss term becomes its mean over the ranks, which
    with equal shares is the global batch's mean, the figure one process records. Place it first,
    so the callbacks after it see the synchronised state."""

    def after_step(self, state: FitState) -> None:
        if not is_distributed():
            return
        import torch.distributed as dist

        names = sorted(state.terms)
        dev = state.terms[names[0]].device if names else torch.device("cpu")
        flags = torch.tensor([state.train_seconds, 1.0 if state.stop else 0.0], dtype=torch.float64, device=dev)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        state.train_seconds, state.stop = float(flags[0]), bool(flags[1] > 0)
        if names:
            terms = torch.stack([state.terms[k].detach().float().reshape(()) for k in names])
            dist.all_reduce(terms)
            terms /= dist.get_world_size()
            state.terms = {k: terms[i] for i, k in enumerate(names)}
            state._floats = None


class Placeholder(Callback):
    """Does nothing: holds the place of a rank-0-only callback (snapshots) on the other ranks, so
    every rank's callback list, and so every snapshot's, has the same length."""
