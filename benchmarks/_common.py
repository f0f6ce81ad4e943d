"""Shared helpers of the benchmarks: side-by-side timing, SGEMM throughput, useful FLOPs.

Every benchmark runs with one torch thread and times the things it compares
in one process, interleaved (A, B, A, B, ...) and takes medians, so that a
loaded machine slows both sides alike and the printed ratios stay meaningful.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

import ddlab

__all__ = ["JAX_WORKLOADS", "LECTURE", "compile_seconds", "dir_bytes", "interleaved",
           "lecture_variant", "machine", "peak_rss_bytes", "sgemm_gflops", "useful_flops"]

torch.set_num_threads(1)

#: The lecture's high-noise grid, the base of the workloads of vs_vmap.py and vs_jax.py.
LECTURE = Path(__file__).resolve().parents[1] / "experiments" / "seed_high_noise.toml"

_NO_POP = {"data": {"n_population": 0}, "train": {"record_bias_variance": False}}
#: the workloads of vs_jax.py: name -> (changes to the lecture grid, changes for --quick)
JAX_WORKLOADS = {
    "lecture 1-10 x 100 x 50": (_NO_POP, {"seeds": {"init": 5}, "train": {"epochs": 5}}),
    "1-64 (17) x 100 x 1000": (
        {**_NO_POP, "model": {"width": {"start": 1, "stop": 64, "num": 17, "log": True}},
         "train": {"epochs": 1000, "record_bias_variance": False}},
        {"model": {"width": [1, 8, 64]}, "train": {"epochs": 5}, "seeds": {"init": 5}}),
    "16-1024 x 20 x 200": (
        {"data": {"n_train": 100, "n_test": 100, "dim": 10, "n_population": 0},
         "model": {"width": [16, 32, 64, 128, 256, 512, 1024]},
         "train": {"epochs": 200, "record_bias_variance": False}, "seeds": {"init": 20}},
        {"model": {"width": [16, 64]}, "train": {"epochs": 5}, "seeds": {"init": 3}}),
}


def lecture_variant(changes: Mapping, small: Mapping, quick: bool) -> ddlab.Experiment:
    """The lecture grid with ``changes`` (then ``small`` too, for ``--quick``) applied."""
    exp = ddlab.load_experiment(LECTURE)
    for change in (changes, small) if quick else (changes,):
        exp = exp.replace(**change)
    return exp


#: a fresh process: import ddlab, one small run of the compiled kernel (float32); its wall time
_FRESH = ("import time; t = time.perf_counter(); import ddlab; "
          "ddlab.run(ddlab.load_experiment({'model': {'width': [2, 40]}, 'train': {'epochs': 3}}),"
          " device='cpu', progress=False, n_jobs=1); print(f'{time.perf_counter() - t:.2f}')")


def compile_seconds() -> tuple[float, float]:
    """Wall time of a fresh process (import, a tiny run) with an empty numba cache, then with it.

    The difference is the one-time compilation of the kernel (per machine,
    dtype and ddlab version); the second is what every later process pays.
    """
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold, warm = (float(subprocess.run([sys.executable, "-c", _FRESH], env=env, check=True,
                                           capture_output=True, text=True).stdout)
                      for _ in range(2))
    return cold, warm


def interleaved(cases: Mapping[str, Callable[[], object]], repeats: int,
                warm: bool = True) -> dict[str, float]:
    """Median wall time in seconds of each case, the cases run in turn ``repeats`` times.

    With ``warm``, each case runs once first, untimed.
    """
    if warm:
        for fn in cases.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def sgemm_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Single-thread float32 matrix-multiply throughput (median of ``repeats``), GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def useful_flops(exp: ddlab.Experiment) -> float:
    """Dense FLOPs of an experiment's networks: 6 N per trained row, 2 N per evaluated row.

    N is a cell's number of parameters; a trained row is one training row in
    one step (forward and backward), an evaluated row one row of the train,
    test or population sample at a recorded epoch (forward only). Sweeps count
    every point at the first point's sizes.
    """
    total = 0.0
    points = 1
    for _, values in exp.sweep:
        points *= len(values)
    point = exp.point((0,) * len(exp.sweep)) if exp.sweep else exp
    d = point.data
    evaluated = (d.n_train + d.n_test + d.n_population) * len(exp.epochs)
    for width in exp.model.width:
        params = point.n_params(width) * exp.seeds.init * exp.seeds.data * points
        total += params * (6 * d.n_train * exp.train.epochs + 2 * evaluated)
    return total


def peak_rss_bytes(pid: int | str = "self") -> int:
    """Peak resident memory of a process so far (Linux ``VmHWM``; this one by default).

    Not ``ru_maxrss``: Linux carries that over an exec, so a child reports its
    parent's size if the parent was larger.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


def dir_bytes(path: str | Path) -> int:
    """Total size of the files under ``path``."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def machine() -> str:
    """One line naming the machine and the software."""
    return (f"{os.cpu_count()} cores, torch {torch.__version__}, ddlab {ddlab.__version__}, "
            f"1 torch thread per process; single-thread SGEMM {sgemm_gflops():.0f} GFLOP/s")
