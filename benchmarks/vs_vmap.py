"""ddlab against PyTorch's model-ensembling recipe (one ``torch.func.vmap`` ensemble per width).

::

    python benchmarks/vs_vmap.py            # every workload, a few minutes
    python benchmarks/vs_vmap.py --quick    # seconds (a smoke test, not a timing)
    python benchmarks/vs_vmap.py --only lecture-shipped lecture-no-pop

The ensemble is written the way the PyTorch tutorial does it:
``stack_module_state`` + ``functional_call`` under ``vmap``, ``torch.optim.Adam``
on the stacked tensors, one ensemble per width; it computes the metrics ddlab
records (train and test loss and the error in f on the training inputs at
every recorded epoch; with a population sample also ``f_error``, its
standard error from the replicate blocks, and the init mean and variance of
the predictions at every population point), and with minibatches every model
draws its own shuffle (``minibatch-32-shared``: one shuffle per epoch shared
by all models, ddlab's ``train.shuffle = "data"``, both sides). Both run in
this process with one torch thread, interleaved, and the printed time is the
median of ``--repeats`` runs.

Workloads: the lecture grid as shipped (``experiments/seed_high_noise.toml``)
and without population metrics; 20 log-spaced widths 1-64 x 100 seeds x 1,000
epochs; widths 16-1,024 (powers of two) x 20 seeds x 200 epochs at n_train =
100, dim 10; minibatches of 128, 32 and 8 at n_train = 512 (20 log-spaced
widths 1-64 x 20 seeds, 20 epochs), and batch 32 with the shared shuffle.
"""

from __future__ import annotations

import argparse
import copy

import torch
from _common import interleaved, lecture_variant, machine
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

import ddlab
from ddlab.sim._data import population_blocks

NO_POP = {"data": {"n_population": 0}}
MINIBATCH = {"data": {"n_train": 512, "n_test": 100, "n_population": 0},
             "model": {"width": {"start": 1, "stop": 64, "num": 20, "log": True}},
             "train": {"epochs": 20}, "seeds": {"init": 20}}
#: name -> (changes to the lecture grid, changes for --quick)
WORKLOADS = {
    "lecture-shipped": ({}, {"train": {"epochs": 3}, "seeds": {"init": 5}}),
    "lecture-no-pop": (NO_POP, {"train": {"epochs": 3}, "seeds": {"init": 5}}),
    "widths-1-64": ({**NO_POP, "model": {"width": {"start": 1, "stop": 64, "num": 20,
                                                    "log": True}},
                     "train": {"epochs": 1000}},
                    {"model": {"width": [1, 8, 64]}, "train": {"epochs": 3},
                     "seeds": {"init": 5}}),
    "widths-16-1024": ({"data": {"n_train": 100, "n_test": 100, "dim": 10, "n_population": 0},
                        "model": {"width": [16, 32, 64, 128, 256, 512, 1024]},
                        "train": {"epochs": 200}, "seeds": {"init": 20}},
                       {"model": {"width": [16, 64]}, "train": {"epochs": 2},
                        "seeds": {"init": 3}}),
    **{f"minibatch-{b}": ({**MINIBATCH, "train": {**MINIBATCH["train"], "batch_size": b}},
                          {"model": {"width": [1, 16]}, "train": {"epochs": 1},
                           "seeds": {"init": 3}})
       for b in (128, 32, 8)},
    "minibatch-32-shared": ({**MINIBATCH, "train": {**MINIBATCH["train"], "batch_size": 32,
                                                    "shuffle": "data"}},
                            {"model": {"width": [1, 16]}, "train": {"epochs": 1},
                             "seeds": {"init": 3}}),
}


def vmap_ensemble(exp: ddlab.Experiment) -> dict[str, list[torch.Tensor]]:
    """Train the experiment's grid (data seed 0) as one vmap ensemble per width.

    Returns, per metric, one (recorded epochs, ...) tensor per width.
    """
    s = ddlab.make_data(exp, 0)
    x, y, xt, yt, ft, xp, fp = (s.x_train, s.y_train, s.x_test, s.y_test, s.f_train, s.x_pop,
                                s.f_pop)
    n, sims, epochs = len(x), exp.seeds.init, exp.train.epochs
    bs = exp.train.batch_size
    full = bs is None or bs >= n
    recorded = set(exp.epochs)
    blocks = population_blocks(len(xp))
    edges = torch.tensor(blocks).cumsum(0)[:-1].tolist()
    out: dict[str, list[torch.Tensor]] = {}
    for width in exp.model.width:
        torch.manual_seed(width)
        models = [nn.Sequential(nn.Linear(exp.data.dim, width), nn.ReLU(), nn.Linear(width, 1))
                  for _ in range(sims)]
        params, buffers = stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")

        def call(p, b, inputs, base=base):
            return functional_call(base, (p, b), (inputs,)).squeeze(-1)

        shared, own = vmap(call, in_dims=(0, 0, None)), vmap(call, in_dims=(0, 0, 0))
        opt = torch.optim.Adam(list(params.values()), lr=exp.train.lr)
        gens = [torch.Generator().manual_seed(sims * width + k) for k in range(sims)]
        rec: dict[str, list[torch.Tensor]] = {}
        for epoch in range(epochs + 1):
            train = full and epoch < epochs
            if train or epoch in recorded:
                with torch.set_grad_enabled(train):
                    pred = shared(params, buffers, x)
            if epoch in recorded:
                with torch.no_grad():
                    p = pred.detach()
                    values = {"train_loss": ((p - y) ** 2).mean(1),
                              "test_loss": ((shared(params, buffers, xt) - yt) ** 2).mean(1),
                              "f_error_train": ((p - ft) ** 2).mean(1)}
                    if len(xp):
                        pp = shared(params, buffers, xp)
                        err = (pp - fp) ** 2
                        values["f_error"] = err.mean(1)
                        reps = torch.stack([e.mean(1) for e in err.tensor_split(edges, 1)], 1)
                        values["f_error_se"] = reps.std(1) / len(blocks) ** 0.5
                        if exp.train.record_bias_variance:
                            values["pred_mean"] = pp.mean(0)
                            values["pred_var_init"] = pp.var(0, correction=0).mean()
                for k, v in values.items():
                    rec.setdefault(k, []).append(v)
            if epoch == epochs:
                break
            if full:
                opt.zero_grad()
                ((pred - y) ** 2).mean(1).sum().backward()
                opt.step()
                continue
            one = exp.train.shuffle == "data"  # one order: every model the same rows
            perm = (torch.randperm(n, generator=gens[0]) if one else
                    torch.stack([torch.randperm(n, generator=g) for g in gens]))
            forward = shared if one else own
            for start in range(0, n, bs):
                idx = perm[..., start:start + bs]
                opt.zero_grad()
                ((forward(params, buffers, x[idx]) - y[idx]) ** 2).mean(1).sum().backward()
                opt.step()
        for k, v in rec.items():
            out.setdefault(k, []).append(torch.stack(v))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny workloads, for a smoke test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=list(WORKLOADS), default=list(WORKLOADS))
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    print(machine())
    print(f"{'workload':>20} {'ddlab':>9} {'vmap':>9} {'ratio':>7}")
    for name in args.only:
        exp = lecture_variant(*WORKLOADS[name], args.quick)
        t = interleaved({"ddlab": lambda exp=exp: ddlab.run(exp, device="cpu", progress=False),
                         "vmap": lambda exp=exp: vmap_ensemble(exp)}, repeats,
                        warm=exp.train.epochs <= 50)
        print(f"{name:>20} {t['ddlab']:8.3f}s {t['vmap']:8.3f}s {t['vmap'] / t['ddlab']:6.1f}x")


if __name__ == "__main__":
    main()
