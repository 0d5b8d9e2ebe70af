"""``inrkit ct --operator pixels`` (the default: the field's pixel image through the sinogram's own
operator) or ``rays``, and ``--nonneg`` (ct and mri), reach the run folder; a bad value is one line, exit 2;
a step of absurd size is refused before any work."""

import json

import pytest

from inrkit.cli import main


def test_pixels_and_nonneg_reach_the_run_folder(tmp_path, capsys):
    out = tmp_path / "ct"
    assert main(["ct", "shepp-logan", "--size", "32", "--views", "4", "--steps", "5", "--width", "16",
                 "--features", "16", "--nonneg", "softplus", "--quiet", "--out",
                 str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["operator"] == "pixels" and m["config"]["nonneg"] == "softplus"  # pixels: the default operator
    assert json.loads((out / "model.json").read_text())["output"]["map"] == "softplus"
    out = tmp_path / "mri"
    assert main(["mri", "shepp-logan", "--size", "32", "--steps", "5", "--width", "16", "--features", "16",
                 "--nonneg", "relu", "--quiet", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["nonneg"] == "relu" and any("data consistency" in k for k in m["methods"])


def test_bad_nonneg_is_one_line(tmp_path, capsys):
    try:
        code = main(["ct", "shepp-logan", "--nonneg", "sigmoid", "--out", str(tmp_path / "x")])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "--nonneg" in err[-1] and "sigmoid" in err[-1]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, needle", [
    (["--size", "4096", "--views", "1"], "4096 x 4096 = 16,777,216 pixels per step"),  # pixels: n^2 field points
    (["--size", "1024", "--views", "1000", "--rays", "0"], "look-ups"),  # pixels: every ray of a large sinogram
    (["--size", "1024", "--views", "20", "--operator", "rays", "--rays", "0", "--samples", "512"], "field samples"),
])
def test_a_step_of_absurd_size_is_refused_before_any_work(args, needle, tmp_path, capsys):
    code = main(["ct", "shepp-logan", *args, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0] and "per step" in err[0], err
    assert not (tmp_path / "x").exists()


def test_the_report_names_the_operator_used(tmp_path, capsys):
    for op, words in (("pixels", "pixel grid projected"), ("rays", "stratified sum")):
        out = tmp_path / op
        assert main(["ct", "shepp-logan", "--size", "24", "--views", "4", "--steps", "2", "--width", "8",
                     "--features", "8", "--operator", op, "--quiet", "--out", str(out)]) == 0
        assert words in (out / "report.html").read_text()
