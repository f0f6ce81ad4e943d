"""Exact and asymptotic risk curves to compare simulations against (numpy/scipy only).

Every function returns the **excess risk** E(f̂ - f)² (the test MSE minus
sigma²) with its bias and variance parts, as a :class:`Risk`.
"""

from ._dof import ridge_dof, ridge_dof_mp
from ._gd import gd_risk, gd_risk_mp
from ._linear import (
    gd_linear_path,
    linear_excess_risk,
    min_norm_risk,
    optimal_ridge_lambda,
    ridge_risk,
    weak_features_risk,
)
from ._random_features import random_features_risk
from ._risk import Risk

__all__ = [
    "Risk",
    "gd_linear_path",
    "gd_risk",
    "gd_risk_mp",
    "linear_excess_risk",
    "min_norm_risk",
    "optimal_ridge_lambda",
    "random_features_risk",
    "ridge_dof",
    "ridge_dof_mp",
    "ridge_risk",
    "weak_features_risk",
]
