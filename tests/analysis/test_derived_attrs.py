"""Analysis outputs keep a result's provenance but not its identity as a store."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import ddlab
from ddlab.cli import main


def _outputs(ds: xr.Dataset) -> dict[str, xr.Dataset]:
    best = xr.Dataset({"approx_error": ("width", np.zeros(ds.sizes["width"]))},
                      coords={"width": ds["width"].values})
    return {"risks": ddlab.risks(ds), "generalization_gap": ddlab.generalization_gap(ds),
            "bias_variance": ddlab.bias_variance(ds), "decompose": ddlab.decompose(ds, best)}


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")  # zarr format 3
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_analysis_outputs_written_to_zarr_are_not_result_stores(tmp_path, stored, capsys,
                                                                zarr_format):
    ds = ddlab.open_results(stored)
    for name, out in _outputs(ds).items():
        path = tmp_path / f"{name}.zarr"
        out.to_zarr(path, zarr_format=zarr_format)  # the store's v2 codecs are not carried
        xr.testing.assert_identical(xr.open_zarr(path).compute(), out.compute())
        with pytest.raises(ValueError, match=r"^path = '.*': not a ddlab result store$"):
            ddlab.open_results(path)
        assert main(["info", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"ddlab: error: path = '{path}': not a ddlab result store"


def test_analysis_outputs_keep_provenance(stored):
    ds = ddlab.open_results(stored)
    for name, out in _outputs(ds).items():
        assert out.attrs["experiment"] == ds.attrs["experiment"]
        assert out.attrs["source"] == ds.attrs["source"]
        history = out.attrs["history"].splitlines()
        assert history[:-1] == ds.attrs["history"].splitlines()
        assert f"ddlab.{name}(ds)" in history[-1]
        assert ddlab.results.experiment_of(out) == ddlab.results.experiment_of(ds)
