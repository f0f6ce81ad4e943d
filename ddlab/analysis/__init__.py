"""Analysis of results: risks, gaps, decompositions, bias-variance, summaries, tables.

numpy kernels (:mod:`._kernels`) with thin xarray wrappers; no torch. Every
function works on in-memory results and on stores opened with
:func:`ddlab.open_results` (lazy numpy or dask). Best-in-class fits train
networks, so they live in the simulation tier: :func:`ddlab.best_in_class`.
"""

from ._bias_variance import bias_variance
from ._common import noise_variance
from ._kernels import (
    bias_variance_terms,
    bias_variance_unbiased,
    first_below,
    peak_after_first_minimum,
    significant_peak,
)
from ._risk import decompose, generalization_gap, risks
from ._summary import summarize
from ._table import differing_keys, table

__all__ = [
    "bias_variance",
    "bias_variance_terms",
    "bias_variance_unbiased",
    "decompose",
    "differing_keys",
    "first_below",
    "generalization_gap",
    "noise_variance",
    "peak_after_first_minimum",
    "risks",
    "significant_peak",
    "summarize",
    "table",
]


def __getattr__(name: str):
    if name == "best_in_class":
        raise AttributeError("ddlab.analysis.best_in_class moved to ddlab.best_in_class "
                             "(it trains networks, so it lives in ddlab.sim)")
    raise AttributeError(f"module 'ddlab.analysis' has no attribute {name!r}")
