import sys, time, json, torch
torch.set_num_threads(1)
from inrkit import pde
name=sys.argv[1]; seed=int(sys.argv[2]); kw=json.loads(sys.argv[3]) if len(sys.argv)>3 else {}
problem=pde.get_problem(name)
cfg=pde.recipe(problem, seed, threads=1, eval_every=kw.pop("eval_every",0), **kw)
print(cfg, flush=True)
r=pde.solve(problem,cfg,log=print)
print(json.dumps({"rel":r.rel_l2,"wall":r.seconds,"cpu":r.cpu_seconds,"phases":[{k:p[k] for k in ("phase","steps","iterations","seconds","stalled")} for p in r.phases],"coef":r.coefficients}))
for row in r.history:
    if "rel_l2" in row: print(row["phase"], row["step"], round(row["seconds"],1), "%.3e"%row["loss"], "%.3e"%row["rel_l2"])
