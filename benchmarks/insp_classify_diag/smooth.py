from common import *
from inrkit import coords as C
from inrkit.apps.many import ManySettings, fit_stack
from inrkit.insp.classify import stacked_jets
from skimage.transform import resize
imgs, y, n = digits(3, 0)
steps = int(sys.argv[1])
S = spectral_jet(imgs, 4, 0.7)
xy = C.grid((28, 28)).reshape(-1, 2)
up = np.stack([resize(im, (56, 56), order=3) for im in imgs]) * 2 - 1
idx = multi_indices(2, 4)
for w0 in [float(v) for v in sys.argv[2:]]:
    t = time.process_time()
    stack, p, rec = fit_stack(imgs[..., None], list(range(len(imgs))), ManySettings(w0=w0, steps=steps, lr=1e-3))
    J = stacked_jets(stack, xy, (2 / 28, 2 / 28))
    with torch.no_grad():
        fine = stack(C.grid((56, 56)).reshape(-1, 2))[..., 0].reshape(-1, 56, 56).numpy()
    off = 10 * np.log10(4 / ((fine - up) ** 2).mean(axis=(1, 2)))
    rel = []
    for k in (1, 2):
        cols = [i for i, j in enumerate(idx) if sum(j) == k]
        rel.append(float((J[..., cols] - S[..., cols]).norm() / S[..., cols].norm()))
    print(f"w0 {w0:g} steps {steps}: grid {p.mean():.1f} dB offgrid-vs-bicubic {off.mean():.1f} dB "
          f"order rms {[round(v, 2) for v in order_rms(J)]} rel.err vs smoothed interpolant o1 {rel[0]:.2f} o2 {rel[1]:.2f} "
          f"cpu {time.process_time() - t:.0f}s", flush=True)
