"""fit SIRENs with given w0/steps/lr; save jets (N,P,15), psnr, off-grid psnr vs bicubic 2x."""
from common import *
from inrkit import coords as C
from inrkit.apps.many import ManySettings, fit_stack
from inrkit.insp.classify import stacked_jets
ntr, nte, w0, steps, lr = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
imgs, y, n = digits(ntr, nte)
ids = list(range(len(imgs)))
s = ManySettings(arch="siren", width=32, hidden_layers=3, steps=steps, lr=lr, w0=w0)
t = time.time()
stack, p, rec = fit_stack(imgs[..., None], ids, s)
tf = time.time() - t
xy = C.grid((28, 28)).reshape(-1, 2)
t = time.time()
J = stacked_jets(stack, xy, (2 / 28, 2 / 28))
tj = time.time() - t
# off-grid: values at 56x56 vs bicubic upsample
from skimage.transform import resize
with torch.no_grad():
    fine = stack(C.grid((56, 56)).reshape(-1, 2))[..., 0].reshape(-1, 56, 56).numpy()
up = np.stack([resize(im, (56, 56), order=3) for im in imgs]) * 2 - 1
off = 10 * np.log10(4 / ((fine - up) ** 2).mean(axis=(1, 2)))
print(f"w0 {w0} steps {steps} lr {lr}: psnr {p.mean():.2f} (min {p.min():.2f}) offgrid-vs-bicubic {off.mean():.2f} fit {tf:.0f}s jets {tj:.0f}s")
print("order rms", [round(v, 3) for v in order_rms(J)])
torch.save({"J": J, "y": y, "n": n, "psnr": p, "off": off}, f"jets_{ntr}_{nte}_{w0:g}_{steps}_{lr:g}.pt")
