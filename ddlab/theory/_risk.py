"""The result type shared by every theory curve."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Risk"]


class Risk(NamedTuple):
    """An excess risk and its bias and variance parts (risk = bias + variance)."""

    risk: np.ndarray
    bias: np.ndarray
    variance: np.ndarray


def _risk(bias, variance) -> Risk:
    bias, variance = np.asarray(bias, dtype=float), np.asarray(variance, dtype=float)
    return Risk(bias + variance, bias, variance)
