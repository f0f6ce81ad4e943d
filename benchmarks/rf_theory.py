"""Random-features regression: ddlab.run against Mei & Montanari's asymptotic risk.

For n = 3 d and psi_1 = N / d from 0.3 to 30, the mean excess risk f_error
(E(f_hat - f)^2 on ``n_population`` fresh points) over data seeds of the
``random_features`` family (linear target, Gaussian inputs) is printed next to
``ddlab.theory.random_features_risk``, for the min-norm fit (ridge 0) and a ridge
fit, at d = 100 (relu and tanh) and d = 400 (relu, fewer widths and seeds).

    python benchmarks/rf_theory.py            # full: a few minutes on one core
    python benchmarks/rf_theory.py --quick    # d = 30: a few seconds
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import ddlab
from ddlab.theory import random_features_risk

SIGNAL, NOISE, RIDGE = 1.0, 0.5, 1e-2


def simulate(d: int, n: int, widths, activation: str, ridge: float, seeds: int,
             n_population: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean f_error over data seeds and its standard error, per width."""
    model = {"family": "random_features", "activation": activation, "width": list(widths)}
    model.update({"fit": "ridge", "ridge": ridge} if ridge > 0 else {"fit": "min_norm"})
    exp = ddlab.load_experiment({
        "name": "rf_theory",
        "data": {"target": "linear", "input": "normal", "dim": d, "n_train": n, "n_test": 1,
                 "n_population": n_population, "noise": NOISE, "signal": SIGNAL},
        "model": model,
        "train": {"record_bias_variance": False},
        "seeds": {"root": 2019, "data": seeds, "init": 1}})
    err = ddlab.run(exp, progress=False).f_error.isel(epoch=0, init_seed=0).values
    return err.mean(axis=1), err.std(axis=1, ddof=1) / np.sqrt(seeds)


def table(d: int, n: int, psi1, activation: str, ridge: float, seeds: int,
          n_population: int) -> float:
    """Print simulation vs theory for one setting; return the largest |relative gap|."""
    widths = np.unique(np.round(np.asarray(psi1) * d).astype(int))
    t0 = time.perf_counter()
    mean, se = simulate(d, n, widths, activation, ridge, seeds, n_population)
    theory = random_features_risk(n, widths, d, SIGNAL, NOISE, activation, ridge).risk
    gap = mean / theory - 1
    print(f"\n{activation}, d = {d}, n = {n}, ridge = {ridge:g}, {seeds} data seeds, "
          f"{n_population} population points ({time.perf_counter() - t0:.1f} s)")
    print(f"{'psi_1':>7} {'N':>6} {'simulation':>20} {'theory':>10} {'gap':>8} {'gap/se':>7}")
    for w, m, s, t, g in zip(widths, mean, se, theory, gap, strict=True):
        print(f"{w / d:7.2f} {w:6d} {m:11.4f} ± {s:6.4f} {t:10.4f} {g:+8.1%} "
              f"{(m - t) / s:+7.1f}")
    return float(np.max(np.abs(gap)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny version (seconds)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if args.quick:
        runs = [(30, (0.3, 1.0, 6.0, 20.0), "relu", r, 10, 500) for r in (0.0, RIDGE)]
    else:
        psi_full = np.geomspace(0.3, 30, 10)  # 0.3 ... 30, skipping psi_1 = psi_2 = 3
        psi_big = psi_full[[0, 2, 4, 5, 7, 9]]
        runs = [(100, psi_full, a, r, 40, 2000) for a in ("relu", "tanh") for r in (0.0, RIDGE)]
        runs += [(400, psi_big, "relu", r, 10, 1000) for r in (0.0, RIDGE)]
    for d, psi1, activation, ridge, seeds, n_pop in runs:
        table(d, 3 * d, psi1, activation, ridge, seeds, n_pop)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
