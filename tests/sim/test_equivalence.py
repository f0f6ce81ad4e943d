"""The batched engine reproduces a plain one-model torch.optim loop, cell by cell."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import CLASS_METRICS, assert_close64, cell_curves, plain_curves, torch_optimizer

import ddlab
from ddlab.sim import _engine

BASE = {
    "data": {"target": "exp_diff", "dim": 3, "n_train": 12, "n_test": 9,
             "n_population": 50, "noise": 0.5},
    "model": {"width": [1, 3, 4, 7]},
    "train": {"epochs": 12, "dtype": "float64"},
    "seeds": {"root": 11, "data": 2, "init": 3},
}

CASES = [
    ("adam", {}, 1, "relu", "full"),
    ("adam", {"weight_decay": 0.01}, 2, "tanh", 5),
    ("adamw", {"weight_decay": 0.1}, 1, "elu", "full"),
    ("adamw", {"betas": [0.8, 0.99]}, 2, "softplus", 4),
    ("sgd", {"lr": 0.1}, 1, "sigmoid", "full"),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, 2, "relu", 5),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01}, 1, "softsign", 3),
    ("rmsprop", {"lr": 0.003}, 2, "identity", "full"),
    ("rmsprop", {"lr": 0.003, "momentum": 0.3, "weight_decay": 0.001}, 1, "tanh", 5),
    ("adam", {"loss": "l1"}, 1, "relu", 4),
    ("adam", {"shuffle": "data"}, 2, "relu", 5),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "shuffle": "data"}, 1, "tanh", 4),
]


@pytest.mark.parametrize("optimizer,extra,depth,activation,batch", CASES)
def test_run_matches_plain_torch_loop(optimizer, extra, depth, activation, batch):
    train = {**BASE["train"], "optimizer": optimizer, "batch_size": batch, **extra}
    exp = ddlab.load_experiment({**BASE, "train": train,
                                 "model": {**BASE["model"], "depth": depth,
                                           "activation": activation}})
    ds = ddlab.run(exp, device="cpu", progress=False, chunk_units=9)
    rng = np.random.default_rng(len(optimizer) + depth)
    for width, d, i in [(1, 0, 0), (7, 1, 2), (int(rng.choice([3, 4])), int(rng.integers(2)),
                                                int(rng.integers(3)))]:
        ref = plain_curves(exp, width, d, i)
        got = cell_curves(ds, width, d, i)
        for name, curve in ref.items():
            assert_close64(got[name], curve, f"{name} width={width} d={d} i={i}")
    # training actually moved the parameters
    assert not np.allclose(ds.train_loss.isel(epoch=0), ds.train_loss.isel(epoch=-1))


def test_float32_matches_plain_loop_at_short_horizon():
    exp = ddlab.load_experiment({**BASE, "train": {"epochs": 10}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    ref = plain_curves(exp, 4, 1, 2)
    got = cell_curves(ds, 4, 1, 2)
    for name, curve in ref.items():
        np.testing.assert_allclose(got[name], curve, rtol=1e-4, err_msg=name)


def test_minibatch_shuffling_over_many_epochs_matches_plain_loop():
    # more epochs than the engine draws shuffle keys for at a time
    exp = ddlab.load_experiment({**BASE, "model": {"width": [2, 5]},
                                 "train": {**BASE["train"], "epochs": 37, "batch_size": 5,
                                           "optimizer": "sgd", "lr": 0.05, "momentum": 0.9},
                                 "seeds": {"root": 3, "data": 1, "init": 2}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    for width, i in [(2, 1), (5, 0)]:
        ref = plain_curves(exp, width, 0, i)
        got = cell_curves(ds, width, 0, i)
        for name, curve in ref.items():
            assert_close64(got[name], curve, name)


@pytest.mark.parametrize("train", [
    {"optimizer": "adam"},
    {"optimizer": "adam", "weight_decay": 0.01, "betas": [0.8, 0.99]},
    {"optimizer": "adamw", "weight_decay": 0.1},
    {"optimizer": "sgd", "momentum": 0.9},
    {"optimizer": "sgd", "momentum": 0.5, "nesterov": True, "weight_decay": 0.01},
    {"optimizer": "rmsprop", "momentum": 0.3},
    {"optimizer": "rmsprop", "weight_decay": 0.001},
])
def test_optimizer_steps_match_torch_optim(train):
    """Twenty steps on fixed gradients spanning 1e-8 to 1: every update term shows.

    Gradients of 1e-8 make Adam's eps count as much as sqrt(v): adding it before
    the bias correction (denominator (sqrt(v) + eps) / sqrt(1 - beta2^t)) moves
    some parameters by 9% (the training curves by only 2e-8 to 2e-7). SGD
    momentum is torch's, without dampening: a buffer of momentum * m + (1 -
    momentum) g moves some parameters by 10%.
    """
    exp = ddlab.load_experiment({"train": {"lr": 0.01, **train}})
    rng = np.random.default_rng(5)
    start = torch.from_numpy(rng.standard_normal(60))
    grads = torch.from_numpy(rng.standard_normal((20, 60)) * np.logspace(-8, 0, 60))
    ref = torch.nn.Parameter(start.clone())
    opt = torch_optimizer(exp, [ref])
    params = start.clone()
    ours = _engine._Optimizer(exp.train, params, exp.train.lr, exp.train.weight_decay)
    for g in grads:
        ref.grad = g.clone()
        opt.step()
        ours.step(params, g.clone())
        assert_close64(params.numpy(), ref.detach().numpy())
    assert float((params - start).abs().min()) > 1e-10  # the smallest gradients moved too


def test_loss_gradients_match_autograd_at_exact_fits():
    """d loss / d prediction of mse and l1, as autograd gives it, where residuals are 0."""
    pred = torch.tensor([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -3.0, 0.25]], dtype=torch.float64)
    y = torch.tensor([[0.5, 1.0, 2.5, 0.0]], dtype=torch.float64)  # (k = 1, n): 3 exact fits
    for kind, loss in (("mse", torch.nn.MSELoss()), ("l1", torch.nn.L1Loss())):
        p = pred.clone().requires_grad_(True)
        sum(loss(row, y[0]) for row in p).backward()
        got = _engine.LOSSES[kind].grad(pred.clone(), y)
        torch.testing.assert_close(got, p.grad, rtol=0, atol=0)
        assert_close64(_engine.LOSSES[kind].record(pred, y),
                       ((pred - y) ** 2).mean(dim=1), kind)  # both record the MSE
    assert _engine.LOSSES["l1"].grad(pred.clone(), y)[0, 0] == 0  # sign(0) = 0


@pytest.mark.parametrize("kind", ["cross_entropy", "mse", "l1"])
def test_multi_output_losses_match_torch(kind):
    """Outputs (cells k, n) against one-hot targets (k, n) and (cells, k, n), as torch's losses."""
    gen = torch.Generator().manual_seed(5)
    cells, k, n = 3, 4, 6
    logits = torch.randn(cells, n, k, generator=gen, dtype=torch.float64) * 3
    labels = torch.randint(k, (cells, n), generator=gen)
    onehot = torch.nn.functional.one_hot(labels, k).double()  # (cells, n, k)
    torch_loss = {"cross_entropy": torch.nn.CrossEntropyLoss(), "mse": torch.nn.MSELoss(),
                  "l1": torch.nn.L1Loss()}[kind]
    for shared in (True, False):
        target = onehot[:1].expand(cells, -1, -1) if shared else onehot
        p = logits.clone().requires_grad_(True)
        per_cell = torch.stack([torch_loss(p[c], target[c].argmax(dim=1) if kind ==
                                           "cross_entropy" else target[c]) for c in range(cells)])
        per_cell.sum().backward()
        pred = logits.transpose(1, 2).reshape(cells * k, n)  # row c k + j: output j of cell c
        y = target[0].t() if shared else target.transpose(1, 2)
        loss = _engine.LOSSES[kind]
        grad = loss.grad(pred.clone(), y).view(cells, k, n).transpose(1, 2)
        assert_close64(grad, p.grad, f"{kind} gradient shared={shared}")
        if kind != "l1":
            assert_close64(loss.record(pred, y), per_cell.detach(), f"{kind} record")


#: classification cells: (target and its settings, model, train); every one trains on labels
#: with 20-30 % flipped, so the memorization split is exercised
CLASSIFICATION = [
    ({"target": "teacher_classes", "dim": 5, "classes": 3, "label_noise": 0.3},
     {"depth": 1, "activation": "relu"},
     {"loss": "cross_entropy", "optimizer": "sgd", "lr": 0.5, "momentum": 0.9,
      "batch_size": 7}),
    ({"target": "teacher_classes", "dim": 4, "classes": 4, "label_noise": 0.2},
     {"depth": 2, "activation": "tanh"},
     {"loss": "cross_entropy", "optimizer": "adam", "lr": 0.01}),
    ({"target": "teacher_classes", "dim": 4, "classes": 3, "label_noise": 0.25},
     {"depth": 2, "activation": "relu"},
     {"loss": "mse", "optimizer": "sgd", "lr": 0.2, "batch_size": 6, "shuffle": "data"}),
    ({"target": "teacher_classes", "dim": 6, "classes": 5, "label_noise": 0.2},
     {"family": "random_features", "activation": "relu", "fit": "gd"},
     {"loss": "cross_entropy", "optimizer": "sgd", "lr": 0.5, "momentum": 0.5}),
    ({"target": "digits", "dim": 64, "classes": 10, "label_noise": 0.2},
     {"depth": 2, "activation": "relu"},
     {"loss": "cross_entropy", "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
      "batch_size": 8}),
    ({"target": "digits", "dim": 64, "classes": 10, "label_noise": 0.2},
     {"family": "random_features", "activation": "relu", "fit": "gd"},
     {"loss": "cross_entropy", "optimizer": "adam", "lr": 0.01, "batch_size": 10}),
    ({"target": "mnist1d", "dim": 40, "classes": 10, "label_noise": 0.15},
     {"depth": 1, "activation": "relu"},
     {"loss": "cross_entropy", "optimizer": "adam", "lr": 0.003}),
    ({"target": "mnist1d", "dim": 40, "classes": 10, "label_noise": 0.15},
     {"depth": 2, "activation": "relu"},
     {"loss": "cross_entropy", "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
      "batch_size": 10}),
]


@pytest.mark.parametrize("data,model,train", CLASSIFICATION,
                         ids=[f"{d['target']}-{m.get('family', 'mlp')}-{m.get('depth', 1)}-"
                              f"{t['loss']}-{t['optimizer']}" for d, m, t in CLASSIFICATION])
def test_classification_matches_plain_torch_loop(data, model, train):
    """Cross-entropy (and MSE on one-hot labels) of k-output networks, cell by cell."""
    if data["target"] in ("digits", "mnist1d"):
        pytest.importorskip("sklearn" if data["target"] == "digits" else "mnist1d")
    exp = ddlab.load_experiment({
        "data": {"n_train": 30, "n_test": 20, **data},
        "model": {"width": [2, 5, 8], **model},
        "train": {"epochs": 6, "dtype": "float64", **train},
        "seeds": {"root": 7, "data": 2, "init": 2}})
    ds = ddlab.run(exp, device="cpu", progress=False, chunk_units=9)
    assert "f_error" not in ds and "f_error_train" not in ds
    for width, d, i in [(2, 0, 1), (8, 1, 0), (5, 1, 1)]:
        ref = plain_curves(exp, width, d, i)
        got = cell_curves(ds, width, d, i)
        assert set(got) == set(ref) == {"train_loss", "test_loss", *CLASS_METRICS}
        for name, curve in ref.items():
            assert_close64(got[name], curve, f"{name} width={width} d={d} i={i}")
    assert not np.allclose(ds.train_loss.isel(epoch=0), ds.train_loss.isel(epoch=-1))
