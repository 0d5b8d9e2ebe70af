"""Every command's report.html: images at least 256 px wide, colour bars on maps, training curves,
the configuration and the command; sentences where a panel would be empty. Tiny sizes, a few steps."""

import re

import numpy as np
import pytest
from conftest import run_cli

from inrkit.config import PRESETS, FieldConfig, TrainConfig
from inrkit.report import html as H, plots
from inrkit.signals import ImageSignal

SMALL = FieldConfig(width=16, hidden_layers=1)
FEW = TrainConfig(steps=4, log_every=2)


def _image(n: int = 12, phase: float = 0.0) -> ImageSignal:
    yy, xx = np.mgrid[0:n, 0:n] / n
    img = np.stack([0.5 + 0.4 * np.sin(6 * xx + phase), 0.5 + 0.4 * np.cos(5 * yy), xx * yy], -1)
    return ImageSignal(img.astype(np.float32), f"toy{phase:g}", {})


def _widths(page: str) -> list[int]:
    """The display width of every inlined image with one (colour bars excluded)."""
    return [int(w) for w in re.findall(r'<img src="data:image/png;base64,[^"]*" width="(\d+)"(?! height)', page)]


def _check_common(page: str, *, command: str | None = None) -> None:
    assert "data:image/png;base64," in page and 'src="http' not in page
    assert _widths(page) and min(_widths(page)) >= 256, "small images are enlarged to at least 256 px"
    assert "nearest-neighbour" in page
    if command is not None:
        assert f"<pre>{command}</pre>" in page


# ---- the building blocks ----------------------------------------------------------------

def test_figure_enlarges_small_images_by_whole_factors_and_says_so():
    small = np.zeros((10, 12, 3), np.uint8)
    page = H.figure(small, "tiny")
    assert _widths(page) == [264] and "12x10 px, shown 22x, nearest-neighbour" in page
    big = np.zeros((5, 300), np.uint8)
    page = H.figure(big, "wide")
    assert _widths(page) == [300] and "nearest-neighbour" not in page


def test_colour_bar_gives_the_value_range_and_label():
    s = plots.Scale("magma", 0.0, 0.25, "|error|")
    page = H.figure(np.zeros((4, 4), np.uint8), "err", scale=s)
    assert 'class="cbar"' in page and ">0<" in page and ">0.25<" in page and "|error|" in page
    strip = plots.colorbar(s)
    assert strip.shape == (1, 256, 3) and (strip[0, 0] != strip[0, -1]).any()
    lap = np.random.default_rng(0).normal(size=(8, 8))
    assert np.array_equal(plots.laplacian_image(lap), plots.laplacian_scale(lap).apply(lap))


def test_readable_decibels():
    assert H.decibels(292.14) == "exact to rounding (> 100 dB)" and H.decibels(31.416) == "31.42 dB"
    assert H.decibels(float("nan")) == "n/a"


def test_training_curves_draw_no_empty_panel_and_label_the_time_axis():
    from io import BytesIO

    from PIL import Image

    hist = [{"step": s, "seconds": 0.1 * s, "psnr": 10.0 + s, "ssim": float("nan")} for s in range(1, 5)]
    one = Image.open(BytesIO(plots.training_curves({"a": hist})))
    two = Image.open(BytesIO(plots.training_curves({"a": [dict(h, ssim=0.5) for h in hist]})))
    assert one.width < 0.7 * two.width  # the SSIM panel no run recorded is left out
    plots.training_curves({"a": hist}, x="seconds")
    with pytest.raises(ValueError):
        plots.training_curves({"a": hist}, x="minutes")


def test_flat_maps_are_detected():
    assert plots.is_flat(np.zeros((5, 5)))
    z = np.zeros((10, 10))
    z[0, 0] = 1.0
    assert plots.is_flat(z) and not plots.is_flat(np.random.default_rng(0).normal(size=(10, 10)))


# ---- every command -----------------------------------------------------------------------

def test_fit_report_of_a_hash_grid_explains_its_empty_laplacian(tmp_path):
    from inrkit.apps.image import fit_image

    fcfg, tcfg = PRESETS["tiny"]
    fit_image(_image(), "hash", field_cfg=fcfg, train_cfg=tcfg, steps=3, device="cpu", out=tmp_path / "run",
              command="inrkit fit toy --preset tiny", snapshot_minutes=None)
    page = (tmp_path / "run" / "report.html").read_text()
    _check_common(page, command="inrkit fit toy --preset tiny")
    assert page.count('class="cbar"') >= 5  # error, two gradients, two Laplacians
    assert "piecewise-linearly" in page and "vanish almost everywhere" in page
    assert "hash.levels" in page and "ffn.sigma" not in page  # only the encoding in use


def test_fit_report_of_siren_has_no_empty_panel_sentence(tmp_path):
    from inrkit.apps.image import fit_image

    fit_image(_image(), "siren", field_cfg=SMALL, train_cfg=FEW, device="cpu", out=tmp_path / "run",
              snapshot_minutes=None)
    page = (tmp_path / "run" / "report.html").read_text()
    _check_common(page)
    assert "vanish almost everywhere" not in page and "w0 (first-layer frequency)" in page
    assert "Python API" in page  # no command line: said, not an empty box


def test_poisson_report_shows_operator_agreement_errors_and_curve(tmp_path):
    from inrkit.apps.edit import poisson_reconstruction

    r = poisson_reconstruction(_image(), "laplacian", ("siren",), None, SMALL, FEW, device="cpu",
                               out=tmp_path / "run", command="inrkit poisson toy --supervision laplacian")
    out = tmp_path / "run"
    page = (out / "report.html").read_text()
    _check_common(page, command="inrkit poisson toy --supervision laplacian")
    assert "Operator." in page and "5-point Laplacian" in page
    assert r["classical_psnr"] > 100 and "exact to rounding (&gt; 100 dB)" in page
    assert not re.search(r"\b\d{3}\.\d\d dB", page)  # no raw 292.14 dB
    assert "|f - image|" in page and page.count('class="cbar"') >= 2  # the targets and the error map
    assert (out / "training.png").is_file() and "training loss" in page
    assert len(r["architectures"]["siren"]["history"]) >= 2


def test_blend_report_has_curve_error_maps_and_configuration(tmp_path):
    from inrkit.apps.edit import blend

    blend(_image(), _image(phase=1.0), 0.3, field_cfg=SMALL, train_cfg=FEW, device="cpu", out=tmp_path / "run",
          command="inrkit blend a.png b.png --mix 0.3")
    page = (tmp_path / "run" / "report.html").read_text()
    _check_common(page, command="inrkit blend a.png b.png --mix 0.3")
    assert "Operator." in page and "alpha = 0.3" in page
    assert "discrete Poisson blend|" in page and 'class="cbar"' in page
    assert "training loss" in page and (tmp_path / "run" / "training.png").is_file()


def test_integrate_writes_a_report(tmp_path):
    yy, xx = np.mgrid[0:10, 0:12] / 10.0
    np.save(tmp_path / "g.npy", np.stack(np.gradient(np.sin(3 * xx) * yy)[::-1], -1))
    out = tmp_path / "run"
    code, _, err = run_cli(["integrate", tmp_path / "g.npy", "--steps", "3", "--width", "16", "--depth", "1",
                            "--device", "cpu", "--quiet", "--out", out])
    assert code == 0, err
    assert {"report.html", "training.png", "scalar.npy"} <= {p.name for p in out.iterdir()}
    page = (out / "report.html").read_text()
    _check_common(page)
    assert "<pre>inrkit integrate " in page and "Operator." in page
    assert page.count('class="cbar"') >= 3 and "training loss" in page


def test_nerf_reports_show_held_out_views_with_depth(tmp_path):
    from inrkit.apps import nerf as N
    from inrkit.signals.scene import write_scene

    scene = write_scene(tmp_path / "scene", size=16, train=4, val=1, test=1)
    r = N.train_nerf(scene, "fast-tiny", steps=3, minutes=None, eval_every=1e9, eval_views=1, device="cpu",
                     batch_rays=32)
    N.write_nerf_run(r, tmp_path / "run", command="inrkit nerf train scene")
    page = (tmp_path / "run" / "report.html").read_text()
    _check_common(page, command="inrkit nerf train scene")
    assert "Held-out views" in page and "truth" in page and "expected depth" in page
    assert 'class="cbar"' in page and "against training time" in page
    assert len(_widths(page)) >= 3 and (tmp_path / "run" / "val_000.png").is_file()
    N.eval_nerf(tmp_path / "run" / "model", scene, tmp_path / "eval", device="cpu")
    page = (tmp_path / "eval" / "report.html").read_text()
    _check_common(page)
    assert 'class="cbar"' in page and "expected depth" in page
