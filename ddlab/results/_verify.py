"""Is a path a whole ddlab store, a half-built one, or a damaged one: ``ddlab verify``.

A store is *whole* when its consolidated metadata (written last, once its
skeleton is complete) bears the ddlab mark; a zarr group of ddlab's that is
not whole was cut short while it was created (by an older ddlab: a new store
is built under another name and renamed into place whole). :func:`verify`
checks a whole store's arrays against its stored experiment and its files
against their checksums (:mod:`._integrity`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._integrity import FSYNC, VerifyReport, check, file_sums, touched_keys
from ._lock import StoreLock
from ._provenance import STORE_MARK, experiment_of
from ._schema import dim_sizes

__all__ = ["check_shapes", "half_built", "is_store", "open_verified", "verify"]


def _json(path: Path) -> Any:
    """The JSON document in the file ``path``; None if it is missing or not whole."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def is_store(path: Path) -> bool:
    """Whether ``path`` is a whole ddlab store: consolidated metadata that bears the mark.

    ddlab consolidates a store's metadata last, once its skeleton is written,
    so a store cut short while it was created is not one (:func:`half_built`).
    """
    meta = _json(path / ".zmetadata")
    try:
        return STORE_MARK in meta["metadata"][".zattrs"]
    except (KeyError, TypeError):
        return False


def half_built(path: Path) -> str | None:
    """Why ``path`` is a ddlab store cut short while it was created; None if it is not one.

    A zarr group counts as ddlab's when its attrs bear the mark, when it
    holds a ``completed`` array (every store has one; analysis outputs, which
    keep the experiment attr but not the mark, have none), or when it holds
    nothing yet (older ddlab wrote the attrs first, then the arrays, then the
    consolidated metadata, so a kill left any prefix of that).
    """
    if is_store(path) or not (path / ".zgroup").is_file():
        return None
    attrs = _json(path / ".zattrs")
    names = {f.name for f in path.iterdir() if not f.name.startswith(".")}
    marked = isinstance(attrs, dict) and STORE_MARK in attrs
    if not (marked or (path / "completed" / ".zarray").is_file() or not names):
        return None
    if isinstance(attrs, dict) and "experiment" in attrs and STORE_MARK not in attrs:
        return f"no {STORE_MARK} attr"
    if (path / ".zmetadata").exists():
        return "its .zmetadata is not whole"
    return "no .zmetadata: its creation was cut short"


def check_shapes(path: Path, ds: xr.Dataset) -> None:
    """Refuse, in one line, a store whose arrays disagree with its stored experiment."""
    want = dim_sizes(experiment_of(ds))
    wrong = [f"{d}: {want.get(d)} in the experiment, {n} in the arrays"
             for d, n in ds.sizes.items() if want.get(str(d)) != n]
    if wrong:
        raise ValueError(f"path = '{path}': its experiment attr disagrees with its arrays "
                         f"({'; '.join(wrong)}); it cannot be resumed or repaired: run it "
                         f"again with --fresh (fresh=True)")


def _reconsolidate(path: Path) -> bool:
    """Write the consolidated metadata of a store whose ``.zmetadata`` alone is damaged."""
    import zarr

    attrs = _json(path / ".zattrs")
    if not isinstance(attrs, dict) or STORE_MARK not in attrs or "experiment" not in attrs:
        return False
    zarr.consolidate_metadata(path, zarr_format=2)
    return is_store(path)


def open_verified(path: Path, repair: bool) -> tuple[xr.Dataset, VerifyReport]:
    """Open a whole store raw, its ``completed`` loaded, and check it (:func:`check`).

    On repair, the damaged cells' flags are written back cleared (durably).
    """
    ds = xr.open_zarr(path, chunks=None)
    check_shapes(path, ds)
    try:
        completed = np.array(ds["completed"].values)
    except Exception as err:  # any codec error: the flags are unreadable
        raise ValueError(f"path = '{path}': its completed flags cannot be read ({err}); run "
                         f"it again with --fresh (fresh=True)") from None
    report = check(path, ds, completed, repair)
    if report.repaired:
        import zarr

        zarr.open_array(path / "completed", mode="r+")[...] = completed
        dims = tuple(map(str, ds["completed"].dims))
        file_sums(path, touched_keys(path, "completed", dims, {}), sync=FSYNC)
    ds["completed"] = ds["completed"].copy(data=completed)
    return ds, report


def verify(path: str | Path, repair: bool = False) -> VerifyReport:
    """Check a result store against its checksums; with ``repair``, mark damage for recompute.

    Reads every zarr chunk file's bytes once (no decompression). A completed
    cell is damaged when a file it was written into no longer matches its
    checksum, or no checksum records it.

    Parameters
    ----------
    path : str or Path
        A ddlab store.
    repair : bool
        Clear the damaged cells' ``completed`` flags and remove the damaged
        files, so that the next ``ddlab run`` of the store recomputes those
        cells, bit-identical to the originals; rebuild damaged consolidated
        metadata (``.zmetadata``). Takes the store's lock.

    Returns
    -------
    VerifyReport
        Its ``str`` is one line naming the damaged cells and files.

    Raises
    ------
    ValueError
        If ``path`` is no ddlab store, its arrays disagree with its stored
        experiment, or the damage cannot be repaired (a store half built, its
        metadata or flags unreadable); or, with ``repair``, if another run
        holds its lock.
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"path = '{path}': no such result store")
    lock = StoreLock(path, False) if repair else None
    try:
        if not is_store(path) and not (repair and _reconsolidate(path)):
            why = half_built(path)
            raise ValueError(f"path = '{path}': not a ddlab result store" if why is None else
                             f"path = '{path}': not a whole ddlab store ({why}); "
                             + ("ddlab verify --repair rebuilds its metadata, or "
                                if why.startswith("its .zmetadata") and not repair else "")
                             + "run it again with --fresh (fresh=True) to replace it")
        ds, report = open_verified(path, repair)
        ds.close()
        return report
    finally:
        if lock is not None:
            lock.release()
