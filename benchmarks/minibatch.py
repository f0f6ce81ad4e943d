"""Cost of a minibatch epoch against a full-batch epoch over the same rows, side by side.

::

    python benchmarks/minibatch.py           # about a minute
    python benchmarks/minibatch.py --quick   # seconds (a smoke test, not a timing)

Grid: 20 log-spaced widths 1-64 x 20 init seeds, n_train = 512, n_test = 100,
dim 5, Adam, no population sample, metrics recorded at the last epoch only;
``train.batch_size`` = 128, 32, 8, each with ``train.shuffle = "cell"`` (each
cell its own order, the default) and ``"data"`` (one order per data set,
shared by its cells). The cost of an epoch is the difference between runs of
3E and E epochs, divided by 2E, so set-up (data, initialisation, recording)
cancels.
"""

from __future__ import annotations

import argparse

from _common import interleaved, machine

import ddlab

GRID = {
    "data": {"n_train": 512, "n_test": 100, "n_population": 0, "dim": 5},
    "model": {"width": {"start": 1, "stop": 64, "num": 20, "log": True}},
    "train": {"optimizer": "adam", "lr": 0.01},
    "seeds": {"init": 20},
}
QUICK = {"model": {"width": [1, 4, 16]}, "seeds": {"init": 4}}
#: (batch_size, shuffle) cases; full batch has no order to share
CASES = (("full", "cell"), *((b, s) for b in (128, 32, 8) for s in ("cell", "data")))


def experiment(batch, shuffle: str, epochs: int, quick: bool) -> ddlab.Experiment:
    """The benchmark grid at one batch size and shuffle, trained ``epochs`` epochs."""
    exp = ddlab.load_experiment(GRID).replace(train={"batch_size": batch, "shuffle": shuffle,
                                                     "epochs": epochs, "record": [epochs]})
    return exp.replace(**QUICK) if quick else exp


def epoch_costs(epochs: int, repeats: int, quick: bool) -> dict[tuple, float]:
    """Seconds per epoch of every case, measured side by side."""
    cases = {}
    for case in CASES:
        for e in (epochs, 3 * epochs):
            exp = experiment(*case, e, quick)
            cases[(case, e)] = lambda exp=exp: ddlab.run(exp, device="cpu", progress=False)
    t = interleaved(cases, repeats)
    return {c: (t[(c, 3 * epochs)] - t[(c, epochs)]) / (2 * epochs) for c in CASES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid, for a smoke test")
    parser.add_argument("--epochs", type=int, default=5, help="E (runs of E and 3E epochs)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    epochs, repeats = (1, 1) if args.quick else (args.epochs, args.repeats)
    print(machine())
    print("20 log-spaced widths 1-64 x 20 seeds, n_train 512, dim 5, Adam"
          + (" [--quick: widths 1, 4, 16 x 4 seeds]" if args.quick else ""))
    cost = epoch_costs(epochs, repeats, args.quick)
    full = cost[CASES[0]]
    for batch, shuffle in CASES:
        c = cost[(batch, shuffle)]
        print(f"batch {batch!s:>4}, shuffle {shuffle}: {1e3 * c:8.2f} ms per epoch, "
              f"{c / full:5.2f} x full batch")


if __name__ == "__main__":
    main()
