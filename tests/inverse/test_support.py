"""MRI's support constraint: estimated from the measurement, used by the INR's forward model and by TV."""

import numpy as np
import pytest
import torch

from inrkit.cli import main
from inrkit.errors import InrkitError
from inrkit.metrics import psnr
from inrkit.objectives import MaskedFourier
from inrkit.ops.fourier import masked_fft, tv_reconstruction
from inrkit.signals.kspace import MRIProblem, estimate_support, make_mask
from inrkit.signals.tomography import phantom


@pytest.fixture(scope="module")
def problem():
    img = phantom("shepp-logan", 64)
    return MRIProblem.simulate(img, make_mask("radial", img.shape, 4), "sl").with_support("auto")


def test_estimated_support_holds_the_object_and_not_the_background(problem):
    s = problem.support.numpy() > 0
    truth = problem.image > 0
    assert not (truth & ~s).any()  # every pixel of the object is inside
    assert truth.mean() < s.mean() < 0.8  # and much of the background is outside
    assert problem.info["support"].startswith("estimated") and problem.info["support_fraction"] == pytest.approx(s.mean())


def test_support_of_a_constant_image_is_everything():
    assert estimate_support(np.full((8, 9), 0.3)).all()
    with pytest.raises(InrkitError, match="not finite"):
        estimate_support(np.full((8, 8), np.nan))


def test_tv_on_the_support_is_zero_outside_and_fits_the_data(problem):
    y, m, s = problem.kspace, problem.mask.double(), problem.support.double()
    rec = tv_reconstruction(y, m, 0.001, 300, support=s)
    assert rec[s == 0].abs().max() == 0
    free = tv_reconstruction(y, m, 0.001, 300).real.numpy()
    on = rec.real.numpy()
    assert psnr(np.clip(on, 0, 1), problem.image, 1.0) > psnr(np.clip(free, 0, 1), problem.image, 1.0)
    residual = (masked_fft(rec, m) - y).abs().pow(2).sum() / y.abs().pow(2).sum()
    assert residual < 1e-2


def test_the_objective_multiplies_by_the_support(problem):
    batch = problem.sampler()()
    assert "support" in batch
    h, w = problem.shape

    class Constant(torch.nn.Module):
        def forward(self, x):
            return torch.ones(x.shape[0], 1)

    loss = MaskedFourier()(Constant(), batch)["loss"]
    s = problem.support.float()
    y = torch.view_as_real(masked_fft(s, problem.mask)).reshape(-1, 2)  # the support's own k-space
    want = ((y - batch["kspace"] * batch["mask"]) ** 2).sum() / problem.mask.sum()
    assert float(loss) == pytest.approx(float(want), rel=1e-4)


def test_support_bad_input(tmp_path, capsys):
    out = tmp_path / "run"
    for value, match in (("bogus", "unknown support 'bogus'"), (tmp_path / "s.npy", "must match"),
                         (tmp_path / "z.npy", "holds no 1")):
        if str(value).endswith("s.npy"):
            np.save(value, np.ones((5, 5)))
        if str(value).endswith("z.npy"):
            np.save(value, np.zeros((32, 32)))
        code = main(["mri", "shepp-logan", "--size", "32", "--support", str(value), "--out", str(out), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("inrkit: error: ") and "\n" not in err and match in err, err
        assert not out.exists()


def test_an_oversized_support_in_a_checkpoint_is_refused_before_it_is_inflated():
    from inrkit.apps.inverse import support_from_meta, support_meta

    doc = support_meta(np.ones((4, 4), bool))
    with pytest.raises(InrkitError, match="above the MRI limit"):
        support_from_meta({**doc, "shape": [65536, 65536]}, (65536, 65536))


def test_a_given_support_is_not_described_as_estimated(tmp_path, capsys):
    s = np.zeros((32, 32))
    s[4:28, 4:28] = 1
    np.save(tmp_path / "s.npy", s)
    out = tmp_path / "run"
    assert main(["mri", "shepp-logan", "--size", "32", "--steps", "3", "--width", "8", "--features", "8",
                 "--tv-iterations", "3", "--support", str(tmp_path / "s.npy"), "--out", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text()
    assert "a mask given (56% of the pixels)" in html and "Otsu" not in html
