"""Every benchmark's ``--quick`` mode runs to the end (a smoke test, not a timing)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import ROOT

SCRIPTS = ["vs_vmap.py", "fused.py", "minibatch.py", "large_grid.py", "population_error.py",
           pytest.param("vs_jax.py", marks=pytest.mark.skipif(
               importlib.util.find_spec("jax") is None, reason="jax (the bench extra)"))]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_quick_mode_runs(script):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "GFLOP/s" in out.stdout or "spread" in out.stdout, out.stdout


@pytest.mark.slow
def test_mnist1d_benchmark_quick_mode_runs_and_agrees():
    """About 12 s, 8 of them generating the MNIST-1D pool in the private cache."""
    pytest.importorskip("mnist1d")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mnist1d.py"), "--quick"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "GFLOP/s" in out.stdout and "\nagree: " in out.stdout, out.stdout
