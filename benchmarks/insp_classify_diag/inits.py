"""INSP-ConvNet's derivative initialisation and readout on real SIRENs of MNIST digits (docs/benchmarks.md, INSP).

    OMP_NUM_THREADS=1 python inits.py TRAIN_PER_CLASS TEST_PER_CLASS STEPS W0      (run from this folder)

Fits one SIREN (2 -> 32 x 3 -> 1, omega_0 W0, STEPS full-image Adam steps at 1e-3) per digit as one batched
computation, takes their order-4 jets at the pixel centres, then trains INSP-ConvNet with its derivative
weights started uniform or at zero, and the 3 x 3 pixel network, each with the flatten and pool readouts
(16 + 16 channels, 15 epochs, seed 0). One line per classifier."""
import json

from common import *  # noqa: F401,F403 (digits, torch, INSPConvNet, PixelConvNet, train_classifier, order_rms)
from inrkit import coords as C
from inrkit.apps.many import ManySettings, fit_stack
from inrkit.insp.classify import stacked_jets

ntr, nte, steps, w0 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
imgs, y, n = digits(ntr, nte)
t = time.process_time()
stack, p, rec = fit_stack(imgs[..., None], list(range(len(imgs))), ManySettings(w0=w0, steps=steps, lr=1e-3))
J = stacked_jets(stack, C.grid((28, 28)).reshape(-1, 2), (2 / 28, 2 / 28))
print(json.dumps({"inrs": len(imgs), "w0": w0, "steps": steps, "psnr_mean": float(p.mean()), "psnr_min": float(p.min()),
                  "cpu_seconds": round(time.process_time() - t)}), flush=True)
for readout in ("flatten", "pool"):
    for init in ("uniform", "zero"):
        g = torch.Generator().manual_seed(0)
        net = INSPConvNet((16, 16), 10, (28, 28), readout, generator=g, derivative_init=init).calibrate(J[:n])
        r = train_classifier(net, J[:n], y[:n], J[n:], y[n:], 15, 1e-3, seed=0)
        print(json.dumps({"net": "insp", "init": init, "readout": readout, "train": r["train_accuracy"],
                          "test": r["test_accuracy"]}), flush=True)
    g = torch.Generator().manual_seed(0)
    net = PixelConvNet((16, 16), 10, (28, 28), readout, generator=g)
    r = train_classifier(net, J[:n, :, 0], y[:n], J[n:, :, 0], y[n:], 15, 1e-3, seed=0)
    print(json.dumps({"net": "pixels", "readout": readout, "train": r["train_accuracy"], "test": r["test_accuracy"]}),
          flush=True)
