"""Block-anisotropic inputs of the linear target (``data.blocks``)."""

import re

import numpy as np
import pytest
import torch

from ddlab.config import load_experiment
from ddlab.sim import make_data
from ddlab.sim._data import target_function

BLOCKS = [{"dim": 30, "scale": 1.0, "signal": 0.25}, {"dim": 10, "scale": 0.1, "signal": 90.0}]


def _exp(**data):
    return load_experiment({
        "data": {"target": "linear", "input": "normal", "blocks": BLOCKS, **data},
        "model": {"family": "linear", "fit": "gd", "width": [40]},
        "train": {"optimizer": "sgd", "dtype": "float64"}})


def test_totals_and_round_trip():
    exp = _exp()
    assert (exp.data.dim, exp.data.signal) == (40, 90.25)
    assert load_experiment(exp.to_dict()) == exp
    assert exp.to_dict()["data"]["blocks"] == BLOCKS


def test_beta_norm_per_block_and_input_scales():
    exp = _exp(n_train=4000, n_population=0)
    for seed in range(3):
        beta = target_function(exp.data, 0, seed)(torch.eye(40, dtype=torch.float64)).numpy()
        np.testing.assert_allclose([(beta[:30] ** 2).sum(), (beta[30:] ** 2).sum()],
                                   [0.25, 90.0], rtol=1e-12)
    x = make_data(exp, 0).x_train.numpy()
    sd = x.std(0)
    # 4000 draws: the sample sd is within 4 standard errors (sd / sqrt(2 n)) of the scale
    np.testing.assert_allclose(sd[:30], 1.0, atol=4 / np.sqrt(8000))
    np.testing.assert_allclose(sd[30:], 0.1, atol=0.4 / np.sqrt(8000))


def test_population_inputs_scaled():
    sd = make_data(_exp(n_population=4096), 0).x_pop.numpy().std(0)
    np.testing.assert_allclose(sd[:30], 1.0, rtol=0.01)
    np.testing.assert_allclose(sd[30:], 0.1, rtol=0.01)


@pytest.mark.parametrize(("data", "message"), [
    ({"dim": 12}, "data.dim = 12: must equal the total over data.blocks (40)"),
    ({"signal": 1.0}, "data.signal = 1.0: must equal the total"),
    ({"input": "uniform"}, "data.input = 'uniform': data.blocks needs"),
    ({"blocks": [{"dim": 3, "scale": 0.0, "signal": 1.0}]}, "data.blocks[0].scale = 0.0"),
    ({"blocks": [{"dim": 3, "scale": 1.0}]}, "data.blocks[0] = "),
    ({"blocks": 3}, "data.blocks = 3: expected a list"),
])
def test_bad_blocks(data, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        _exp(**data)


def test_bad_blocks_target():
    with pytest.raises(ValueError, match=r"^data\.target = 'teacher': data\.blocks needs"):
        load_experiment({"data": {"target": "teacher", "input": "normal", "blocks": BLOCKS}})
