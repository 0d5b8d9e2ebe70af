"""Which jet orders and which readout help INSP-ConvNet, on exact jets (docs/benchmarks.md, INSP classification).

    OMP_NUM_THREADS=1 python orders.py SPEC [SPEC ...]      (run from this folder)

Each SPEC is ``SIGMA,P1,P2,POOL,WD[,DP[,Z]]``: the digits' trigonometric interpolant smoothed by a Gaussian of SIGMA px
(0: none), the first layer restricted to partials of order <= P1 and the second to order <= P2 (weights of
higher orders held at zero), the readout's average pooling POOL x POOL before flatten (1: plain flatten), and
AdamW's weight decay WD; optionally DP times the sum of squares of both layers' (preconditioned) weights
on partials of order >= 1 added to the loss, and Z = 1 to start those weights at zero (the network starts
pointwise and takes up derivatives only where they lower the loss). ``pix,POOL`` runs the 3 x 3 pixel network with that readout instead. Reduced protocol:
100 training and 50 test digits per class, 16 + 16 channels, 10 epochs, seed 0. One JSON line per SPEC."""
import json
import sys
import time

from common import *  # noqa: F401,F403 (digits, spectral_jet, torch, INSPConvNet, PixelConvNet)
import torch.nn.functional as Fn
from torch import nn

from inrkit.ops.taylor import multi_indices


class Pool(nn.Module):
    def __init__(self, c, classes, k):
        super().__init__()
        self.k = k
        self.linear = nn.Linear(c * (28 // k) ** 2, classes)

    def forward(self, h):
        b, _, c = h.shape
        return self.linear(Fn.avg_pool2d(h.transpose(1, 2).reshape(b, c, 28, 28), self.k).flatten(1))


def train(net, xtr, ytr, xte, yte, wd, epochs=10, lr=1e-3, bs=128, penalty=None):
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=g)
        net.train()
        for i in range(0, len(xtr), bs):
            idx = perm[i:i + bs]
            loss = Fn.cross_entropy(net(xtr[idx]), ytr[idx])
            if penalty is not None:
                loss = loss + penalty()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        return (float((net(xtr).argmax(1) == ytr).float().mean()), float((net(xte).argmax(1) == yte).float().mean()))


def main():
    imgs, y, n = digits(100, 50)
    jets = {}
    orders2 = torch.tensor([sum(j) for j in multi_indices(2, 2)])
    for spec in sys.argv[1:]:
        parts = spec.split(",")
        g = torch.Generator().manual_seed(0)
        if parts[0] == "pix":
            pool = int(parts[1])
            J = jets.setdefault(0.0, spectral_jet(imgs, 4, 0.0))
            net, x = PixelConvNet((16, 16), 10, (28, 28), "flatten", generator=g), J[..., 0]
            wd = 0.0
        else:
            sigma, p1, p2, pool, wd = float(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), float(parts[4])
            dp = float(parts[5]) if len(parts) > 5 else 0.0
            zero = len(parts) > 6 and parts[6] == "1"
            J = jets.setdefault(sigma, spectral_jet(imgs, 4, sigma))
            net, x = INSPConvNet((16, 16), 10, 784, "flatten", generator=g), J
            m1, m2 = (orders2 <= p1).float(), (orders2 <= p2).float()
            with torch.no_grad():
                net.w1.mul_(m1 * (orders2 == 0).float() if zero else m1)
                net.w2.mul_(m2 * (orders2 == 0).float() if zero else m2)
            net.w1.register_hook(lambda gr, m=m1: gr * m)
            net.w2.register_hook(lambda gr, m=m2: gr * m)
            net.calibrate(J[:n])
        if pool > 1:
            net.head = Pool(16, 10, pool)
        penalty = None
        if parts[0] != "pix" and dp > 0:
            hi = (orders2 >= 1).float()

            def penalty(net=net, hi=hi, dp=dp):
                return dp * ((net.w1 * hi).square().sum() + (net.w2 * hi).square().sum())
        t = time.time()
        tr, te = train(net, x[:n], y[:n], x[n:], y[n:], wd, penalty=penalty)
        print(json.dumps({"spec": spec, "train": tr, "test": te, "seconds": round(time.time() - t)}), flush=True)


if __name__ == "__main__":
    main()
