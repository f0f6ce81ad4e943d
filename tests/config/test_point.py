"""Experiment.point: a bad index is a ValueError naming it, not a raw TypeError."""

from __future__ import annotations

import re

import pytest

import ddlab


def test_point_of_an_unswept_experiment():
    exp = ddlab.load_experiment({"name": "flat"})
    assert exp.point(()) == exp
    for index in (0, [0]):
        message = f"index = {index!r}: experiment 'flat' sweeps no key; its one point is point(())"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            exp.point(index)


@pytest.mark.parametrize("index", [0, [0], (1, 3), (0.5, 1), "ab"])
def test_point_index_must_be_one_int_per_swept_key(index):
    exp = ddlab.load_experiment({"data": {"noise": [0.1, 0.2]}, "train": {"lr": [0.1, 0.2, 0.3]}})
    assert exp.point((1, 2)).data.noise == 0.2 and exp.point((1, 2)).train.lr == 0.3
    with pytest.raises(ValueError, match=r"^index = .*: expected a sequence of 2 ints, an "
                                         r"index into each swept key: noise \(2 values\), "
                                         r"lr \(3 values\)$"):
        exp.point(index)
