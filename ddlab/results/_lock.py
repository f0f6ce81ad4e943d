"""An exclusive lock on a result store, so that two runs never write one store at once.

The lock is an ``flock`` on a hidden file beside the store
(``.<store name>.lock``), which holds the owner's pid for the message of the
run that is refused. It is keyed on the store's real path (symlinks resolved),
so a run through a symlink to the store and one through the store itself
cannot both hold it; a symlink planted at the lock file's name is removed,
never written through. The kernel drops the lock when its process ends, however
it ends (Ctrl-C, SIGKILL, a crash), so a killed run never leaves a stale
lock; the file is removed when the lock is released normally. Works on local
file systems and on NFS v4 and Lustre mounts that support ``flock``.

On Windows (no ``fcntl``) the lock is ``msvcrt.locking`` of one byte far past
the pid, which Windows also drops when its process ends; the file, which
Windows cannot remove while it is open, may stay behind and is reused.
Elsewhere a run that writes a store stops with a one-line error; importing
ddlab never needs either module.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from ._files import NOFOLLOW

__all__ = ["StoreLock"]

#: Offset of the byte that msvcrt locks, past the pid so that others can read it.
_MSVCRT_BYTE = 1 << 20


class _NoLocking(Exception):
    """This platform has neither ``fcntl`` nor ``msvcrt``."""


def _lock(fd: int, wait: bool) -> bool:
    """Lock the open file ``fd`` exclusively: True, or False if another process holds it."""
    try:
        import fcntl
    except ImportError:
        return _lock_msvcrt(fd, wait)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_msvcrt(fd: int, wait: bool) -> bool:
    """:func:`_lock` on Windows, polling while ``wait`` (msvcrt cannot block for long)."""
    try:
        import msvcrt
    except ImportError:
        raise _NoLocking from None
    while True:
        os.lseek(fd, _MSVCRT_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:  # held by another process
            if not wait:
                return False
            time.sleep(0.2)
        else:
            return True
        finally:
            os.lseek(fd, 0, os.SEEK_SET)


class StoreLock:
    """Hold the exclusive lock of the store at ``path`` until :meth:`release`.

    Parameters
    ----------
    path : str or Path
        The store (it need not exist yet; its parent directory must).
    wait : bool
        Wait for another run to release the lock instead of refusing.

    Raises
    ------
    ValueError
        If another process holds the lock and ``wait`` is false, the lock
        file cannot be created, or this platform cannot lock files.
    """

    def __init__(self, path: str | Path, wait: bool = False):
        self.store = Path(path)
        real = self.store.resolve()
        self.path = real.parent / f".{real.name}.lock"
        while True:
            fd = self._open()
            if fd is None:  # a planted link or second name, now removed: try again
                continue
            try:
                locked = _lock(fd, wait)
            except _NoLocking:
                os.close(fd)
                raise ValueError(f"out = '{self.store}': cannot lock it on this platform "
                                 f"(neither fcntl nor msvcrt is available)") from None
            if not locked:
                owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise ValueError(
                    f"out = '{self.store}': another ddlab run (pid {owner}) is writing it; "
                    f"wait for it to finish (--wait, wait=True) or choose another output"
                ) from None
            try:  # the file we locked may have been released and removed meanwhile
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd: int | None = fd

    def _open(self) -> int | None:
        """Open or create the lock file; None after removing a link found at its name.

        A symlink, or a file with a second hard link, at the lock file's name
        is another user's trap: writing the pid would write into its target.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        except OSError as err:
            if self.path.is_symlink():  # O_NOFOLLOW refused it
                self.path.unlink()
                return None
            raise ValueError(f"out = '{self.store}': cannot lock it ({err.strerror})") from None
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            return fd
        os.close(fd)
        try:
            self.path.unlink()
        except OSError as err:
            raise ValueError(f"out = '{self.store}': cannot lock it ('{self.path}' is not a "
                             f"plain file: {err.strerror})") from None
        return None

    def __del__(self) -> None:  # a lock nobody can release any more is released
        self.release()

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if getattr(self, "_fd", None) is None:  # never acquired, or released
            return
        try:
            self.path.unlink()
        except FileNotFoundError:  # pragma: no cover - removed by hand
            pass
        except PermissionError:  # pragma: no cover - Windows: open; the next run reuses it
            pass
        os.close(self._fd)
        self._fd = None
