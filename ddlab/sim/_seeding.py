"""Counter-based seeds: a cell's randomness depends only on the root seed and its coordinates.

Seeds are a splitmix64 hash of ``(root, stream, *coords)``. They never depend on
the order or grouping in which cells are computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["STREAMS", "cell_seed", "cell_seeds", "generator", "generators"]

#: Independent random streams of one experiment.
STREAMS = {
    "x_train": 1,
    "noise_train": 2,
    "x_test": 3,
    "noise_test": 4,
    "x_pop": 5,
    "target": 6,
    "init": 7,
    "shuffle": 8,
    "features": 9,
    "split": 10,
}

_GOLDEN, _M1, _M2 = (np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9,
                                             0x94D049BB133111EB))


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (arithmetic wraps modulo 2**64)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def cell_seeds(root: int, stream: str, coords: np.ndarray | Sequence[Sequence[int]]) -> list[int]:
    """Seeds of many cells at once: ``cell_seed(root, stream, *row)`` for each row of coords.

    Parameters
    ----------
    root : int
    stream : str
        One of :data:`STREAMS`.
    coords : array_like of int, shape (cells, k)
        Rows of coordinates (a sequence of equal-length tuples will do; an
        empty one gives no seeds).

    Returns
    -------
    list of int
        Seeds in ``[0, 2**63)``.
    """
    coords = np.asarray(coords, dtype=np.int64).reshape(len(coords), -1).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = _mix(np.full(len(coords), root, dtype=np.uint64))
        for c in (np.uint64(STREAMS[stream]), np.uint64(coords.shape[1]), *coords.T):
            z = _mix(z ^ c)
    return (z >> np.uint64(1)).tolist()


def cell_seed(root: int, stream: str, *coords: int) -> int:
    """A 63-bit seed for one random stream of one cell.

    Parameters
    ----------
    root : int
        The experiment's root seed.
    stream : str
        One of :data:`STREAMS`.
    *coords : int
        The cell's coordinates (e.g. width, data seed, init seed).

    Returns
    -------
    int
        A seed in ``[0, 2**63)``, suitable for ``torch.Generator.manual_seed``.
    """
    return cell_seeds(root, stream, [coords])[0]


def generator(root: int, stream: str, *coords: int) -> torch.Generator:
    """A CPU torch generator seeded by :func:`cell_seed`."""
    return torch.Generator().manual_seed(cell_seed(root, stream, *coords))


def generators(root: int, stream: str,
               coords: Sequence[Sequence[int]]) -> list[torch.Generator]:
    """:func:`generator` for many cells at once (rows of ``coords``)."""
    return [torch.Generator().manual_seed(s) for s in cell_seeds(root, stream, coords)]
