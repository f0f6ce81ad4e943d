"""Time ddlab.run against the seed's one-model-per-joblib-task loop, side by side.

Run by hand (never from the test suite)::

    python benchmarks/seed_grid.py            # everything (about 80 s on 2 cores)
    python benchmarks/seed_grid.py --sims 20  # quicker: the per-model loop on 20 seeds,
                                              # its time scaled to 100

It prints, on one machine in one run:

1. the seed grid (widths 1-10, 100 inits, 50 epochs, n = 20, dim 5, Adam,
   full batch; the seed's metrics, ``n_population = 0``) with ``ddlab.run``
   in-process, and with a plain loop written the way the seed does it (one
   ``nn.Sequential`` + ``torch.optim.Adam`` per joblib task), and their ratio;
2. the seed grid with ``f_error`` on 10,000 population points, with its GFLOP/s;
3. a bigger grid: 20 widths from 1 to 64, 100 inits, 1,000 epochs.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import ddlab
from ddlab.sim import per_model_loop

torch.set_num_threads(1)

SEED_GRID = {
    "data": {"target": "exp_diff", "dim": 5, "n_train": 20, "n_test": 20,
             "n_population": 0, "noise": 1.5},
    "model": {"width": {"start": 1, "stop": 10}},
    "train": {"optimizer": "adam", "lr": 0.01, "epochs": 50},
    "seeds": {"root": 1234, "data": 1, "init": 100},
}


def best_of(fn, repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def flops(exp: ddlab.Experiment) -> float:
    """Dense model FLOPs of a depth-1 run: forward passes and the hand-written backward."""
    d, e = exp.data.dim, exp.train.epochs
    units = sum(exp.model.width) * exp.seeds.init * exp.seeds.data
    fwd_rows = (e + 1) * (exp.data.n_train + exp.data.n_test + exp.data.n_population)
    bwd_rows = e * exp.data.n_train
    return units * (fwd_rows * (2 * d + 4) + bwd_rows * (4 * d + 8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100,
                        help="seeds the per-model loop runs (its time is scaled to 100)")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-big", action="store_true", help="skip the bigger grid")
    args = parser.parse_args()

    seed = ddlab.load_experiment(SEED_GRID)
    ddlab.run(seed, device="cpu", progress=False)  # warm up
    t_ddlab = best_of(lambda: ddlab.run(seed, device="cpu", progress=False), 5)
    per_model_loop(seed, 2, args.n_jobs)  # start the worker pool
    t0 = time.perf_counter()
    per_model_loop(seed, args.sims, args.n_jobs)
    t_loop = (time.perf_counter() - t0) * seed.seeds.init / args.sims
    scaled = "" if args.sims == seed.seeds.init else f" (scaled from {args.sims} seeds)"
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, 1 torch thread/process")
    print(f"seed grid, ddlab.run in-process      : {t_ddlab:8.3f} s")
    print(f"seed grid, per-model joblib loop     : {t_loop:8.3f} s  (n_jobs={args.n_jobs})"
          f"{scaled}")
    print(f"speed-up                             : {t_loop / t_ddlab:8.0f} x")

    pop = seed.replace(data={"n_population": 10_000})
    t_pop = best_of(lambda: ddlab.run(pop, device="cpu", progress=False), 2)
    print(f"seed grid + f_error on 10,000 points : {t_pop:8.3f} s  "
          f"({flops(pop) / t_pop / 1e9:.1f} GFLOP/s, 1 process)")

    if not args.skip_big:
        big = seed.replace(model={"width": {"start": 1, "stop": 64, "num": 20, "log": True}},
                           train={"epochs": 1000})
        t_big = best_of(lambda: ddlab.run(big, device="cpu", progress=False,
                                          n_jobs=args.n_jobs), 1)
        print(f"bigger grid (20 widths 1-64 x 100 inits x 1000 epochs, n_jobs={args.n_jobs}): "
              f"{t_big:.2f} s  ({flops(big) / t_big / 1e9:.1f} GFLOP/s)")


if __name__ == "__main__":
    main()
