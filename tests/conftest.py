import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _threads():
    # Identical thread counts keep CPU reductions in the same order run to run.
    torch.set_num_threads(2)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def run_cli(args, cwd=None, timeout=300):
    """Run ``python -m inrkit ARGS``; return (returncode, stdout, stderr)."""
    import subprocess

    p = subprocess.run([sys.executable, "-m", "inrkit", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout, p.stderr
