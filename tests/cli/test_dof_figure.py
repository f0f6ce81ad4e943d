"""The effective-parameters figure of a random-features ridge grid (figure kind "dof")."""

from __future__ import annotations

import numpy as np

import ddlab
from ddlab.cli._figures import draw, effective_dof
from ddlab.cli._paperfile import Figure
from ddlab.sim import make_data, make_model
from ddlab.theory import ridge_dof


def test_effective_dof_is_ridge_dof_of_each_cells_features():
    exp = ddlab.load_experiment({
        "data": {"target": "linear", "input": "normal", "dim": 8, "n_train": 20, "n_test": 20,
                 "n_population": 600, "noise": 0.5},
        "model": {"family": "random_features", "fit": "ridge", "ridge": [0.01, 0.1],
                  "width": [5, 20, 60]},
        "train": {"record_bias_variance": False, "dtype": "float64"},
        "seeds": {"data": 2, "init": 1}})
    ds = ddlab.run(exp, device="cpu", progress=False)
    dof = effective_dof(exp, ds)
    inside = effective_dof(exp, ds, at_population=False)
    point = exp.point([0])
    data = make_data(point, 1)
    features = make_model(point, 20, 1, 0)[:-1]
    phi, at = (features(x).detach().numpy() for x in (data.x_train, data.x_pop[:500]))
    np.testing.assert_allclose(dof.sel(width=20, data_seed=1, init_seed=0).values,
                               ridge_dof(phi, [0.01, 0.1], at=at), rtol=1e-12)
    assert (inside <= 20 + 1e-9).all() and dof.attrs["units"] == "1"
    fig = draw(Figure("tiny", "dof", {}), ds, exp, quick=False)
    assert [str(line.get_label()) for line in fig.axes[0].lines] == [
        "λ = 0.01", "λ = 0.1", "n = 20"]
