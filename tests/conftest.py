import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


try:
    import constriction  # noqa: F401  (the codec extra)
except ImportError:
    collect_ignore_glob = ["codec/*"]


# ``make test`` runs the suite in parallel processes (pytest-xdist, one per core): each then computes on one
# thread, and so do the command-line children its tests start, so the workers do not oversubscribe the cores.
PARALLEL = "PYTEST_XDIST_WORKER" in os.environ
if PARALLEL:
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(autouse=True)
def _threads(request):
    # Identical thread counts keep CPU reductions in the same order run to run. PINN batches are
    # tiny: one thread is faster there, and on a loaded machine two spinning OpenMP threads can
    # slow each step tenfold.
    torch.set_num_threads(1 if PARALLEL or "pde" in Path(str(request.node.fspath)).parts else 2)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def interruptible():
    """``preexec_fn`` for a child that a test stops with Ctrl-C (SIGINT): restore SIGINT's default
    disposition. A shell starts background jobs with SIGINT ignored, children inherit that, and
    Python then installs no KeyboardInterrupt handler, so the test's SIGINT would do nothing."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(args, cwd=None, timeout=300):
    """Run ``python -m inrkit ARGS``; return (returncode, stdout, stderr)."""
    import subprocess

    p = subprocess.run([sys.executable, "-m", "inrkit", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout, p.stderr
