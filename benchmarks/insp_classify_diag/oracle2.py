from common import *
from normnet import NormINSP
imgs, y, n = digits(100, 50)
sigma = float(sys.argv[1]); mode = sys.argv[2]
J = spectral_jet(imgs, 4, sigma)
g = torch.Generator().manual_seed(0)
net = NormINSP((16, 16), 10, 784, "flatten", generator=g)
net.c = torch.ones(5); net.d = torch.ones(3)
net.set_scales(J[:n], mode)
r = train_classifier(net, J[:n], y[:n], J[n:], y[n:], 10, 1e-3, seed=0)
print("sigma", sigma, mode, r["train_accuracy"], r["test_accuracy"], round(r["seconds"]), flush=True)
