"""Checksums of what each run chunk wrote, so that a damaged store is noticed and repaired.

After a run chunk's arrays are written, and before its cells are flagged in
``completed``, ddlab makes them durable (``fsync`` of every zarr chunk file it
touched and of their directories) and appends one line to the store's
checksum log, ``completed/.ddlab_checksums.jsonl`` (inside an array, where
zarr lists nothing, so that consolidating the store's metadata never meets it):
the region it wrote (``[start, stop)`` per dim), the store's dim sizes, and
the size and CRC-32 of every zarr chunk file it touched (``null`` for one zarr
did not write: all fill value) and of the coordinate files. A zarr chunk
file may be shared by several run chunks: the last line that names it holds
its current content. Before a run chunk writes, an *intent* line names the
files it is about to rewrite: a file that differs from its last record but
has a later intent was being rewritten when the run stopped. zarr replaces a
chunk file whole (the old cells' values with the new ones), so the cells
already completed in it are intact; it is not damage, and the cells of the
interrupted chunk are not flagged completed, so the next run recomputes them.

:func:`check` compares the files with their last lines, reading only the
files' bytes (no decompression): a cell is *damaged* when it is flagged
completed and a file it was written into differs (deleted, truncated,
swapped, edited), or no line records it (a ``completed`` flag set by
hand). Repair clears the damaged cells' flags and removes the differing files,
so that the next run recomputes exactly those cells, bit-identical.
"""

from __future__ import annotations

import itertools
import json
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._files import NOFOLLOW

__all__ = ["LOG", "VerifyReport", "append_intent", "append_record", "check", "coordinate_keys",
           "file_sums", "touched_keys"]

#: the checksum log, relative to the store
LOG = "completed/.ddlab_checksums.jsonl"
#: make chunk files durable before their cells are flagged completed (off only to measure
#: what it costs)
FSYNC = True
#: damaged cells named in a report before "and N more"
_NAMED = 5


def _array_meta(root: Path, name: str) -> dict[str, Any]:
    return json.loads((root / name / ".zarray").read_bytes())


def touched_keys(root: Path, name: str, dims: tuple[str, ...],
                 region: Mapping[str, tuple[int, int]]) -> list[str]:
    """The zarr chunk files (``name/i.j.k``) that writing ``region`` of ``name`` touches.

    Parameters
    ----------
    root : Path
        The store.
    name : str
        A variable of the store.
    dims : tuple of str
        Its dims.
    region : mapping
        ``dim -> (start, stop)`` of the dims written (others: whole).
    """
    meta = _array_meta(root, name)
    sep = meta.get("dimension_separator") or "."
    ranges = []
    for dim, size, chunk in zip(dims, meta["shape"], meta["chunks"], strict=True):
        start, stop = region.get(dim, (0, size))
        ranges.append(range(start // chunk, (stop - 1) // chunk + 1))
    if not dims:
        return [f"{name}/0"]
    return [f"{name}/" + sep.join(map(str, index)) for index in itertools.product(*ranges)]


def coordinate_keys(root: Path, ds: xr.Dataset) -> list[str]:
    """The zarr chunk files of the store's coordinates."""
    return [f"{name}/{key.name}" for name in sorted(map(str, ds.coords))
            for key in sorted((root / name).iterdir()) if not key.name.startswith(".")]


def file_sums(root: Path, keys: Iterable[str], sync: bool = False) -> dict[str, list[int] | None]:
    """``[size, crc32]`` of each file ``root/key`` (None where there is none).

    With ``sync``, each file and then each of their directories is fsync'ed
    first (when :data:`FSYNC`).
    """
    sums: dict[str, list[int] | None] = {}
    for key in keys:
        try:
            fd = os.open(root / key, os.O_RDONLY | NOFOLLOW)
        except FileNotFoundError:
            sums[key] = None
            continue
        try:
            if sync and FSYNC:
                os.fsync(fd)
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read()
        finally:
            os.close(fd)
        sums[key] = [len(data), zlib.crc32(data)]
    if sync and FSYNC:
        for folder in {(root / key).parent for key in sums} | {root}:
            _fsync_dir(folder)
    return sums


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_intent(root: Path, sizes: Mapping[str, int], keys: Iterable[str]) -> None:
    """Append (durably) the line naming the files a run chunk is about to rewrite."""
    _append(root, {"shape": dict(sizes), "intent": sorted(keys)})


def append_record(root: Path, region: Mapping[str, tuple[int, int]],
                  sizes: Mapping[str, int], sums: Mapping[str, list[int] | None],
                  coords: Mapping[str, list[int] | None]) -> None:
    """Append (durably) one run chunk's line to the store's checksum log."""
    _append(root, {"region": dict(region), "shape": dict(sizes), "files": dict(sums),
                   "coords": dict(coords)})


def _log(root: Path) -> Path:
    """The store's checksum log; a symbolic link planted there is refused, never followed."""
    path = root / LOG
    if path.is_symlink():
        raise ValueError(f"store '{root}': {LOG} is a symbolic link (to "
                         f"'{os.readlink(path)}'); ddlab follows none inside a store: remove it "
                         f"(ddlab verify then reports the store unrecorded)")
    return path


def _append(root: Path, record: Mapping[str, Any]) -> None:
    line = json.dumps(record, separators=(",", ":"))
    fd = os.open(_log(root), os.O_RDWR | os.O_APPEND | os.O_CREAT | NOFOLLOW, 0o644)
    try:  # a line torn by a kill stays alone on its line, and is skipped
        torn = os.fstat(fd).st_size and os.pread(fd, 1, os.fstat(fd).st_size - 1) != b"\n"
        os.write(fd, (b"\n" if torn else b"") + line.encode() + b"\n")
        if FSYNC:
            os.fsync(fd)
    finally:
        os.close(fd)


def _records(root: Path, sizes: Mapping[str, int]) -> list[dict[str, Any]] | None:
    """The whole lines of the log written against the store's present dim sizes."""
    try:
        text = _log(root).read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return None
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("shape") == dict(sizes):
            records.append(record)
    return records


@dataclass
class VerifyReport:
    """What :func:`ddlab.results.verify` found in a store.

    Attributes
    ----------
    path : str
    files : int
        Zarr chunk files checked.
    bad_files : list of str
        Files (``variable/key``) whose size or CRC-32 differs from the record.
    damaged : int
        Completed cells found damaged.
    cells : list of str
        The first damaged cells, by coordinates (``width=3, data_seed=0, ...``).
    unrecorded : bool
        The store has no checksum log (written by ddlab before 0.9): nothing checked.
    repaired : bool
        The damaged cells' flags were cleared and the bad files removed.
    """

    path: str
    files: int = 0
    bad_files: list[str] = field(default_factory=list)
    damaged: int = 0
    cells: list[str] = field(default_factory=list)
    unrecorded: bool = False
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """No completed cell is damaged."""
        return self.damaged == 0

    def __str__(self) -> str:
        if self.unrecorded:
            return f"{self.path}: no checksums recorded (a store of an older ddlab); not checked"
        if self.ok:
            return f"{self.path}: {self.files} chunk files match their checksums"
        more = f" and {self.damaged - len(self.cells)} more" if self.damaged > len(
            self.cells) else ""
        files = ", ".join(self.bad_files[:_NAMED]) + (" ..." if len(self.bad_files) > _NAMED
                                                       else "")
        what = (f"{self.damaged} completed cells are damaged ({'; '.join(self.cells)}{more}); "
                f"files differing from their checksums: {files or 'none'}")
        return f"{self.path}: {what}; " + (
            "their flags are cleared: the next run recomputes them" if self.repaired else
            "ddlab verify --repair, or the next ddlab run, recomputes them")


def _describe(ds: xr.Dataset, dims: tuple[str, ...], index: np.ndarray) -> str:
    return ", ".join(f"{d}={ds[d].values[i].item() if d in ds.coords else i}"
                     for d, i in zip(dims, index, strict=True))


def check(root: Path, ds: xr.Dataset, completed: np.ndarray, repair: bool) -> VerifyReport:
    """Compare a store's files with its checksum log; with ``repair``, clear what differs.

    Parameters
    ----------
    root : Path
        The store.
    ds : xarray.Dataset
        The store opened raw (its coordinates are read).
    completed : numpy.ndarray
        Its ``completed`` flags (cleared in place for damaged cells on repair).
    repair : bool

    Raises
    ------
    ValueError
        If the coordinates differ from those the cells were computed against.
    """
    report = VerifyReport(str(root))
    dims = tuple(map(str, ds["completed"].dims))
    records = _records(root, {str(d): int(n) for d, n in ds.sizes.items()})
    if records is None:
        report.unrecorded = True
        return report
    latest: dict[str, list[int] | None] = {}
    rewriting: set[str] = set()  # named by an intent after their last record
    for record in records:
        rewriting = rewriting.union(record.get("intent", ())) - set(record.get("files", ()))
        latest.update(record.get("files", {}))
    records = [r for r in records if "files" in r]
    if records and file_sums(root, records[-1]["coords"]) != records[-1]["coords"]:
        raise ValueError(f"path = '{root}': its coordinates differ from those its cells were "
                         f"computed against; run it again with --fresh (fresh=True)")
    now = file_sums(root, latest)
    report.files = len(now)
    report.bad_files = sorted(k for k in latest if now[k] != latest[k] and k not in rewriting)
    bad, covered = set(report.bad_files), np.zeros(completed.shape, dtype=bool)
    damaged = np.zeros(completed.shape, dtype=bool)
    for record in records:
        cells = tuple(slice(*record["region"].get(d, (None, None))) for d in dims)
        covered[cells] = True
        if bad & set(record["files"]):
            damaged[cells] = True
    damaged = completed & (damaged | ~covered)
    report.damaged = int(damaged.sum())
    report.cells = [_describe(ds, dims, i) for i in np.argwhere(damaged)[:_NAMED]]
    if repair and report.damaged:
        completed[damaged] = False
        for key in report.bad_files:
            (root / key).unlink(missing_ok=True)
        report.repaired = True
    return report
