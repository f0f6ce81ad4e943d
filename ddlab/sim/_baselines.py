"""What a skilled user writes instead of ddlab: the reference loops speed is measured against.

- :func:`per_model_loop`: the lecture's way, one ``nn.Sequential`` and one
  ``torch.optim.Adam`` per joblib task;
- :func:`vmap_ensemble`: PyTorch's model-ensembling recipe, one
  ``torch.func.vmap`` ensemble per width (``stack_module_state`` +
  ``functional_call``, ``torch.optim.Adam`` on the stacked tensors).

Both train full batch on data seed 0 and record the lecture's metrics (train
and test loss, error in f on the training inputs) every epoch, as ddlab does.
They are used by ``ddlab reproduce`` (the paper's speed table) and ``benchmarks/``.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import torch
from joblib import Parallel, delayed
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .._orphans import guarded
from ..config import Experiment
from ._data import make_data

__all__ = ["per_model_loop", "vmap_ensemble"]


def _mlp(dim: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, width), nn.ReLU(), nn.Linear(width, 1))


def _one_model(x, y, xt, yt, f, width: int, seed: int, epochs: int, lr: float) -> np.ndarray:
    """The lecture's per-task body: one network, Adam, full batch, its metrics per epoch."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = _mlp(x.shape[1], width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    out = np.zeros((3, epochs + 1))
    for epoch in range(epochs + 1):
        pred = model(x)
        loss = loss_fn(pred, y)
        with torch.no_grad():
            out[:, epoch] = (loss.item(), loss_fn(model(xt), yt).item(), loss_fn(pred, f).item())
        if epoch == epochs:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return out


def _samples(exp: Experiment) -> tuple[torch.Tensor, ...]:
    s = make_data(exp, 0)
    return s.x_train, s.y_train[:, None], s.x_test, s.y_test[:, None], s.f_train[:, None]


def per_model_loop(experiment: Experiment, sims: int, n_jobs: int = 1) -> list[np.ndarray]:
    """Train ``sims`` networks per width one model per joblib task, as the lecture does.

    Parameters
    ----------
    experiment : Experiment
        A one-hidden-layer, full-batch Adam experiment (widths, epochs, lr, data).
    sims : int
        Networks per width.
    n_jobs : int
        joblib worker processes.

    Returns
    -------
    list of ndarray
        Per width, (sims, 3, epochs + 1): train loss, test loss, error in f.
    """
    args = _samples(experiment)
    return [np.stack(Parallel(n_jobs=n_jobs)(
        delayed(guarded)(os.getpid(), _one_model, *args, width, seed,
                         experiment.train.epochs, experiment.train.lr)
        for seed in range(sims))) for width in experiment.model.width]


def vmap_ensemble(experiment: Experiment, sims: int) -> list[np.ndarray]:
    """Train ``sims`` networks per width as one ``torch.func.vmap`` ensemble per width.

    Parameters
    ----------
    experiment : Experiment
        A one-hidden-layer, full-batch Adam experiment.
    sims : int
        Networks per width.

    Returns
    -------
    list of ndarray
        Per width, (sims, 3, epochs + 1): train loss, test loss, error in f.
    """
    torch.set_num_threads(1)
    x, y, xt, yt, f = _samples(experiment)
    epochs = experiment.train.epochs
    out = []
    for width in experiment.model.width:
        torch.manual_seed(width)
        models = [_mlp(x.shape[1], width) for _ in range(sims)]
        params, buffers = stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")

        def call(p, b, inputs, base=base):
            return functional_call(base, (p, b), (inputs,))

        ensemble = vmap(call, in_dims=(0, 0, None))
        opt = torch.optim.Adam(list(params.values()), lr=experiment.train.lr)
        record = np.zeros((sims, 3, epochs + 1))
        for epoch in range(epochs + 1):
            pred = ensemble(params, buffers, x)
            losses = ((pred - y) ** 2).mean(dim=(1, 2))
            with torch.no_grad():
                record[:, 0, epoch] = losses.numpy()
                record[:, 1, epoch] = ((ensemble(params, buffers, xt) - yt) ** 2).mean(
                    dim=(1, 2)).numpy()
                record[:, 2, epoch] = ((pred - f) ** 2).mean(dim=(1, 2)).numpy()
            if epoch == epochs:
                break
            opt.zero_grad()
            losses.sum().backward()
            opt.step()
        out.append(record)
    return out
