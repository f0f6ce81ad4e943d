"""Cost of a minibatch epoch against a full-batch epoch over the same rows, side by side.

::

    python benchmarks/minibatch.py           # about a minute
    python benchmarks/minibatch.py --quick   # seconds (a smoke test, not a timing)

Grid: 20 log-spaced widths 1-64 x 20 init seeds, n_train = 512, n_test = 100,
dim 5, Adam, no population sample, metrics recorded at the last epoch only;
each cell draws its own shuffle (``train.batch_size`` = 128, 32, 8). The cost
of an epoch is the difference between runs of 3E and E epochs, divided by 2E,
so set-up (data, initialisation, recording) cancels.
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
BATCHES = ("full", 128, 32, 8)


def experiment(batch, epochs: int, quick: bool) -> ddlab.Experiment:
    """The benchmark grid at one batch size, trained ``epochs`` epochs."""
    exp = ddlab.load_experiment(GRID).replace(train={"batch_size": batch, "epochs": epochs,
                                                     "record": [epochs]})
    return exp.replace(**QUICK) if quick else exp


def epoch_costs(epochs: int, repeats: int, quick: bool) -> dict[object, float]:
    """Seconds per epoch at every batch size, measured side by side."""
    cases = {}
    for batch in BATCHES:
        for e in (epochs, 3 * epochs):
            exp = experiment(batch, e, quick)
            cases[(batch, e)] = lambda exp=exp: ddlab.run(exp, device="cpu", progress=False)
    t = interleaved(cases, repeats)
    return {b: (t[(b, 3 * epochs)] - t[(b, epochs)]) / (2 * epochs) for b in BATCHES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid, for a smoke test")
    parser.add_argument("--epochs", type=int, default=5, help="E (runs of E and 3E epochs)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    epochs, repeats = (1, 1) if args.quick else (args.epochs, args.repeats)
    print(machine())
    print("20 log-spaced widths 1-64 x 20 seeds, n_train 512, dim 5, Adam, own shuffle per cell"
          + (" [--quick: widths 1, 4, 16 x 4 seeds]" if args.quick else ""))
    cost = epoch_costs(epochs, repeats, args.quick)
    for batch in BATCHES:
        print(f"batch {batch!s:>4}: {1e3 * cost[batch]:8.2f} ms per epoch, "
              f"{cost[batch] / cost['full']:5.2f} x full batch")


if __name__ == "__main__":
    main()
