from common import *
imgs, y, n = digits(100, 50)
for sigma in [float(s) for s in sys.argv[1:]]:
    J = spectral_jet(imgs, 4, sigma)
    print("sigma", sigma, "order rms", [round(v, 3) for v in order_rms(J)], flush=True)
    run(J, y, n, pixnet=(sigma == 0.0))
