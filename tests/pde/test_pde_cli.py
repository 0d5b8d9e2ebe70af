"""``inrkit pde list | solve``: the run folder, its metrics and report; bad input is one line, exit 2."""

import json

def test_list_names_every_problem(capsys):
    from inrkit.cli import main

    assert main(["pde", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("poisson-1d", "diffusion-1d", "heat", "helmholtz-2d", "burgers", "diffusion-inverse"):
        assert name in out


def test_solve_writes_run_folder(tmp_path, capsys):
    from inrkit.cli import main

    out = tmp_path / "run"
    rc = main(["pde", "solve", "diffusion-1d", "--adam-steps", "30", "--lbfgs-steps", "20", "--points", "16",
               "--width", "8", "--threads", "1", "--out", str(out), "--quiet"])
    stdout = capsys.readouterr().out
    assert rc == 0
    for f in ("model.safetensors", "model.json", "metrics.json", "report.html", "solution.png", "loss.png",
              "slices.png", "history.json"):
        assert (out / f).is_file(), f
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "ok" and 0 < m["rel_l2"] < 1.0 and m["grid"] == [201, 101]
    assert "relative L2 error" in stdout
    html = (out / "report.html").read_text()
    assert "Time slices" in html and "Loss terms" in html


def test_bad_input_is_one_line(tmp_path, capsys):
    from inrkit.cli import main

    for args in (["pde", "solve", "nosuch"], ["pde", "solve", "heat", "--points", "0"],
                 ["pde", "solve", "heat", "--float64", "--float32"]):
        assert main(args + ["--out", str(tmp_path / "x")]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("inrkit: error:"), err
        assert not (tmp_path / "x").exists()


def test_burgers_points_flags_and_the_odd_symmetry_in_the_report(tmp_path, capsys):
    """--points sets the L-BFGS set too unless --lbfgs-points says otherwise; the report says u is odd in x."""
    from inrkit.cli import main

    common = ["pde", "solve", "burgers", "--adam-steps", "3", "--lbfgs-steps", "2", "--width", "8", "--threads", "1",
              "--quiet"]
    assert main([*common, "--points", "50", "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--points", "50", "--lbfgs-points", "70", "--out", str(tmp_path / "b")]) == 0
    ca = json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]
    cb = json.loads((tmp_path / "b" / "metrics.json").read_text())["config"]
    assert (ca["points"], ca["lbfgs_points"]) == (50, 50) and (cb["points"], cb["lbfgs_points"]) == (50, 70)
    assert "odd in x" in (tmp_path / "a" / "report.html").read_text()
    assert json.loads((tmp_path / "a" / "model.json").read_text())["odd_in"] == [0]
