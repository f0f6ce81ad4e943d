"""ddlab's MNIST-1D sweep against the one-model-at-a-time loop of Greydanus's MNIST-1D notebook.

::

    pip install 'ddlab[real]'             # the mnist1d package
    python benchmarks/mnist1d.py           # 5 widths x 2 seeds x 5 epochs, under a minute
    python benchmarks/mnist1d.py --quick   # seconds (a smoke test, not a timing)
    python benchmarks/mnist1d.py --widths 2 16 128 --seeds 3 --epochs 10

The workload is ``experiments/mnist1d_mlp.toml`` (4,000 training and 12,000
test sequences, 15% of the training labels flipped, two hidden ReLU layers,
cross-entropy, SGD with momentum 0.9, lr 0.01, batches of 100 in one order
per data set, float32) on a reduced grid: ``--widths`` (default 2, 8, 32,
128, 300 of its 13 widths 2-300), ``--seeds`` init seeds (default 2) of data
seed 0 and ``--epochs`` (default 5 of its 500), recorded at every epoch the
experiment's ``record`` rule keeps (all of them, up to 10 epochs).

ddlab runs it as ``ddlab.run(exp, device="cpu", n_jobs=1)``. The baseline is
the notebook's training loop, one network after another: per cell the
``nn.Sequential`` of ``ddlab.make_model`` (the initial parameters ddlab
uses), ``torch.optim.SGD(momentum=0.9)``, ``nn.CrossEntropyLoss`` on the
class labels (the one-hot labels' argmax), minibatches in the order
``ddlab.minibatch_order`` gives, and at each epoch ddlab records, one forward
pass over the training and test sets for the metrics ddlab records there
(cross-entropy, 0-1 error, the error on the clean and the memorized fraction
of the flipped labels), so that both do the same work. Both run in this
process with one torch thread; the MNIST-1D pool is generated (or read from
ddlab's cache) before anything is timed.

Columns: ``ddlab 1st`` (ddlab's first run in this process), ``ddlab`` and
``baseline`` (medians of ``--repeats`` runs, interleaved, after a first run
of each) and their ratio baseline / ddlab (> 1: ddlab is faster). The two
must agree: the final 0-1 test error of every cell equal, or every recorded
loss within float32 round-off (relative :data:`RTOL`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _common import interleaved, machine
from torch import nn

import ddlab

MNIST1D = Path(__file__).resolve().parents[1] / "experiments" / "mnist1d_mlp.toml"
#: metrics of a classification run, each (width, epoch, data_seed, init_seed)
METRICS = ("train_loss", "test_loss", "train_error", "test_error", "train_error_clean",
           "memorized_fraction")
#: relative tolerance of the losses of the two sides (float32 round-off, grown over the steps)
RTOL = 1e-4
#: (widths, init seeds, epochs): the default grid and the --quick one
GRID = ([2, 8, 32, 128, 300], 2, 5)
QUICK = ([2, 16], 1, 1)


def experiment(widths: list[int], seeds: int, epochs: int) -> ddlab.Experiment:
    """``experiments/mnist1d_mlp.toml`` reduced to some widths, init seeds and epochs."""
    return ddlab.load_experiment(MNIST1D).replace(
        model={"width": widths}, train={"epochs": epochs}, seeds={"data": 1, "init": seeds})


def one_model_loop(exp: ddlab.Experiment) -> dict[str, np.ndarray]:
    """Train every cell of ``exp`` alone, the notebook's way, recording what ddlab records.

    Parameters
    ----------
    exp : Experiment
        A classification experiment trained by minibatch SGD on cross-entropy.

    Returns
    -------
    dict of str to ndarray
        Per metric of :data:`METRICS`, (width, recorded epoch, data_seed,
        init_seed), the layout of ``ddlab.run``'s dataset.
    """
    t = exp.train
    recorded = {e: k for k, e in enumerate(exp.epochs)}
    shape = (len(exp.model.width), len(recorded), exp.seeds.data, exp.seeds.init)
    out = {k: np.full(shape, np.nan) for k in METRICS}
    loss_fn = nn.CrossEntropyLoss()
    for d in range(exp.seeds.data):
        s = ddlab.make_data(exp, d)
        labels, test_labels, flipped = s.y_train.argmax(1), s.y_test.argmax(1), s.flipped
        for w, width in enumerate(exp.model.width):
            for i in range(exp.seeds.init):
                model = ddlab.make_model(exp, width, d, i)
                opt = torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum,
                                      nesterov=t.nesterov, weight_decay=t.weight_decay)
                order = ddlab.minibatch_order(exp, width, d, i)
                for epoch in range(t.epochs + 1):
                    if epoch in recorded:
                        with torch.no_grad():
                            train, test = model(s.x_train), model(s.x_test)
                            hit = train.argmax(1) == labels
                            values = {
                                "train_loss": loss_fn(train, labels),
                                "test_loss": loss_fn(test, test_labels),
                                "train_error": 1 - hit.double().mean(),
                                "test_error": 1 - (test.argmax(1) == test_labels).double().mean(),
                                "train_error_clean": 1 - hit[~flipped].double().mean(),
                                "memorized_fraction": hit[flipped].double().mean()}
                        for k, v in values.items():
                            out[k][w, recorded[epoch], d, i] = float(v)
                    if epoch == t.epochs:
                        break
                    for idx in order[epoch].split(t.batch_size):
                        opt.zero_grad()
                        loss_fn(model(s.x_train[idx]), labels[idx]).backward()
                        opt.step()
    return out


def agreement(ds, ref: dict[str, np.ndarray], n_test: int) -> tuple[bool, str]:
    """Whether ddlab's dataset and the baseline's curves agree, and a line saying how well."""
    final = ds.test_error.values[:, -1], ref["test_error"][:, -1]
    points = np.rint(np.abs(final[0] - final[1]) * n_test).astype(int)
    rel = max(float(np.max(np.abs(ds[k].values - ref[k]) / np.abs(ref[k])))
              for k in ("train_loss", "test_loss"))
    equal = int((points == 0).sum())
    ok = equal == points.size or rel <= RTOL
    return ok, (f"{'agree' if ok else 'DIFFER'}: final test error equal in {equal} of "
                f"{points.size} cells (at most {points.max()} of {n_test} test points apart), "
                f"losses at every recorded epoch within {rel:.1e} relative (tolerance {RTOL:g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid, for a smoke test")
    parser.add_argument("--widths", type=int, nargs="+", default=GRID[0])
    parser.add_argument("--seeds", type=int, default=GRID[1], help="init seeds per width")
    parser.add_argument("--epochs", type=int, default=GRID[2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    widths, seeds, epochs = QUICK if args.quick else (args.widths, args.seeds, args.epochs)
    repeats = 1 if args.quick else args.repeats
    exp = experiment(widths, seeds, epochs)
    print(machine())
    t0 = time.perf_counter()
    ddlab.make_data(exp, 0)
    print(f"{MNIST1D.name}: widths {widths} x {seeds} init seeds x {epochs} epochs "
          f"(recorded {len(exp.epochs)}), n_train {exp.data.n_train}, n_test {exp.data.n_test}, "
          f"batch {exp.train.batch_size}, {exp.train.dtype}; data ready in "
          f"{time.perf_counter() - t0:.1f}s")

    def ddlab_run():
        return ddlab.run(exp, device="cpu", n_jobs=1, progress=False)

    t0 = time.perf_counter()
    ds = ddlab_run()
    first = time.perf_counter() - t0
    ref = one_model_loop(exp)
    t = interleaved({"ddlab": ddlab_run, "baseline": lambda: one_model_loop(exp)}, repeats,
                    warm=False)
    print(f"{'width':>6} {'ddlab test err':>15} {'baseline':>9}   (final epoch, mean over seeds)")
    for w, width in enumerate(widths):
        print(f"{width:>6} {ds.test_error.values[w, -1].mean():15.4f} "
              f"{ref['test_error'][w, -1].mean():9.4f}")
    print(agreement(ds, ref, exp.data.n_test)[1])
    print(f"{'ddlab 1st':>10} {'ddlab':>9} {'baseline':>9} {'baseline/ddlab':>15}")
    print(f"{first:9.3f}s {t['ddlab']:8.3f}s {t['baseline']:8.3f}s "
          f"{t['baseline'] / t['ddlab']:14.2f}x")


if __name__ == "__main__":
    main()
