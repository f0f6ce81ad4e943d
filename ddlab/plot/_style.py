"""House style: rcParams applied through a context manager, figures, deterministic files.

Every drawing function of :mod:`ddlab.plot` runs inside :func:`style`
(``matplotlib.rc_context``), so the global rcParams are never changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib as mpl
from cycler import cycler
from matplotlib.figure import Figure

__all__ = ["CMAP", "COLORS", "DIVERGED", "DPI", "MISSING", "RC", "new_figure", "save", "style",
           "written_by_ddlab"]

#: Line colours: the Okabe & Ito (2008) colour-blind-safe palette, yellow last.
COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
          "#F0E442")
#: Colour map of heatmaps: perceptually uniform and colour-blind safe.
CMAP = "viridis"
#: Colour of missing cells (NaN: not yet computed), outside the colour map.
MISSING = "#d0d0d0"
#: Colour of diverged cells (a non-finite value that is not NaN), outside the colour map.
DIVERGED = "#CC79A7"
#: Resolution of saved raster files, in dots per inch.
DPI = 150

#: rcParams of the house style.
RC: dict[str, object] = {
    "figure.constrained_layout.use": True,
    "figure.figsize": (5.0, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "savefig.format": "png",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "svg.hashsalt": "ddlab",
    "pdf.compression": 6,
    "image.cmap": CMAP,
    "axes.prop_cycle": cycler(color=list(COLORS)),
    "font.size": 8.5,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "pcolor.shading": "flat",
}

#: Metadata that would differ between runs or versions, removed from saved files.
_METADATA = {
    "png": {"Software": "ddlab"},
    "pdf": {"Creator": "ddlab", "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": "ddlab", "Date": None},
}
#: what each format's metadata holds of :data:`_METADATA`'s mark, as bytes in the file
_MARKS = {"png": b"Software\x00ddlab", "pdf": b"/Creator (ddlab)", "svg": b"<dc:title>ddlab<"}


def written_by_ddlab(path: Path) -> bool:
    """Whether the figure file ``path`` bears the mark :func:`save` writes."""
    mark = _MARKS.get(path.suffix.lower().lstrip("."))
    try:
        return mark is not None and mark in path.read_bytes()
    except OSError:
        return False


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Apply the house style (:data:`RC`) inside a ``with`` block.

    Examples
    --------
    >>> with style():
    ...     fig = new_figure()
    """
    with mpl.rc_context(RC):
        yield


def new_figure(figsize: tuple[float, float] | None = None) -> Figure:
    """A new pyplot figure with constrained layout (so notebooks show it).

    Parameters
    ----------
    figsize : (float, float), optional
        Width and height in inches (default: the house style's).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    with style():
        return plt.figure(figsize=figsize, layout="constrained")


def _paths(path: str | Path, formats: Sequence[str]) -> list[tuple[Path, str]]:
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in _METADATA:
        return [(path, suffix)]
    if isinstance(formats, str):
        formats = (formats,)
    out = []
    for fmt in formats:
        fmt = fmt.lower().lstrip(".")
        if fmt not in _METADATA:
            raise ValueError(f"formats = {tuple(formats)!r}: {fmt!r} is not one of "
                             f"{', '.join(_METADATA)}")
        out.append((path.with_name(f"{path.name}.{fmt}"), fmt))
    if not out:
        raise ValueError(f"formats = {tuple(formats)!r}: give at least one format")
    return out


def save(fig: Figure, path: str | Path,
         formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` deterministically: the same figure gives byte-identical files.

    Files are written in the house style at :data:`DPI` dots per inch, with
    TrueType (Type 42) fonts in PDF, a fixed SVG hash salt, and without the
    metadata that changes between runs or matplotlib versions (creation date,
    software). The layout is computed once, for the PDF when there is one, and
    reused for the other formats.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        A file name ending in ``.png``, ``.pdf`` or ``.svg`` writes that one
        file (``formats`` is then ignored); any other path is a stem, written
        once per format as ``<path>.<format>``. Parent directories are created.
    formats : sequence of str
        Formats for a stem: ``"png"``, ``"pdf"``, ``"svg"``.

    Returns
    -------
    list of Path
        The files written.
    """
    paths = _paths(path, formats)
    engine = fig.get_layout_engine()
    try:
        # PDF first: its layout is the cheaper one to reuse for PNG (measured)
        for target, fmt in sorted(paths, key=lambda p: p[1] != "pdf"):
            target.parent.mkdir(parents=True, exist_ok=True)
            with style():
                fig.savefig(target, format=fmt, dpi=DPI, metadata=_METADATA[fmt])
            if engine is not None:  # later formats reuse the layout (it is in inches)
                fig.set_layout_engine("none")
    finally:
        fig.set_layout_engine(engine)
    return [target for target, _ in paths]
