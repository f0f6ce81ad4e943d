"""Counter-based seeds: a cell's randomness depends only on the root seed and its coordinates.

Seeds are a splitmix64 hash of ``(root, stream, *coords)``. They never depend on
the order or grouping in which cells are computed.
"""

from __future__ import annotations

__all__ = ["STREAMS", "cell_seed"]

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

_MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


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
    z = _mix(int(root) & _MASK)
    for c in (STREAMS[stream], len(coords), *coords):
        z = _mix(z ^ (int(c) & _MASK))
    return z >> 1
