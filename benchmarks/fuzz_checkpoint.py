"""Fuzz the checkpoint loader: mutated model.json and safetensors files, each loaded or refused in one line.

    python benchmarks/fuzz_checkpoint.py --cases 10000 --seed 0

Starts from the checkpoint fixtures written before issue 12 (every field kind: MLPs, SIREN, PE,
Fourier features, hash and dense grids, functa, both NeRF recipes) and, per case, applies 1-4
random mutations: a random value at a random key of the JSON (huge, negative, zero, bool,
string, inf/nan, lists, nested lists), a deleted or added key, a type swap, a raw-text edit
(truncation, deep nesting, a 5,000-digit number, byte flips), or a safetensors edit (dtype
relabelled, shape or name changed, a NaN or Inf written into the data, bytes flipped or cut).
Seeded: the same arguments give the same cases.

Prints cases tried, how many loaded and were refused (``InrkitError``), uncaught exceptions by
type (the target is 0), the slowest case and the largest peak-memory growth of one case (the
process's peak RSS is reset before each case through /proc/self/clear_refs where Linux allows
it; otherwise the whole run's growth is shown).
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import math
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from inrkit.errors import InrkitError
from inrkit.train import checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))
from fuzzkit import json_slots  # noqa: E402  (the suite's mutation helper)

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "train" / "fixtures" / "checkpoints"
BASES = ["siren", "relu", "tanh", "pe", "ffn", "hash", "siren_audio", "pe_noinput_3d", "densegrid", "hash_3d",
         "functa", "nerf_fast", "nerf_vanilla"]


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
        return True
    except OSError:
        return False


def _value(rng: random.Random):
    k = rng.randrange(14)
    if k == 0:
        return None
    if k == 1:
        return rng.random() < 0.5
    if k == 2:
        return rng.randint(-3, 70)
    if k == 3:
        return rng.choice([0, -1, 20000, 1_000_000, 2**31, 2**40, 2**63, 10**30])
    if k == 4:
        return rng.choice([math.inf, -math.inf, math.nan, 1e308, -0.0, 1e-300, 0.5, 30.0])
    if k == 5:
        return rng.choice(["", "16", "mlp", "siren", "hashgrid", "nerf", "fast", "vanilla", "relu", "\n", "é"])
    if k == 6:
        return [rng.randint(-2, 2**20) for _ in range(rng.randrange(6))]
    if k == 7:
        v: object = 1
        for _ in range(rng.choice([2, 10, 60, 500])):
            v = [v]
        return v
    if k == 8:
        return {"type": rng.choice(["mlp", "identity", "siren", "x"]), "in_dim": rng.randint(-1, 5)}
    if k == 9:
        return [[0, 0, 0], [1, 1, rng.choice([1, 0, math.inf])]]
    if k == 10:
        return rng.randint(-(2**70), 2**70)
    if k == 11:
        return float(rng.randint(1, 64))
    if k == 12:
        return rng.choice([[], {}, [None], {"": None}])
    return rng.choice([2, 3, 4, 5, 16, 64, 256, 4096])


def mutate_json(doc: dict, rng: random.Random) -> str:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 4)):
        arch = doc.get("architecture")
        slots = json_slots(arch) if isinstance(arch, (dict, list)) and rng.random() < 0.9 else json_slots(doc)
        if not slots:
            break
        node, key = rng.choice(slots)
        op = rng.choice(["set", "set", "set", "delete", "add", "swap"])
        if op == "set":
            node[key] = _value(rng)
        elif op == "delete" and isinstance(node, dict):
            del node[key]
        elif op == "add" and isinstance(node, dict):
            node[rng.choice(["extra", "type", "width", "", "in_dim"]) + str(rng.randrange(3))] = _value(rng)
        elif op == "swap":
            v = node[key]
            node[key] = rng.choice([str(v), [v], {"v": v}, bool(v) if not isinstance(v, (dict, list)) else None])
    text = json.dumps(doc)
    r = rng.random()
    if r < 0.05:
        text = text[: rng.randrange(len(text))]
    elif r < 0.08:
        n = rng.choice([100, 5000, 200_000])
        text = text[:-1] + ', "deep": ' + "[" * n + "]" * n + "}"
    elif r < 0.10:
        text = text[:-1] + ', "big": ' + "9" * 5000 + "}"
    elif r < 0.14:
        b = bytearray(text.encode())
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return b.decode("latin-1")
    return text


def mutate_safetensors(data: bytes, rng: random.Random) -> bytes:
    n = int.from_bytes(data[:8], "little")
    header, body = json.loads(data[8:8 + n]), bytearray(data[8 + n:])
    names = [k for k in header if k != "__metadata__"]
    k = rng.choice(names)
    op = rng.randrange(6)
    if op == 0:  # relabel the dtype (same or different byte size)
        header[k]["dtype"] = rng.choice(["I32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F32"])
    elif op == 1:
        header[k]["shape"] = [max(0, s + rng.choice([-1, 1])) for s in header[k]["shape"]] or [1]
    elif op == 2:
        header[k + rng.choice(["x", ""]) if rng.random() < 0.5 else "extra"] = header.pop(k)
    elif op == 3 and header[k]["dtype"] == "F32":  # write NaN / Inf into the data
        a, b = header[k]["data_offsets"]
        if b > a:
            i = a + 4 * rng.randrange((b - a) // 4)
            body[i:i + 4] = rng.choice([b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\x80\xff"])
    elif op == 4:  # flip bytes anywhere
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    else:  # cut the file
        return data[: rng.randrange(len(data))]
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + bytes(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rng = random.Random(a.seed)
    docs = {b: json.loads((FIXTURES / f"{b}.json").read_text()) for b in BASES}
    tensors = {b: (FIXTURES / f"{b}.safetensors").read_bytes() for b in BASES}
    tmp = Path(tempfile.mkdtemp(prefix="inrkit-fuzz-"))
    counts: collections.Counter = collections.Counter()
    uncaught: collections.Counter = collections.Counter()
    examples: dict[str, str] = {}
    slowest = (0.0, "")
    peak_growth_kb, per_case_peak = 0, _reset_peak()
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t_all = time.perf_counter()
    for i in range(a.cases):
        base = rng.choice(BASES)
        js, st = tmp / "m.json", tmp / "m.safetensors"
        if rng.random() < 0.8:
            js.write_text(mutate_json(docs[base], rng), encoding="latin-1")
            st.write_bytes(tensors[base])
        else:
            js.write_text(json.dumps(docs[base]))
            st.write_bytes(mutate_safetensors(tensors[base], rng))
        if per_case_peak:
            _reset_peak()
        before = _status_kb("VmRSS")
        t0 = time.perf_counter()
        try:
            checkpoint.load(tmp / "m")
            counts["loaded"] += 1
        except InrkitError as exc:
            counts["refused"] += 1
            if "\n" in str(exc):
                uncaught["multi-line InrkitError"] += 1
        except BaseException as exc:  # noqa: BLE001 - counting what escapes is the point
            uncaught[type(exc).__name__] += 1
            examples.setdefault(type(exc).__name__, f"case {i} ({base}): {str(exc)[:160]}")
        dt = time.perf_counter() - t0
        if dt > slowest[0]:
            slowest = (dt, f"case {i} ({base})")
        if per_case_peak:
            peak_growth_kb = max(peak_growth_kb, _status_kb("VmHWM") - before)
    total = time.perf_counter() - t_all
    if not per_case_peak:
        peak_growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_rss
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch thread, python {sys.version.split()[0]}, "
          f"torch {torch.__version__}")
    print(f"cases tried: {a.cases} (seed {a.seed}), loaded {counts['loaded']}, refused in one line "
          f"{counts['refused']}, uncaught {sum(uncaught.values())} {dict(uncaught) or ''}")
    for name, ex in examples.items():
        print(f"  {name}: {ex}")
    print(f"slowest case: {slowest[0] * 1000:.0f} ms ({slowest[1]}); all cases: {total:.1f} s")
    scope = "one case (peak RSS reset before each)" if per_case_peak else "the whole run (ru_maxrss)"
    print(f"largest peak-memory growth of {scope}: {peak_growth_kb / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
