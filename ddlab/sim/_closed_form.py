"""Closed-form fits of the ``linear`` and ``random_features`` families, batched over cells.

For the features Phi (n x N) of a cell, ``min_norm`` is theta = Phi^+ y (least
squares for N < n, the minimum-norm interpolator for N > n) and ``ridge`` is
theta = argmin (1/n) ||y - Phi theta||^2 + lam ||theta||^2, from the smaller
Gram matrix (Phi^T Phi if N <= n, else Phi Phi^T) in float64 whatever
``train.dtype``.

A chunk holds every data seed and init seed of some widths. Features are
nested (a narrower cell's features are the first columns of a wider one's),
so each *feature owner* (data seed, init seed) computes its train, test and
population features once, up to the chunk's widest cell, and every width
slices them; the wide Gram matrices Phi Phi^T accumulate from width to width.
Systems are solved by batched Cholesky; cells whose Gram matrix is singular
to working precision fall back to an eigendecomposition with the
pseudo-inverse cutoff (eigenvalues below ``max(n, N) * eps * largest`` count as
zero).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from ..config import CLASSIFICATION_TARGETS, Experiment
from ..results import metric_names, records_predictions
from ._classify import train_errors, zero_one_error
from ._data import make_data, population_blocks
from ._engine import PopulationStats
from ._models import ACTIVATION, feature_params

__all__ = ["fit_chunk", "solve"]

Tensor = torch.Tensor

_FEATURE_ELEMENTS = 1 << 23  # owners x rows x features per population slab


def solve(phi: Tensor, gram: Tensor, y: Tensor, ridge: Tensor | None) -> Tensor:
    """Batched min-norm or ridge least squares, given the features and their smaller Gram.

    Parameters
    ----------
    phi : Tensor (B, n, N)
        Features of B cells.
    gram : Tensor (B, m, m)
        ``phi^T phi`` (m = N <= n) or ``phi phi^T`` (m = n < N).
    y : Tensor (B, n, K)
        Targets.
    ridge : Tensor (B,) or None
        Ridge penalties lam; None for min-norm.

    Returns
    -------
    Tensor (B, N, K)
        The coefficients theta.
    """
    n, width = phi.shape[1], phi.shape[2]
    wide = width > n
    rhs = y if wide else phi.transpose(1, 2) @ y
    eye = torch.eye(gram.shape[1], dtype=gram.dtype, device=gram.device)
    system = gram + n * ridge[:, None, None] * eye if ridge is not None else gram
    chol, info = torch.linalg.cholesky_ex(system)
    scale = system.diagonal(dim1=1, dim2=2).amax(dim=1)
    tiny = max(n, width) * torch.finfo(system.dtype).eps * scale
    good = (info == 0) & (chol.diagonal(dim1=1, dim2=2).square().amin(dim=1) > tiny)
    coef = torch.cholesky_solve(rhs, chol)
    if not bool(good.all()):  # pseudo-inverse through the eigendecomposition
        bad = ~good
        evals, evecs = torch.linalg.eigh(system[bad])
        inv = torch.where(evals > tiny[bad, None], 1 / evals, torch.zeros_like(evals))
        coef[bad] = evecs @ (inv.unsqueeze(2) * (evecs.transpose(1, 2) @ rhs[bad]))
    return phi.transpose(1, 2) @ coef if wide else coef


def fit_chunk(points: Sequence[Experiment], cells: Sequence[tuple[int, int, int, int]],
              device: str = "cpu") -> dict[str, np.ndarray]:
    """Fit cells in closed form.

    Same contract as :func:`ddlab.engine.train_chunk`, except that the cells may
    span several data seeds: metrics of shape (1, cells) in the order given;
    and, when predictions are recorded, ``pred_mean`` and ``pred_var_init`` for
    groups ordered by (width, point, data seed), and ``f_population`` (data
    seeds, n_population).
    """
    exp = points[0]
    order = sorted(range(len(cells)), key=lambda k: (cells[k][1], cells[k][0], cells[k][2],
                                                     cells[k][3]))
    ordered = [cells[k] for k in order]
    f64 = torch.float64
    seeds = sorted({d for _, _, d, _ in ordered})
    owners = sorted({(d, i) for _, _, d, i in ordered})
    owner_index = {o: k for k, o in enumerate(owners)}
    owner_of = torch.tensor([owner_index[(d, i)] for _, _, d, i in ordered], device=device)
    arange = torch.arange(len(owners), device=device)
    # samples per data seed and point (points differ at most in noise, so in y)
    samples = {(d, p): make_data(points[p], d) for d in seeds for p in range(len(points))}

    def stacked(field: str, keys) -> Tensor:
        t = torch.stack([getattr(samples[k], field) for k in keys]).to(device, f64)
        return t if t.dim() == 3 else t.unsqueeze(2)

    def per_cell(field: str) -> Tensor:  # (cells, rows, outputs)
        return stacked(field, [(d, p) for p, _, d, _ in ordered])

    def per_owner(field: str) -> Tensor:  # (owners, rows, dim)
        return stacked(field, [(d, 0) for d, _ in owners])

    y_train, y_test, f_train = per_cell("y_train"), per_cell("y_test"), per_cell("f_train")
    classify = exp.data.target in CLASSIFICATION_TARGETS
    flipped = per_cell("flipped")[..., 0].bool()
    x_pop = samples[(seeds[0], 0)].x_pop.to(device, f64)  # shared by all data seeds
    f_pop = stacked("f_pop", [(d, 0) for d in seeds])[..., 0]  # (data seeds, pop)
    seed_row = {d: k for k, d in enumerate(seeds)}
    f_pop_cell = f_pop[torch.tensor([seed_row[d] for _, _, d, _ in ordered], device=device)]
    widest = max(w for _, w, _, _ in ordered)
    feats = [feature_params(exp, widest, d, i) for d, i in owners]
    w_all = torch.stack([f[0] for f in feats]).to(device)  # (U, N_max, dim)
    b_all = torch.stack([f[1] for f in feats]).to(device)  # (U, N_max)
    act_ = ACTIVATION[exp.model.activation].inplace

    def features(x: Tensor) -> Tensor:
        """Features up to the widest cell: (U, rows, N_max) per owner for x (U, rows, dim)
        or (rows, dim), or (rows, N_max) shared by all owners (linear family, 2-D x).
        """
        if exp.model.family == "linear":  # the first N coordinates
            return x[..., :widest]
        return act_(torch.baddbmm(b_all.unsqueeze(1), x.expand(len(owners), -1, -1)
                                  if x.dim() == 2 else x, w_all.transpose(1, 2)))

    def mse(pred: Tensor, target: Tensor) -> Tensor:  # per cell, over rows and outputs
        return (pred - target).square().mean(dim=(1, 2)).cpu()

    def take(t: Tensor, own: Tensor) -> Tensor:
        """t[own], without a copy when the cells are the owners in order."""
        identity = len(own) == len(t) and bool((own == arange[:len(own)]).all())
        return t if identity else t[own]

    phi_train, phi_test = features(per_owner("x_train")), features(per_owner("x_test"))
    n = phi_train.shape[1]
    n_cells, inits = len(cells), len({c[3] for c in cells})
    metrics = {m: torch.full((n_cells,), torch.nan, dtype=f64) for m in metric_names(exp)}
    stats = PopulationStats(x_pop, n_cells, population_blocks(x_pop.shape[0]), inits,
                            records_predictions(exp))
    narrow = max([w for _, w, _, _ in ordered if w <= n], default=0)
    filled = 0
    gram_narrow = phi_train[..., :narrow].transpose(1, 2) @ phi_train[..., :narrow]
    gram_wide = phi_train.new_zeros(len(owners), n, n) if widest > n else None
    # every cell's coefficients, zero-padded to the widest cell, as columns q of its owner
    columns = sorted({(w, p) for p, w, _, _ in ordered})
    column = {c: q for q, c in enumerate(columns)}
    q_of = torch.tensor([column[(w, p)] for p, w, _, _ in ordered], device=device)
    outputs = y_train.shape[2]
    coef = phi_train.new_zeros(len(owners), widest, len(columns), outputs)
    for width, bucket in itertools.groupby(range(n_cells), key=lambda k: ordered[k][1]):
        ks = list(bucket)
        rows = slice(ks[0], ks[-1] + 1)
        own = owner_of[rows]
        if width <= n:
            gram = gram_narrow[:, :width, :width]
        else:  # accumulate Phi Phi^T over the new feature columns
            new = phi_train[..., filled:width]
            gram_wide += new @ new.transpose(1, 2)
            filled, gram = width, gram_wide
        ridge = None
        if exp.model.fit == "ridge":
            ridge = torch.tensor([points[p].model.ridge for p, _, _, _ in ordered[rows]],
                                 dtype=f64, device=device)
        phi = take(phi_train, own)[..., :width]
        theta = solve(phi, take(gram, own), y_train[rows], ridge)
        pred = phi @ theta
        metrics["train_loss"][rows] = mse(pred, y_train[rows])
        if classify:
            for name, value in train_errors(pred, y_train[rows], flipped[rows]).items():
                metrics[name][rows] = value.cpu()
        else:
            metrics["f_error_train"][rows] = mse(pred, f_train[rows])
        coef[own, :width, q_of[rows]] = theta
    coef = coef.view(len(owners), widest, -1)

    def predict(phi: Tensor) -> Tensor:
        """Predictions (cells, rows, K) of every cell from its owner's features."""
        out = (phi @ coef).view(len(owners), phi.shape[-2], len(columns), outputs)
        return out[owner_of, :, q_of]

    pred_test = predict(phi_test)
    metrics["test_loss"] = mse(pred_test, y_test)
    if classify:
        metrics["test_error"] = zero_one_error(pred_test, y_test).cpu()
    slab = max(1, _FEATURE_ELEMENTS // (len(owners) * max(widest, len(columns))))
    for block, start, stop in stats.slabs(slab):
        stats.add(predict(features(x_pop[start:stop]))[..., 0], f_pop_cell[:, start:stop], start,
                  block)
    if x_pop.shape[0]:
        metrics["f_error"], metrics["f_error_se"] = stats.f_error.cpu(), stats.f_error_se.cpu()
    inverse = torch.from_numpy(np.argsort(order))
    out = {m: v[inverse].numpy()[None] for m, v in metrics.items()}
    if records_predictions(exp):
        out["pred_mean"] = stats.mean.cpu().numpy()[None]
        out["pred_var_init"] = stats.var_init.cpu().numpy()[None]
        out["f_population"] = f_pop.cpu().numpy()
    return out
