from common import *
from inrkit import coords as C
from inrkit.apps.many import ManySettings, fit_stack
from inrkit.insp.classify import stacked_jets
ntr, nte, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
imgs, y, n = digits(ntr, nte)
xy = C.grid((28, 28)).reshape(-1, 2)
for w0 in [float(v) for v in sys.argv[4:]]:
    t = time.process_time()
    stack, p, rec = fit_stack(imgs[..., None], list(range(len(imgs))), ManySettings(w0=w0, steps=steps, lr=1e-3))
    J = stacked_jets(stack, xy, (2 / 28, 2 / 28))
    print(f"w0 {w0:g}: {len(imgs)} INRs psnr {p.mean():.2f} (min {p.min():.2f}) order rms {[round(v, 2) for v in order_rms(J)]} cpu {time.process_time() - t:.0f}s", flush=True)
    torch.save({"J": J, "y": y, "n": n, "psnr": p}, f"mini_{ntr}_{nte}_{steps}_{w0:g}.pt")
    for seed in (0,):
        g = torch.Generator().manual_seed(seed)
        net = INSPConvNet((16, 16), 10, 784, "flatten", generator=g).calibrate(J[:n])
        r = train_classifier(net, J[:n], y[:n], J[n:], y[n:], 15, 1e-3, seed=seed)
        print(f"  insp calibrated seed {seed}: train {r['train_accuracy']:.3f} test {r['test_accuracy']:.3f}", flush=True)
        g = torch.Generator().manual_seed(seed)
        net = PixelConvNet((16, 16), 10, (28, 28), "flatten", generator=g)
        r = train_classifier(net, J[:n, :, 0], y[:n], J[n:, :, 0], y[n:], 15, 1e-3, seed=seed)
        print(f"  pixels seed {seed}: train {r['train_accuracy']:.3f} test {r['test_accuracy']:.3f}", flush=True)
