"""Streams keyed by 64-bit seeds: no collisions, positionable shuffles, old stores refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import zarr

import ddlab
from ddlab.sim import cell_seed
from ddlab.sim._models import cell_uniforms, minibatch_order, shuffle_keys, shuffle_seeds
from ddlab.sim._seeding import cell_seeds, raw_words, uniforms


def test_cells_that_collided_under_32_bit_seeds_differ():
    # ddlab 0.3 seeded torch's mt19937 with the hash's top 63 bits, and mt19937 keeps the
    # low 32 of those: these two cells of the default experiment had identical parameters
    exp = ddlab.load_experiment({"seeds": {"data": 500, "init": 500}})
    a, b = (4, 267, 248), (4, 487, 207)
    seed_a, seed_b = (cell_seed(0, "init", *c) for c in (a, b))
    assert seed_a != seed_b and (seed_a >> 1) % 2**32 == (seed_b >> 1) % 2**32
    pa, pb = (torch.cat([p.detach().reshape(-1) for p in ddlab.make_model(exp, *c).parameters()])
              for c in (a, b))
    assert pa.shape == (exp.n_params(4),) and not torch.isclose(pa, pb).any()


def test_a_million_streams_have_distinct_seeds_and_first_words():
    # 10 widths x 1,000 data seeds x 100 init seeds of the init stream
    coords = np.stack(np.meshgrid(np.arange(1, 11), np.arange(1000), np.arange(100),
                                  indexing="ij"), axis=-1).reshape(-1, 3)
    seeds = cell_seeds(0, "init", coords)
    assert len(seeds) == 10**6 and len(set(seeds)) == 10**6
    first = raw_words(seeds, [1] * len(seeds))
    assert len(np.unique(first)) == 10**6
    # 64 bits per stream: well spread over [0, 2**64), not over 2**32 values
    s = np.array(seeds, dtype=np.uint64)
    assert len(np.unique(s >> np.uint64(32))) > 999_000
    assert 0.49 < float(np.mean(s >= np.uint64(2**63))) < 0.51


def test_streams_are_numpy_philox_keyed_by_the_seed():
    seed = cell_seed(0, "init", 1, 0, 0)
    assert seed == 7618043528063943318  # pinned: a change alters every stored result
    words = np.random.Philox(key=np.array([seed, 0], dtype=np.uint64)).random_raw(11)
    np.testing.assert_array_equal(raw_words([seed], [11]), words)
    np.testing.assert_array_equal(raw_words([seed, 5], [4, 2], start=7),
                                  np.concatenate([words[7:], raw_words([5], [9])[7:]]))
    u = uniforms([seed], [3]).numpy()
    np.testing.assert_array_equal(u, ((words[:3] >> np.uint64(11)) + 0.5) / 2.0**53)
    assert u.tolist() == [0.1437555104164721, 0.8122594218408614, 0.04306025659244789]
    np.testing.assert_array_equal(cell_uniforms(ddlab.load_experiment({}), 1, 0, 0),
                                  uniforms([seed], [8]))


@pytest.mark.parametrize("n", [7, 12])
def test_shuffle_keys_of_later_epochs_are_drawn_directly(n):
    exp = ddlab.load_experiment({"data": {"n_train": n}, "seeds": {"root": 3}})
    seeds = shuffle_seeds(exp, [(1, 0, 0), (4, 1, 2), (2, 1, 5)])
    full = shuffle_keys(seeds, 0, 40, n)
    assert full.shape == (3, 40, n) and len(full.unique()) == full.numel()
    for start, epochs in [(0, 3), (1, 1), (3, 5), (5, 16), (37, 3)]:
        torch.testing.assert_close(shuffle_keys(seeds, start, epochs, n),
                                   full[:, start:start + epochs], rtol=0, atol=0)
    # blocks of 16 epochs, as the engine draws them, make the cell's minibatch order
    blocks = torch.cat([shuffle_keys(seeds[1:2], e, min(16, 40 - e), n)[0]
                        for e in range(0, 40, 16)])
    order = minibatch_order(exp.replace(train={"epochs": 40}), 4, 1, 2)
    torch.testing.assert_close(blocks.argsort(dim=1), order, rtol=0, atol=0)


def test_shared_shuffle_streams_are_one_per_data_seed():
    exp = ddlab.load_experiment({"train": {"shuffle": "data"}, "seeds": {"root": 3}})
    assert shuffle_seeds(exp, [(1, 2, 0), (5, 2, 3), (1, 0, 1)]) == [
        cell_seed(3, "shuffle", 2), cell_seed(3, "shuffle", 0)]
    own = exp.replace(train={"shuffle": "cell"})
    assert shuffle_seeds(own, [(5, 2, 3)]) == [cell_seed(3, "shuffle", 5, 2, 3)]


def test_a_store_of_the_old_seeds_is_read_but_not_resumed(tmp_path):
    spec = {"model": {"width": [1, 2]}, "train": {"epochs": 3}, "seeds": {"init": 2},
            "data": {"n_population": 8}}
    out = tmp_path / "old.zarr"
    new = ddlab.run(spec, out=out, progress=False)
    group = zarr.open_group(out, mode="r+")
    assert group.attrs["ddlab_schema"] == 2
    group.attrs.update({"ddlab_schema": 1, "ddlab_version": "0.3.0"})
    zarr.consolidate_metadata(out, zarr_format=2)
    old = ddlab.open_results(out)  # read and analysed as before
    assert old.attrs["ddlab_schema"] == 1
    np.testing.assert_array_equal(old.test_loss, new.test_loss)
    assert ddlab.analysis.summarize(old).best_width.size
    with pytest.raises(ValueError) as err:
        ddlab.run(spec, out=out, progress=False)
    assert str(err.value) == (f"out = '{out}': written with the old 32-bit seeds by ddlab "
                              f"0.3.0, so it cannot be resumed; use --fresh (fresh=True) to "
                              f"recompute it")
    assert zarr.open_group(out, mode="r").attrs["ddlab_schema"] == 1  # left as it was
    again = ddlab.run(spec, out=out, progress=False, fresh=True)
    assert again.attrs["ddlab_schema"] == 2 and json.loads(again.attrs["experiment"])
    np.testing.assert_array_equal(again.test_loss, new.test_loss)
