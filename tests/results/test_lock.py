"""The store lock without ``fcntl``: importing ddlab, Windows' msvcrt, and neither."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: run first in each child: no fcntl, as on Windows
NO_FCNTL = "import sys; sys.modules['fcntl'] = None\n"

#: msvcrt.locking stood in for by a POSIX record lock on the same byte range (installed
#: after ddlab is imported: the standard library takes a module msvcrt for Windows)
FAKE_MSVCRT = textwrap.dedent("""
    import fcntl, os, sys, types
    sys.modules["fcntl"] = None
    import ddlab
    msvcrt = types.ModuleType("msvcrt")
    msvcrt.LK_NBLCK = 2
    def locking(fd, mode, nbytes):
        assert mode == msvcrt.LK_NBLCK
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, nbytes, os.lseek(fd, 0, os.SEEK_CUR))
        except OSError:
            raise PermissionError(13, "Permission denied") from None
    msvcrt.locking = locking
    sys.modules["msvcrt"] = msvcrt
""")


def _python(prelude: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_import_ddlab_needs_no_fcntl_and_locking_fails_in_one_line(tmp_path):
    store = tmp_path / "s.zarr"
    done = _python(NO_FCNTL + "sys.modules['msvcrt'] = None\n", f"""
        import ddlab
        from ddlab.results import StoreLock
        try:
            StoreLock({str(store)!r})
        except ValueError as err:
            print(err)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"out = '{store}': cannot lock it on this platform "
                                   f"(neither fcntl nor msvcrt is available)")
    assert not store.exists()


def test_msvcrt_lock_refuses_a_second_run_and_waits_for_the_first(tmp_path):
    store = tmp_path / "s.zarr"
    holder = subprocess.Popen(
        [sys.executable, "-c", FAKE_MSVCRT + textwrap.dedent(f"""
            import time
            from ddlab.results import StoreLock
            lock = StoreLock({str(store)!r})
            print("held", flush=True)
            time.sleep(float(sys.stdin.readline()))
            lock.release()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with holder:
        assert holder.stdout.readline().strip() == "held"
        refused = _python(FAKE_MSVCRT, f"""
            from ddlab.results import StoreLock
            try:
                StoreLock({str(store)!r})
            except ValueError as err:
                print(err)
        """)
        assert f"another ddlab run (pid {holder.pid}) is writing it" in refused.stdout, refused
        holder.stdin.write("0.5\n")
        holder.stdin.flush()
        waited = _python(FAKE_MSVCRT, f"""
            import os
            from ddlab.results import StoreLock
            lock = StoreLock({str(store)!r}, wait=True)
            print(open(lock.path).read() == str(os.getpid()))
            lock.release()
        """)
        assert waited.stdout.strip() == "True", waited.stderr
    assert holder.returncode == 0
    assert not (tmp_path / ".s.zarr.lock").exists()
