"""Integration error of ``f_error`` on ddlab's own cells, per population design.

::

    python benchmarks/population_error.py                      # the lecture grids, minutes
    python benchmarks/population_error.py --quick              # seconds (a smoke test)
    python benchmarks/population_error.py --config experiments/seed_low_noise.toml

Trains the grid once per redraw with ``ddlab.run``, the population sample
alone redrawn (its design seeded from root seed + k, k = 1..redraws; the
training data, initialisations and so every network stay the same), and
prints, per design, the relative spread over redraws (standard deviation /
mean) of the init-averaged ``f_error`` at its worst width and epoch, and the
mean over cells of ``f_error_se / f_error`` (an upper bound of the relative
standard error of the init average, which averages the cells' errors).
"""

from __future__ import annotations

import argparse
from unittest import mock

import numpy as np

import ddlab
from ddlab.sim import _data

DESIGNS = (("iid", 10_000), ("sobol", 1024), ("sobol", 2048), ("sobol", 4096))


def redraws(exp: ddlab.Experiment, population: str, n: int, k: int) -> tuple[np.ndarray, float]:
    """Init-averaged f_error (redraws, width, epoch) and the mean relative f_error_se."""
    exp = exp.replace(data={"population": population, "n_population": n},
                      train={"record_bias_variance": False})
    draw = _data._population_inputs.__wrapped__
    means, rel_se = [], []
    for r in range(1, k + 1):
        with mock.patch.object(_data, "_population_inputs",
                               lambda spec, root, r=r: draw(spec, root + r)):
            ds = ddlab.run(exp, device="cpu", progress=False)
        means.append(ds.f_error.mean(["data_seed", "init_seed"]).values)
        rel_se.append(float((ds.f_error_se / ds.f_error).mean()))
    return np.stack(means), float(np.mean(rel_se))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/seed_high_noise.toml")
    parser.add_argument("--redraws", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="tiny grid, for a smoke test")
    args = parser.parse_args()
    exp = ddlab.load_experiment(args.config)
    designs, k = DESIGNS, args.redraws
    if args.quick:
        exp = exp.replace(model={"width": [2, 5]}, train={"epochs": 3}, seeds={"init": 4})
        designs, k = (("iid", 200), ("sobol", 128)), 3
    print(f"{exp.name}: widths {exp.model.width[0]}-{exp.model.width[-1]}, "
          f"{exp.seeds.init} inits, {exp.train.epochs} epochs, {k} redraws, "
          f"{_data.POPULATION_REPLICATES} replicate blocks")
    print(f"{'design':>6} {'points':>6}  worst spread of the init-averaged f_error "
          f"(width, epoch)  mean f_error_se / f_error")
    for population, n in designs:
        values, rel_se = redraws(exp, population, n, k)
        spread = values.std(axis=0, ddof=1) / values.mean(axis=0)
        w, e = np.unravel_index(np.nanargmax(spread), spread.shape)
        print(f"{population:>6} {n:>6}  {100 * np.nanmax(spread):8.4f}% "
              f"({exp.model.width[w]}, {exp.epochs[e]}){'':20s}{100 * rel_se:8.4f}%")


if __name__ == "__main__":
    main()
