"""Growing a store: a larger experiment keeps every cell the smaller one computed.

A cell's randomness derives only from the root seed and its coordinates, so
the cells of a smaller grid are cells of any larger grid that contains them,
bit for bit. An experiment *grows* a stored one when it differs only by more
of something: init seeds, data seeds, widths, values of a swept key (a key
fixed in the store may become swept, if its stored value is among the new
ones), or recorded epochs within the trained range; or, when the store keeps
each cell's state (``train.keep_state``), by more ``train.epochs`` alone, and
then training continues from that state. The store is then rebuilt
for the larger grid with the stored cells copied to their places; only the new
cells are computed (:meth:`ddlab.sim._plan.Chunk.pending`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..config import Experiment

__all__ = ["grown_keys", "place_values"]

#: dims whose coordinates are the sweep values, widths or seeds (located by label)
_LABELLED = ("width", "epoch", "data_seed", "init_seed")


def _values(exp: Experiment, section: str, key: str) -> list[Any] | None:
    """The values of a key as a list when it is swept, else None."""
    for k, values in exp.sweep:
        if (k.section, k.name) == (section, key):
            return list(values)
    return None


def _contains(new: list[Any], old: list[Any]) -> bool:
    return all(v in new for v in old)


def grown_keys(stored: Experiment, new: Experiment) -> tuple[list[str], list[str]]:
    """How ``new`` grows ``stored``, or which of its keys make it another experiment.

    Parameters
    ----------
    stored, new : Experiment

    Returns
    -------
    grown : list of str
        ``"key: old -> new"`` for each key that grows (empty: the same grid).
    other : list of str
        ``"key: old stored, new now"`` for each key that differs in another way;
        when not empty, ``new`` is not a growth of ``stored``.
    """
    grown, other = [], []
    a, b = stored.to_dict(), new.to_dict()
    for section, keys in a.items():
        if not isinstance(keys, dict) or section in ("name", "description"):
            continue
        for key, old in keys.items():
            now = b[section][key]
            if old == now:
                continue
            olds = _values(stored, section, key) or [old]
            news = _values(new, section, key)
            label = f"{section}.{key}: {old!r} -> {now!r}"
            if key == "width" and section == "model":
                ok = _contains(list(now), list(old))
            elif section == "seeds" and key in ("data", "init"):
                ok = now > old
            elif (section, key) == ("train", "record"):
                ok = _contains(list(new.epochs), list(stored.epochs))
            elif (section, key) == ("train", "epochs"):
                ok = now > old and stored.train.keep_state and new.train.keep_state
            else:
                ok = news is not None and _contains(news, olds)
            hint = (" (training longer needs train.keep_state = true in both)"
                    if (section, key) == ("train", "epochs") and now > old else "")
            if ok:
                grown.append(label)
            else:
                other.append(f"{section}.{key}: {old!r} stored, {now!r} now{hint}")
    return grown, other


def _positions(stored: Experiment, new: Experiment, old: xr.DataArray,
               dims: tuple[str, ...], sizes: dict[str, int]) -> tuple[np.ndarray, ...]:
    """Where the stored values of ``old`` go along each of the new ``dims``."""
    sweep_new = dict(zip(new.sweep_dims, (list(v) for _, v in new.sweep), strict=True))
    sweep_old = dict(zip(stored.sweep_dims, (list(v) for _, v in stored.sweep), strict=True))
    points = {k.name: (k.section, k.name) for k, _ in new.sweep}
    index = []
    for dim in dims:
        if dim in _LABELLED:
            labels = {"width": new.model.width, "epoch": new.epochs}.get(dim, range(sizes[dim]))
            here = {v: k for k, v in enumerate(labels)}
            index.append(np.array([here[v] for v in old[dim].values.tolist()], dtype=np.int64))
        elif dim in sweep_new:
            olds = sweep_old.get(dim) or [stored.to_dict()[points[dim][0]][points[dim][1]]]
            index.append(np.array([sweep_new[dim].index(v) for v in olds], dtype=np.int64))
        else:  # pop: the same points
            index.append(np.arange(sizes[dim]))
    return tuple(index)


def place_values(stored_ds: xr.Dataset, stored: Experiment, new: Experiment, group: Any,
                 sizes: dict[str, int], keep_completed: bool) -> None:
    """Copy every stored variable into a new store's zarr group, each value to its cell.

    Parameters
    ----------
    stored_ds : xarray.Dataset
        The stored results, opened raw (not masked by ``completed``).
    stored, new : Experiment
        The stored experiment and the one it grows into.
    group : zarr.Group
        The new store's group, with its skeleton written.
    sizes : dict
        Length of every dim of the new store.
    keep_completed : bool
        Copy the ``completed`` flags (False when the recorded epochs grew: every
        cell is then trained again to record them).
    """
    for name, var in stored_ds.data_vars.items():
        if name not in group or (name == "completed" and not keep_completed):
            continue
        dims = tuple(group[name].attrs["_ARRAY_DIMENSIONS"])
        missing = [d for d in dims if d not in var.dims]
        values = var.expand_dims(missing).transpose(*dims).values
        group[name].oindex[_positions(stored, new, var, dims, sizes)] = values
