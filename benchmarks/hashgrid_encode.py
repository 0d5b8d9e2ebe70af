"""Hash-grid encoding alone, old grid.py vs the current one, CPU ms, one thread (docs/benchmarks.md, viewer).

    git show 63d5840:src/inrkit/encodings/grid.py > /tmp/vs/grid_old.py   # the version before the speed-up
    OMP_NUM_THREADS=1 python benchmarks/hashgrid_encode.py
"""
import time, torch, sys, importlib.util
from inrkit.encodings import MultiresGrid
from inrkit.encodings import grid as G
spec = importlib.util.spec_from_file_location("grid_old", "/tmp/vs/grid_old.py", submodule_search_locations=None)
import inrkit.encodings
old = importlib.import_module("inrkit.encodings.grid")  # placeholder
src = open("/tmp/vs/grid_old.py").read().replace("from .. import specs as S", "from inrkit import specs as S").replace("from .modules import", "from inrkit.encodings.modules import")
ns = {}
exec(compile(src, "grid_old", "exec"), ns)
old_encode = ns["grid_encode"]
torch.set_num_threads(1)
torch.manual_seed(0)
enc = MultiresGrid(2, [16, 28, 52, 95, 172, 312, 565, 1024], 18, 4)
with torch.no_grad(): enc.table.uniform_(-1, 1)
args = (enc.table, enc.resolution, enc.offsets, enc.sizes, enc.dense)
def t(f, n=5):
    b = 1e9
    for _ in range(n):
        t0 = time.process_time(); f(); b = min(b, time.process_time() - t0)
    return b
for N in (16384, 65536):
    x = torch.rand(N, 2) * 2 - 1
    with torch.no_grad():
        a, b = t(lambda: old_encode(x, *args)), t(lambda: G.grid_encode(x, *args))
        print(f"N={N} no-grad: old {1000*a:.1f} ms new {1000*b:.1f} ms ratio {a/b:.2f}", (old_encode(x, *args) - G.grid_encode(x, *args)).abs().max().item())
    def step(fn):
        enc.table.grad = None
        fn(x, *args).square().sum().backward()
    a, b = t(lambda: step(old_encode)), t(lambda: step(G.grid_encode))
    print(f"N={N} fwd+bwd (table): old {1000*a:.1f} ms new {1000*b:.1f} ms ratio {a/b:.2f}")
x = torch.rand(65536, 2) * 2 - 1
with torch.no_grad():
    with torch.autograd.profiler.profile() as prof:
        G.grid_encode(x, *args)
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))
with torch.autograd.profiler.profile() as prof:
    step(G.grid_encode)
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))
