"""A trained cell in hand: the network of one cell of a result, after training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import xarray as xr
from torch import nn

from ..config import Experiment
from ..results import experiment_of, open_results
from ._engine import train_chunk
from ._models import make_model

__all__ = ["trained_model"]


def _point(exp: Experiment, sweep: dict[str, object]) -> tuple[Experiment, dict[str, object]]:
    """The concrete experiment at the swept values given by dim name."""
    index, where = [], {}
    names = {key.dim for key, _ in exp.sweep}
    for extra in set(sweep) - names:
        raise ValueError(f"{extra} = {sweep[extra]!r}: not a swept key of this result "
                         f"(swept: {sorted(names) or 'none'})")
    for key, values in exp.sweep:
        if key.dim not in sweep:
            raise ValueError(f"{key.dim}: swept in this result; give one of {list(values)}")
        if sweep[key.dim] not in values:
            raise ValueError(f"{key.dim} = {sweep[key.dim]!r}: not among {list(values)}")
        index.append(list(values).index(sweep[key.dim]))
        where[key.dim] = sweep[key.dim]
    return (exp.point(index) if exp.sweep else exp), where


def _check(name: str, value: object, allowed: range | list[int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value not in allowed:
        shown = (f"{allowed.start}..{allowed.stop - 1}" if isinstance(allowed, range)
                 else ", ".join(map(str, allowed)))
        raise ValueError(f"{name} = {value!r}: not a {name} of this result ({shown})")
    return int(value)


def trained_model(store: str | Path | xr.Dataset, *, width: int, data_seed: int,
                  init_seed: int, epoch: int | None = None, **sweep: object) -> nn.Sequential:
    """The network of one cell of a result after ``epoch`` epochs of training.

    Taken from the cell's kept state (``train.keep_state``) when it is asked at
    the end of training, else trained again, this one cell alone, exactly as
    the run trained it (the same draws, minibatch order and updates).

    Parameters
    ----------
    store : str, Path or xarray.Dataset
        A result store, or a result in memory.
    width, data_seed, init_seed : int
        The cell.
    epoch : int, optional
        Epochs of training, ``0..train.epochs`` (default: all of them).
    **sweep
        The value of each swept key, by dim name (e.g. ``noise=0.5``).

    Returns
    -------
    torch.nn.Sequential
        As :func:`ddlab.make_model` builds it, holding the trained parameters.

    Raises
    ------
    ValueError
        On a cell, epoch or swept value the result does not have.
    """
    ds = store if isinstance(store, xr.Dataset) else open_results(store)
    exp, where = _point(experiment_of(ds), sweep)
    cell = {"width": _check("width", width, list(exp.model.width)),
            "data_seed": _check("data_seed", data_seed, range(exp.seeds.data)),
            "init_seed": _check("init_seed", init_seed, range(exp.seeds.init))}
    final = exp.train.epochs
    epoch = final if epoch is None else _check("epoch", epoch, range(final + 1))
    model = make_model(exp, **cell)
    kept = ("state" in ds and epoch == final and bool(ds.completed.sel(**where, **cell))
            and not ds.attrs.get("continue_from_epoch"))
    if kept:
        values = ds.state.sel(**where, **cell).values
    else:  # the one cell, trained again to ``epoch``
        alone = exp.replace(data={"n_population": 0}, train={"epochs": epoch, "record": [epoch]})
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            values = train_chunk([alone], [(0, width, data_seed, init_seed)],
                                 keep_state=True)["state"][0]
        finally:
            torch.set_num_threads(before)
    flat = torch.from_numpy(np.asarray(values, dtype=np.float64))
    pos = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(flat[pos:pos + p.numel()].view_as(p))
            pos += p.numel()
    return model
