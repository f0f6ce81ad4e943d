"""Figures of results: heatmaps, curves with seed bands, decompositions, sweeps.

matplotlib, numpy and xarray only (no torch): every function draws on the
given axes or figure (``ax=None``/``fig=None``: a new pyplot figure), in the
house style (:func:`style`, applied with ``matplotlib.rc_context``, never
globally), labels axes and colour bars from the variables' and coordinates'
``long_name`` and ``units``, and returns what it drew. :func:`save` writes
byte-identical PNG, PDF and SVG files for identical figures.

Examples
--------
>>> import ddlab
>>> ds = ddlab.open_results("result.zarr")              # doctest: +SKIP
>>> fig = ddlab.plot.seed_figure(ds).fig                # doctest: +SKIP
>>> ddlab.plot.save(fig, "figures/seed")                # doctest: +SKIP
"""

from ._common import edges, is_log_spaced
from ._curves import Curves, bias_variance, curves, decomposition
from ._grid import Grid, SeedFigure, seed_figure, sweep_grid
from ._heatmap import Heatmap, heatmap
from ._style import (
    CMAP,
    COLORS,
    DIVERGED,
    DPI,
    MISSING,
    new_figure,
    save,
    style,
    written_by_ddlab,
)

__all__ = [
    "CMAP",
    "COLORS",
    "DIVERGED",
    "DPI",
    "MISSING",
    "Curves",
    "Grid",
    "Heatmap",
    "SeedFigure",
    "bias_variance",
    "curves",
    "decomposition",
    "edges",
    "heatmap",
    "is_log_spaced",
    "new_figure",
    "save",
    "seed_figure",
    "style",
    "sweep_grid",
    "written_by_ddlab",
]
