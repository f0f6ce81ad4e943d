"""Time ddlab.run on a CUDA GPU, and check it against the CPU (run by hand on a GPU machine).

::

    python benchmarks/cuda_grid.py

Prints, for the lecture's seed grid, the seed grid with ``f_error`` on 10,000
points, the bigger grid (20 widths 1-64 x 100 inits x 1,000 epochs) and a grid
ten times wider in seeds, the CUDA wall time; and the largest relative
difference between CPU and CUDA curves in float64.
"""

from __future__ import annotations

import time

import numpy as np
import torch

import ddlab

SEED_GRID = {
    "data": {"n_population": 0, "noise": 1.5},
    "train": {"lr": 0.01, "epochs": 50},
    "seeds": {"root": 1234, "init": 100},
}
BIG = {"model": {"width": {"start": 1, "stop": 64, "num": 20, "log": True}},
       "train": {"epochs": 1000}}


def timed(exp, repeats: int = 2, **kw) -> float:
    """Fastest of ``repeats`` CUDA runs, in seconds (after one warm-up)."""
    ddlab.run(exp, device="cuda", progress=False, **kw)
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        ddlab.run(exp, device="cuda", progress=False, **kw)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    seed = ddlab.load_experiment(SEED_GRID)
    print(f"seed grid                     : {timed(seed):8.3f} s")
    pop = seed.replace(data={"n_population": 10_000})
    print(f"seed grid + f_error (10k pts) : {timed(pop):8.3f} s")
    big = seed.replace(**BIG)
    print(f"bigger grid (20 widths, 100 inits, 1000 epochs): {timed(big, 1):8.3f} s")
    huge = big.replace(seeds={"init": 1000})
    print(f"10x seeds (20 widths, 1000 inits, 1000 epochs) : {timed(huge, 1):8.3f} s")
    check = ddlab.load_experiment({
        "data": {"n_population": 500, "noise": 1.0},
        "model": {"width": [1, 3, 8, 20], "depth": 2, "activation": "tanh"},
        "train": {"epochs": 200, "dtype": "float64", "batch_size": 8},
        "seeds": {"data": 2, "init": 10}})
    a = ddlab.run(check, device="cpu", progress=False)
    b = ddlab.run(check, device="cuda", progress=False)
    worst = max(float(np.nanmax(np.abs(a[v] - b[v]) / np.abs(a[v])))
                for v in ("train_loss", "test_loss", "f_error_train", "f_error"))
    print(f"CPU vs CUDA, float64, depth 2, minibatch, 200 epochs: max rel diff {worst:.2e}")


if __name__ == "__main__":
    main()
