"""Chunk planning and cost: split the result grid into rectangles trained as one batch.

A chunk is a rectangle of the grid: one value of every swept key that changes
shapes, all values of the batchable ones (``noise``, ``lr``, ``weight_decay``),
a range of widths, one data seed (gradient descent) or all of them (closed-form
fits), and all init seeds. Its cells train together in one batch and its
results are one region write into the store.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..config import Experiment, field

__all__ = ["Chunk", "estimate_seconds", "plan_chunks"]

#: rough single-process CPU costs, seconds per hidden unit and row, trained or evaluated
#: (benchmarks/minibatch.py, benchmarks/vs_vmap.py)
_TRAIN_COST, _EVAL_COST = 5e-9, 1.5e-9


@dataclass(frozen=True)
class Chunk:
    """A rectangle of the result grid, trained as one batch.

    Attributes
    ----------
    sweep : tuple of int or None
        Per swept key, its index, or None for a batchable key (all its values).
    widths, data_seeds : tuple of (int, int)
        Half-open index ranges into ``model.width`` and the data seeds (one for
        gradient descent, all for closed-form fits).
    inits : tuple of (int, int) or None
        Half-open range of init seeds; None (a planned chunk) is all of them.
        Only a chunk that completes a grown store (:meth:`pending`) holds fewer.
    """

    sweep: tuple[int | None, ...]
    widths: tuple[int, int]
    data_seeds: tuple[int, int]
    inits: tuple[int, int] | None = None

    def init_range(self, experiment: Experiment) -> range:
        """The chunk's init seeds."""
        return range(*(self.inits or (0, experiment.seeds.init)))

    def region(self, experiment: Experiment) -> dict[str, slice]:
        """The chunk's slices, by dim name."""
        out = {dim: slice(None) if i is None else slice(i, i + 1)
               for dim, i in zip(experiment.sweep_dims, self.sweep, strict=True)}
        inits = self.init_range(experiment)
        return out | {"width": slice(*self.widths), "data_seed": slice(*self.data_seeds),
                      "init_seed": slice(inits.start, inits.stop)}

    def shape(self, experiment: Experiment) -> tuple[int, ...]:
        """Region shape over the sweep dims (1 for fixed keys)."""
        return tuple(len(v) if i is None else 1
                     for (_, v), i in zip(experiment.sweep, self.sweep, strict=True))

    def points(self, experiment: Experiment) -> list[Experiment]:
        """The concrete experiments of the chunk, in C order."""
        ranges = [range(len(v)) if i is None else (i,)
                  for (_, v), i in zip(experiment.sweep, self.sweep, strict=True)]
        return [experiment.point(idx) for idx in itertools.product(*ranges)]

    def n_cells(self, experiment: Experiment) -> int:
        """Number of cells in the chunk."""
        return (math.prod(self.shape(experiment)) * (self.widths[1] - self.widths[0])
                * (self.data_seeds[1] - self.data_seeds[0]) * len(self.init_range(experiment)))

    def pending(self, experiment: Experiment, completed: np.ndarray,
                whole_groups: bool) -> list[Chunk]:
        """Sub-chunks that cover exactly the cells of this chunk not yet completed.

        A chunk all done gives none, one with nothing done gives itself. In a
        partly done chunk (a grown store) a batched sweep key is split into its
        values, data seeds into single seeds, widths into runs of widths with
        work left, and init seeds into the range from the first one with work
        left (all of them with ``whole_groups``: statistics over init seeds
        need every init of a group).

        Parameters
        ----------
        experiment : Experiment
        completed : ndarray of bool
            The store's ``completed`` flags, dims ``(*sweep, width, data_seed,
            init_seed)``.
        whole_groups : bool
            Keep every init seed of a (sweep point, width, data seed) together.

        Returns
        -------
        list of Chunk
        """
        region = self.region(experiment)
        dims = (*experiment.sweep_dims, "width", "data_seed", "init_seed")
        done = completed[tuple(region[d] for d in dims)]
        if done.all():
            return []
        if not done.any():
            return [self]
        sizes = experiment.sweep_shape
        ranges = [range(n) if i is None else (i,) for i, n in zip(self.sweep, sizes, strict=True)]
        out = []
        for sweep in itertools.product(*ranges):
            for d in range(*self.data_seeds):
                at = completed[(*sweep, slice(*self.widths), d, slice(None))]
                out += self._runs(experiment, sweep, d, at, whole_groups)
        return out

    def _runs(self, experiment: Experiment, sweep: tuple[int, ...], data_seed: int,
              done: np.ndarray, whole_groups: bool) -> list[Chunk]:
        """Chunks of one sweep point and data seed over the widths with work left.

        ``done`` holds the flags of this chunk's widths (rows) and every init seed.
        """
        inits = self.init_range(experiment)
        left = ~done[:, inits.start:inits.stop]
        # per width: the first init seed with work left (-1: none), 0 for whole groups
        first = np.where(left.any(axis=1), 0 if whole_groups else left.argmax(axis=1), -1)
        out, w0 = [], self.widths[0]
        for start, run in itertools.groupby(range(len(first)), key=lambda k: int(first[k])):
            if start < 0:
                continue
            ks = list(run)
            start += inits.start
            out.append(Chunk(sweep, (w0 + ks[0], w0 + ks[-1] + 1), (data_seed, data_seed + 1),
                             None if start == 0 else (start, inits.stop)))
        return out


def plan_chunks(experiment: Experiment, chunk_units: int) -> list[Chunk]:
    """Split the grid into rectangular chunks of about ``chunk_units`` hidden units.

    A chunk holds consecutive widths, each with all its init seeds (so means
    over initialisations are computed within one chunk), for one value of
    every shape-changing swept key, and one data seed (gradient descent: the
    cells share their inputs) or, for closed-form fits, as many consecutive
    data seeds as the widest width fits in ``chunk_units`` with (all of them
    unless the budget is tight; at least one). A width that
    exceeds the budget alone gets a chunk of its own. The plan depends only on
    the experiment and ``chunk_units``, never on ``n_jobs``, so a resumed run
    recomputes exactly the chunks an uninterrupted run would.

    Parameters
    ----------
    experiment : Experiment
    chunk_units : int
        Budget of hidden units (features) per chunk, summed over its cells.

    Returns
    -------
    list of Chunk
    """
    exp = experiment
    batch = [field(key).sweep == "batch" for key, _ in exp.sweep]
    fixed = [(None,) if b else range(len(v)) for (_, v), b in zip(exp.sweep, batch, strict=True)]
    group = math.prod(len(v) for (_, v), b in zip(exp.sweep, batch, strict=True) if b)
    n_data = exp.seeds.data
    per_seed = group * exp.seeds.init * max(exp.model.width)
    step = min(n_data, max(1, chunk_units // per_seed)) if exp.closed_form else 1
    seed_ranges = [(d, min(d + step, n_data)) for d in range(0, n_data, step)]
    chunks: list[Chunk] = []
    for idx in np.ndindex(*map(len, fixed)):
        sweep = tuple(f[i] for f, i in zip(fixed, idx, strict=True))
        for seeds in seed_ranges:
            per_width = group * exp.seeds.init * (seeds[1] - seeds[0])
            start, units = 0, 0
            for k, w in enumerate(exp.model.width):
                if units and units + w * per_width > chunk_units:
                    chunks.append(Chunk(sweep, (start, k), seeds))
                    start, units = k, 0
                units += w * per_width
            chunks.append(Chunk(sweep, (start, len(exp.model.width)), seeds))
    return chunks


def estimate_seconds(experiment: Experiment) -> float:
    """A rough single-process CPU time for an experiment, from measured per-unit costs.

    Parameters
    ----------
    experiment : Experiment

    Returns
    -------
    float
        Seconds; the costliest sweep point stands for every point.
    """
    exp = experiment
    points = math.prod(exp.sweep_shape)
    worst = max((e for _, e in exp.points()),
                key=lambda e: (e.data.n_train, e.model.depth, e.data.dim, e.data.n_test))
    d = worst.data
    cells = exp.seeds.data * exp.seeds.init * points
    if exp.closed_form:  # Gram, solve and predictions, at about 3 GFLOP/s
        rows = d.n_train + d.n_test + d.n_population
        per_feature = 2 if exp.model.family == "linear" else 2 * (d.dim + 2)
        flops = sum(min(d.n_train, w) ** 2 * max(d.n_train, w) + rows * w * per_feature
                    for w in exp.model.width)
        return cells * flops / 3e9
    units = sum(exp.model.width) * cells
    depth_factor = 1 + (worst.model.depth - 1) * max(exp.model.width) / max(1, d.dim)
    bs = min(worst.train.batch_size or d.n_train, d.n_train)  # a step costs its rows
    steps = exp.train.epochs * math.ceil(d.n_train / bs)
    evals = len(exp.epochs) * (d.n_test + d.n_population)
    return units * depth_factor * (steps * bs * _TRAIN_COST + evals * _EVAL_COST)
