"""0-1 errors and the memorization split of classification runs, batched over cells."""

from __future__ import annotations

import torch

__all__ = ["train_errors", "zero_one_error"]

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
