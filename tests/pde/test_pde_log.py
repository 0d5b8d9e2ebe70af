"""`pde solve` carries the one progress display: --log records each phase, --dry-run writes nothing."""

from __future__ import annotations

import csv

from inrkit.cli import main


def test_log_csv_records_both_phases_and_dry_run_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["pde", "solve", "poisson-1d", "--width", "8", "--layers", "1", "--points", "32", "--adam-steps", "5",
            "--lbfgs-steps", "2"]
    assert main([*args, "--dry-run"]) == 0
    assert "estimate:" in capsys.readouterr().out and not list(tmp_path.iterdir())
    assert main([*args, "--log", "csv", "--out", "r", "--quiet"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "r" / "scalars.csv")))
    runs = {r["run"] for r in rows}
    assert runs == {"poisson-1d Adam", "poisson-1d L-BFGS"}
    assert sum(r["run"] == "poisson-1d Adam" for r in rows) == 5 and all(float(r["loss"]) >= 0 for r in rows)
