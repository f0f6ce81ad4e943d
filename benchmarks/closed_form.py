"""Time batched closed-form fits, and lay min-norm simulations over exact theory.

Run by hand::

    python benchmarks/closed_form.py

Prints the wall time of two sweeps of 200 widths x 100 seeds at n = 100 (the
linear weak-features model over 100 data sets, and ReLU random features over
100 initialisations), in one process and with two, and a table of simulated
mean excess risk against ``ddlab.theory.weak_features_risk``.
"""

from __future__ import annotations

import os
import time

import numpy as np

import ddlab
from ddlab import theory

LINEAR = {
    "data": {"target": "linear", "input": "normal", "dim": 400, "n_train": 100,
             "n_test": 100, "n_population": 1000, "noise": 0.5},
    "model": {"family": "linear", "width": {"start": 2, "stop": 400, "step": 2}},
    "train": {"record_bias_variance": False},
    "seeds": {"data": 100, "init": 1},
}
RANDOM_FEATURES = {
    "data": {"target": "teacher", "input": "normal", "dim": 10, "n_train": 100,
             "n_test": 100, "n_population": 1000, "noise": 0.3},
    "model": {"family": "random_features", "activation": "relu",
              "width": {"start": 1, "stop": 1000, "num": 200, "log": True}},
    "seeds": {"data": 1, "init": 100},
}


def timed(spec, n_jobs: int) -> float:
    t0 = time.perf_counter()
    ddlab.run(spec, device="cpu", progress=False, n_jobs=n_jobs)
    return time.perf_counter() - t0


def main() -> None:
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores")
    for name, spec in (("linear, 200 widths x 100 data sets", LINEAR),
                       ("random features, 200 widths x 100 inits", RANDOM_FEATURES)):
        print(f"{name:42s}: {timed(spec, 1):6.2f} s (1 process), "
              f"{timed(spec, cores):6.2f} s ({cores} processes)")
    n, D, ps = 50, 200, np.array([10, 25, 40, 44, 56, 75, 100, 150, 200])
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": D, "n_train": n, "n_test": 10,
                 "n_population": 4000, "noise": 0.5, "signal": 1.0},
        "model": {"family": "linear", "width": ps.tolist()},
        "train": {"record_bias_variance": False}, "seeds": {"data": 1000, "init": 1}})
    err = ddlab.run(exp, device="cpu", progress=False).f_error.isel(epoch=0, init_seed=0)
    sim, se = err.mean("data_seed").values, err.std("data_seed").values / np.sqrt(1000)
    exact = theory.weak_features_risk(n, ps, D, 1.0, 0.5).risk
    print(f"\nmin-norm least squares, n = {n}, D = {D}, 1000 data sets")
    print(f"{'p':>5} {'simulated':>10} {'+-':>7} {'theory':>8} {'z':>6}")
    for p, a, e, b in zip(ps, sim, se, exact, strict=True):
        print(f"{p:5d} {a:10.4f} {e:7.4f} {b:8.4f} {(a - b) / e:6.2f}")


if __name__ == "__main__":
    main()
