"""Diagnostics of INSP classification (docs/benchmarks.md, INSP classification): run from this folder."""
import os, sys, time, math
import numpy as np, torch
torch.set_num_threads(1)
from inrkit.signals.collections import load_collection
from inrkit.ops.taylor import multi_indices
from inrkit.insp.classify import INSPConvNet, PixelConvNet, train_classifier

def digits(ntr, nte):
    coll = load_collection("mnist")
    tr, te = [], []
    for c in range(10):
        tr += list(np.nonzero((coll.labels == c) & coll.train)[0][:ntr])
        te += list(np.nonzero((coll.labels == c) & ~coll.train)[0][:nte])
    order = np.concatenate([tr, te])
    return coll.images[order, ..., 0], torch.as_tensor(coll.labels[order]), len(tr)

def spectral_jet(imgs, order=4, sigma=0.0):
    """Trig interpolant derivatives in pixel units, (N, P, 15) in multi_indices(2,4) order; values in [-1,1]."""
    x = torch.as_tensor(imgs * 2 - 1, dtype=torch.float64)
    n, h, w = x.shape
    F = torch.fft.fft2(x)
    ky = torch.fft.fftfreq(h) * 2 * math.pi  # rad per pixel
    kx = torch.fft.fftfreq(w) * 2 * math.pi
    KY, KX = torch.meshgrid(ky, kx, indexing="ij")
    if sigma > 0:
        F = F * torch.exp(-0.5 * sigma**2 * (KX**2 + KY**2))
    out = []
    for a, b in multi_indices(2, order):  # a: x power, b: y power
        D = (1j * KX) ** a * (1j * KY) ** b
        if h % 2 == 0:  # Nyquist: zero odd derivatives
            pass
        out.append(torch.fft.ifft2(F * D).real)
    return torch.stack(out, -1).reshape(n, h * w, -1).float()

def run(J, y, n, channels=(16, 16), epochs=10, seeds=(0,), readout="flatten", pixnet=True, norm=None, lr=1e-3):
    res = []
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        net = INSPConvNet(channels, 10, J.shape[1], readout, generator=g)
        if norm is not None:
            for k, v in norm.items(): setattr(net, k, v)
        r = train_classifier(net, J[:n], y[:n], J[n:], y[n:], epochs, lr, seed=seed)
        res.append(("insp", seed, r["train_accuracy"], r["test_accuracy"], r["seconds"]))
        print("insp", seed, r["train_accuracy"], r["test_accuracy"], round(r["seconds"]), flush=True)
        if pixnet:
            g = torch.Generator().manual_seed(seed)
            net = PixelConvNet(channels, 10, (28, 28), readout, generator=g)
            r = train_classifier(net, J[:n, :, 0], y[:n], J[n:, :, 0], y[n:], epochs, lr, seed=seed)
            print("pix", seed, r["train_accuracy"], r["test_accuracy"], round(r["seconds"]), flush=True)
    return res

def order_rms(J):
    idx = multi_indices(2, 4)
    return [float(J[..., [i for i, j in enumerate(idx) if sum(j) == k]].pow(2).mean().sqrt()) for k in range(5)]
