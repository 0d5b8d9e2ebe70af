"""Functa meta-training data parallel over 2 gloo CPU processes == 1 process on the same global batch."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

SETTINGS = dict(latent_dim=4, steps=4, batch_size=4, width=16, hidden_layers=1, inner_steps=2, lr=1e-3, seed=5,
                device="cpu", eval_items=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str, settings: dict) -> None:
    import torch.distributed as dist

    from inrkit.apps.functa import train_functa
    from inrkit.signals.collections import load_collection

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        coll = load_collection("digits")
        state = f"{out}.state"  # rank 0 snapshots after every step but the last (step 3 of 4)
        r = train_functa(coll, **settings, nproc=world, state_dir=state, snapshot_minutes=1e-9)
        torch.save({k: v.detach().clone() for k, v in r["field"].state_dict().items()}, f"{out}.{rank}")
        # every rank resumes from rank 0's snapshot (model, Adam, generator) and redoes step 4
        again = train_functa(coll, **settings, nproc=world, state_dir=state, snapshot_minutes=1e-9, resume=True)
        torch.save({k: v.detach().clone() for k, v in again["field"].state_dict().items()}, f"{out}.resumed.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.fixture(autouse=True)
def _one_thread(_threads):
    torch.set_num_threads(1)


def test_two_gloo_processes_equal_one(tmp_path):
    from inrkit.apps.functa import train_functa
    from inrkit.signals.collections import load_collection

    one = train_functa(load_collection("digits"), **SETTINGS)
    assert one["status"] == "ok" and one["steps_done"] == SETTINGS["steps"]
    out = str(tmp_path / "w")
    mp.start_processes(_worker, args=(2, _free_port(), out, SETTINGS), nprocs=2, join=True, start_method="spawn")
    w0, w1 = (torch.load(f"{out}.{r}", weights_only=True) for r in (0, 1))
    ref = one["field"].state_dict()
    assert set(w0) == set(ref)
    for k, v in ref.items():
        torch.testing.assert_close(w0[k], v, rtol=1e-5, atol=1e-6)  # 2 processes == 1, to float rounding
        assert torch.equal(w0[k], w1[k])  # the ranks hold identical weights
    for r in (0, 1):
        resumed = torch.load(f"{out}.resumed.{r}", weights_only=True)
        assert all(torch.equal(resumed[k], w0[k]) for k in w0)  # resumed on every rank: bit-identical
    from inrkit.fields.modulated import LatentModulatedField

    init = LatentModulatedField(2, 1, 4, 16, 1, 30.0, generator=torch.Generator().manual_seed(5)).state_dict()
    moved = max(float((ref[k] - init[k]).abs().max()) for k in ref)
    assert moved > 1e-4  # training changed the shared weights: the equality is not of untouched weights


def test_uneven_split_is_refused():
    from inrkit.distributed import split_batch
    from inrkit.errors import InrkitError

    assert split_batch(8, 2) == 4
    with pytest.raises(InrkitError, match="does not split evenly over 3 processes"):
        split_batch(8, 3)
