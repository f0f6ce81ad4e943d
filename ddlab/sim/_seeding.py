"""Counter-based random streams: a cell's draws depend only on the root seed and its coordinates.

Every random stream of a simulation is keyed by a 64-bit seed, a splitmix64
hash of ``(root, stream, *coords)`` (:func:`cell_seed`), so it never depends on
the order or grouping in which cells are computed. The stream itself is
the 64-bit words ``numpy.random.Philox(key=(seed, 0)).random_raw()``, of the
Philox4x64 counter-based generator: words come in blocks of four, each a
function of the key and its block's counter alone, so any stretch of a
stream can be drawn directly (:func:`raw_words` with ``start``), without
drawing what comes before it.

Draws are float64 uniforms ``u = (floor(r / 2**11) + 1/2) / 2**53`` of the
words ``r`` in turn: the midpoints of the 2**53 equal cells of [0, 1), so
``0 < u < 1``. Normals are ``ndtri(u)``, the inverse normal CDF of consecutive
uniforms (one uniform per normal, finite since ``u`` is never 0 or 1).

(ddlab up to 0.3 seeded torch's mt19937 with the top 63 bits of these seeds
instead, and mt19937 keeps 32 bits of a seed: of 10^5 cells, a pair collided
with probability 0.7, the birthday bound.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["STREAMS", "cell_seed", "cell_seeds", "normals", "raw_words", "uniforms",
           "uniforms_of"]

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
    "label_noise": 11,
}

_GOLDEN, _M1, _M2 = (np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9,
                                             0x94D049BB133111EB))
_WORDS = 4  # 64-bit words per Philox4x64 block


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
        Seeds in ``[0, 2**64)``.
    """
    coords = np.asarray(coords, dtype=np.int64).reshape(len(coords), -1).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = _mix(np.full(len(coords), root, dtype=np.uint64))
        for c in (np.uint64(STREAMS[stream]), np.uint64(coords.shape[1]), *coords.T):
            z = _mix(z ^ c)
    return z.tolist()


def cell_seed(root: int, stream: str, *coords: int) -> int:
    """The 64-bit seed of one random stream of one cell: the key of its Philox stream.

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
        A seed in ``[0, 2**64)``.
    """
    return cell_seeds(root, stream, [coords])[0]


def raw_words(seeds: Sequence[int], sizes: Sequence[int], start: int = 0) -> np.ndarray:
    """Words ``start .. start + size`` of the Philox stream of each seed, concatenated.

    One Philox bit generator, re-keyed for each seed (a fresh one per call, so
    concurrent calls never share one).

    Parameters
    ----------
    seeds : sequence of int
        Stream seeds (:func:`cell_seeds`).
    sizes : sequence of int
        How many words of each stream.
    start : int
        Index of the first word drawn, the same for every stream.

    Returns
    -------
    ndarray
        uint64 of shape ``(sum(sizes),)``: each stream's words in turn.
    """
    skip = start % _WORDS
    bounds = np.cumsum([0, *sizes]).tolist()
    raw = np.empty(bounds[-1], dtype=np.uint64)
    bits = np.random.Philox(0)
    state = bits.state  # its buffer is empty: the next word starts a block
    state["state"]["counter"][:] = start // _WORDS, 0, 0, 0
    key = state["state"]["key"]
    key[1] = 0
    for seed, a, b in zip(seeds, bounds[:-1], bounds[1:], strict=True):
        key[0] = seed
        bits.state = state
        raw[a:b] = bits.random_raw(skip + b - a)[skip:]
    return raw


def uniforms(seeds: Sequence[int], sizes: Sequence[int], start: int = 0) -> torch.Tensor:
    """Uniforms ``start .. start + size`` of the stream of each seed, concatenated.

    :func:`raw_words` mapped to the midpoints ``(floor(r / 2**11) + 1/2) / 2**53``:
    float64 of shape ``(sum(sizes),)``, in (0, 1).
    """
    raw = raw_words(seeds, sizes, start)
    return torch.from_numpy(((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53)


def uniforms_of(root: int, stream: str, *coords: int, shape: Sequence[int]) -> torch.Tensor:
    """The first values of one cell's uniform stream, float64 of ``shape`` (row-major)."""
    return uniforms([cell_seed(root, stream, *coords)], [math.prod(shape)]).view(*shape)


def normals(root: int, stream: str, *coords: int, shape: Sequence[int]) -> torch.Tensor:
    """Standard normals ``ndtri(u)`` of the first uniforms of one cell's stream."""
    return torch.special.ndtri(uniforms_of(root, stream, *coords, shape=shape))
