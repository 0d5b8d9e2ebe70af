"""Translation augmentation (whole pixels, the same for both networks) on exact jets (docs/benchmarks.md, INSP).

    OMP_NUM_THREADS=1 python shifts.py TRAIN_PER_CLASS TEST_PER_CLASS EPOCHS SHIFTS     (run from this folder)

The digits' trigonometric interpolant (exact partials up to order 4 in pixel units), INSP-ConvNet (zero start)
and the 3 x 3 pixel network, 16 + 16 channels, flatten and pool readouts, seed 0, each training input moved by
up to SHIFT pixels (comma-separated list, 0 = none). One JSON line per classifier."""
import json

from common import *  # noqa: F401,F403

ntr, nte, epochs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
shifts = [int(v) for v in sys.argv[4].split(",")]
imgs, y, n = digits(ntr, nte)
J = spectral_jet(imgs)
for shift in shifts:
    for readout in ("flatten", "pool"):
        for name in ("insp", "pixels"):
            g = torch.Generator().manual_seed(0)
            if name == "insp":
                net, x = INSPConvNet((16, 16), 10, (28, 28), readout, generator=g).calibrate(J[:n]), J
            else:
                net, x = PixelConvNet((16, 16), 10, (28, 28), readout, generator=g), J[..., 0]
            t = time.time()
            r = train_classifier(net, x[:n], y[:n], x[n:], y[n:], epochs, 1e-3, seed=0, shift=shift, shape=(28, 28))
            print(json.dumps({"net": name, "readout": readout, "shift": shift, "train": r["train_accuracy"],
                              "test": r["test_accuracy"], "s": round(time.time() - t)}), flush=True)
