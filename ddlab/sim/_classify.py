"""0-1 errors, the memorization split and the bias-variance terms of classification runs,
batched over cells."""

from __future__ import annotations

import torch

__all__ = ["ensemble_terms", "train_errors", "zero_one_error"]

Tensor = torch.Tensor


def _hits(pred: Tensor, target: Tensor) -> Tensor:
    """(cells, rows) booleans: the predicted class (argmax of the outputs) is the target's."""
    return pred.argmax(dim=-1) == target.argmax(dim=-1)


def train_errors(pred: Tensor, y_train: Tensor, flipped: Tensor) -> dict[str, Tensor]:
    """The training-set classification metrics of each cell.

    Parameters
    ----------
    pred : Tensor (cells, rows, classes)
        Outputs on the training inputs.
    y_train : Tensor (cells, rows, classes)
        One-hot labels as trained on (flipped ones included).
    flipped : Tensor (cells, rows)
        Which labels the label noise replaced.

    Returns
    -------
    dict of str to Tensor (cells,)
        ``train_error`` (0-1 error against the labels trained on),
        ``train_error_clean`` (0-1 error on the points not flipped, whose
        label is the clean one) and ``memorized_fraction`` (fraction of the
        flipped points predicted as their flipped label; NaN without any).
    """
    hit = _hits(pred, y_train)
    miss, kept = (~hit).double(), (~flipped).double()
    return {"train_error": miss.sum(dim=1) / miss.shape[1],
            "train_error_clean": (miss * kept).sum(dim=1) / kept.sum(dim=1),
            "memorized_fraction": (hit & flipped).double().sum(dim=1) / flipped.sum(dim=1)}


def zero_one_error(pred: Tensor, y_test: Tensor) -> Tensor:
    """(cells,) 0-1 test error of outputs ``pred`` against one-hot labels ``y_test``."""
    return (~_hits(pred, y_test)).double().mean(dim=1)


def ensemble_terms(pred: Tensor, y: Tensor, inits: int) -> dict[str, Tensor]:
    """Bias-variance terms of the cross-entropy over init seeds, per group of cells.

    With log p_i the log-softmax of init seed i's outputs and m = mean_i log p_i,
    the main model is p̄ = softmax(m), the normalized geometric mean of the p_i.
    As sum_j p̄_j = 1 and log p̄ = m - logsumexp(m), the mean over seeds of
    KL(p̄ ‖ p_i) is -logsumexp(m) at each point, and for one-hot y the mean over
    seeds of CE(y, p_i) is exactly CE(y, p̄) - logsumexp(m): bias + variance
    (Pfau 2013; Yang et al. 2020). One group's seeds are summed one at a time, so
    the working memory is O(groups x classes x rows).

    Parameters
    ----------
    pred : Tensor (cells k, rows)
        Outputs; row c k + j is output j of cell c. Cells come in consecutive
        groups of ``inits``, the init seeds of one (point, width).
    y : Tensor (k, rows) or (cells, k, rows)
        One-hot labels, shared or per cell (equal within a group).
    inits : int
        Init seeds per group.

    Returns
    -------
    dict of str to Tensor (groups,)
        ``test_ce_bias``: mean over rows of CE(y, p̄); ``test_ce_variance``: mean
        over seeds and rows of KL(p̄ ‖ p_i); ``test_error_variance``: mean over
        seeds and rows of 1[argmax p_i != argmax p̄].
    """
    k, rows = y.shape[-2:]
    z = pred.view(-1, inits, k, rows)
    labels = y if y.dim() == 2 else y[::inits]
    m = torch.zeros_like(z[:, 0])
    for i in range(inits):
        m.add_(torch.log_softmax(z[:, i], dim=1))
    m.div_(inits)
    lse = torch.logsumexp(m, dim=1)  # (groups, rows)
    log_mean = m.sub_(lse.unsqueeze(1))  # log p̄
    bias = -(log_mean * labels).sum(dim=1).mean(dim=1)
    main = log_mean.argmax(dim=1)
    misses = torch.zeros_like(lse)
    for i in range(inits):
        misses.add_(z[:, i].argmax(dim=1) != main)
    return {"test_ce_bias": bias, "test_ce_variance": -lse.mean(dim=1),
            "test_error_variance": misses.mean(dim=1) / inits}
