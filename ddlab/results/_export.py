"""One-file copies of a stored result: compressed netCDF4 (``ddlab[netcdf]``)."""

from __future__ import annotations

import os
from pathlib import Path

from ._files import private_dir
from ._provenance import STORE_MARK
from ._store import check_writable, open_results

__all__ = ["export_netcdf"]


def _written_by_ddlab(path: Path) -> bool:
    import netCDF4

    try:
        with netCDF4.Dataset(path) as nc:
            return STORE_MARK in nc.ncattrs()
    except OSError:
        return False


def export_netcdf(path: str | Path, out: str | Path, *, force: bool = False) -> Path:
    """Write a compressed netCDF4 copy of a stored result (completed cells only).

    Parameters
    ----------
    path : str or Path
        The zarr store; it is only read.
    out : str or Path
        The netCDF file to write. An existing file is replaced only if ddlab
        wrote it, or with ``force``; the new file appears whole or not at all
        (written in a private directory beside it, then renamed into place: a
        symlink at ``out`` is replaced, its target untouched).
    force : bool
        Replace ``out`` even if ddlab did not write it.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValueError
        If ``path`` is not a store, ``out`` lies inside it, is a directory, or
        is a file ddlab did not write (without ``force``), or netCDF4 is missing.
    """
    try:
        import netCDF4  # noqa: F401
    except ImportError:
        raise ValueError("export needs netCDF4: pip install 'ddlab[netcdf]'") from None
    store, out = Path(path), Path(out)
    ds = open_results(store)
    if out.resolve() == store.resolve() or store.resolve() in out.resolve().parents:
        raise ValueError(f"out = '{out}': inside the store '{store}'; choose a file outside it")
    if out.is_dir():
        raise ValueError(f"out = '{out}': is a directory; give a file name such as "
                         f"'{out / (store.stem + '.nc')}'")
    if out.exists() and not force and not _written_by_ddlab(out):
        raise ValueError(f"out = '{out}': exists and was not written by ddlab; "
                         f"use --force (force=True) to replace it")
    check_writable(out)
    encoding = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
    with private_dir(out) as tmp:  # no name another user could have planted a link at
        ds.load().to_netcdf(tmp / out.name, engine="netcdf4", encoding=encoding)
        os.replace(tmp / out.name, out)
    return out
