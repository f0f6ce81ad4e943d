"""A large grid end to end: throughput against the machine's matrix-multiply limit.

::

    python benchmarks/large_grid.py                  # CPU: 10 seeds x 1,000 epochs
    python benchmarks/large_grid.py --device cuda    # GPU: 100 seeds x 10,000 epochs
    python benchmarks/large_grid.py --quick          # seconds (a smoke test)

Grid: 30 log-spaced widths 1-1,024, one hidden layer, n_train = n_test = 100,
dim 10, Adam, 1,024 Sobol population points, metrics at 30 log-spaced epochs,
written to a zarr store in a temporary directory. Prints the wall time,
cell-epochs per second, the useful GFLOP/s (6 N per trained row and 2 N per
evaluated row, N a cell's parameters) against the single-thread SGEMM (or
GPU matmul) GFLOP/s measured before and after the run, peak memory and the
store's size.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _common import dir_bytes, machine, peak_rss_bytes, sgemm_gflops, useful_flops

import ddlab

GRID = {
    "data": {"n_train": 100, "n_test": 100, "dim": 10, "n_population": 1024},
    "model": {"width": {"start": 1, "stop": 1024, "num": 30, "log": True}},
    "train": {"optimizer": "adam", "lr": 0.01, "record": {"log": 30}},
}
SIZES = {"cpu": {"seeds": {"init": 10}, "train": {"epochs": 1000}},
         "cuda": {"seeds": {"init": 100}, "train": {"epochs": 10_000}},
         "quick": {"model": {"width": {"start": 1, "stop": 64, "num": 6, "log": True}},
                   "seeds": {"init": 2}, "train": {"epochs": 20}}}


def gpu_matmul_gflops(n: int = 8192, repeats: int = 5) -> float:
    """float32 matmul throughput of the current CUDA device, GFLOP/s."""
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    torch.mm(a, b)
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny grid, for a smoke test")
    args = parser.parse_args()
    exp = ddlab.load_experiment(GRID)
    for change in (SIZES[args.device], SIZES["quick"]) if args.quick else (SIZES[args.device],):
        exp = exp.replace(**change)
    peak = gpu_matmul_gflops if args.device == "cuda" else sgemm_gflops
    print(machine())
    cells = len(exp.model.width) * exp.seeds.init * exp.seeds.data
    print(f"{len(exp.model.width)} widths {exp.model.width[0]}-{exp.model.width[-1]} x "
          f"{exp.seeds.init} seeds x {exp.train.epochs} epochs = {cells} cells, "
          f"device {args.device}, n_jobs {args.n_jobs}")
    before = peak()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "large.zarr"
        t0 = time.perf_counter()
        ddlab.run(exp, device=args.device, n_jobs=args.n_jobs, progress=False, out=out)
        wall = time.perf_counter() - t0
        size = dir_bytes(out)
    limit = statistics.median([before, peak()])
    useful = useful_flops(exp) / wall / 1e9
    print(f"wall time {wall:.2f} s, {cells * exp.train.epochs / wall:,.0f} cell-epochs/s")
    print(f"useful {useful:.1f} GFLOP/s = {100 * useful / limit:.0f}% of the "
          f"{'GPU matmul' if args.device == 'cuda' else 'single-thread SGEMM'} "
          f"{limit:.0f} GFLOP/s measured around the run"
          + (f" (x {args.n_jobs} processes)" if args.n_jobs > 1 else ""))
    print(f"peak memory {peak_rss_bytes() / 2**20:.0f} MiB (this process), "
          f"store {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
