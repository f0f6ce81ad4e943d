"""Bad input from the audit of issue 29: one line on stderr, exit 2, nothing on disk touched."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY

import ddlab
from ddlab.cli import main

#: (id, paper-file text): each is refused when the paper file is read
PAPER_FILES = {
    "experiment-not-a-table": "experiments = [1]\n",
    "experiments-not-a-list": "experiments = 5\n",
    "quick-not-a-table": '[[experiments]]\nname = "t"\nfile = "t.toml"\nquick = 5\n',
    "file-not-a-string": '[[experiments]]\nname = "t"\nfile = 5\n',
    "name-not-a-string": '[[experiments]]\nname = 5\nfile = "t.toml"\n',
    "name-a-path": '[[experiments]]\nname = "../t"\nfile = "t.toml"\n',
    "figures-not-a-list": '[[experiments]]\nname = "t"\nfile = "t.toml"\nfigures = 5\n',
    "numbers-a-string": '[[experiments]]\nname = "t"\nfile = "t.toml"\nnumbers = "no"\n',
    "figure-name-upwards": '[[experiments]]\nname = "t"\nfile = "t.toml"\n'
                           'figures = [{ name = "../../../x", kind = "seed" }]\n',
    "figure-name-absolute": '[[experiments]]\nname = "t"\nfile = "t.toml"\n'
                            'figures = [{ name = "/tmp/x", kind = "seed" }]\n',
    "figure-name-not-a-string": '[[experiments]]\nname = "t"\nfile = "t.toml"\n'
                                'figures = [{ name = 1, kind = "seed" }]\n',
    "sweep-figure-unswept": '[[experiments]]\nname = "t"\nfile = "t.toml"\n'
                            'figures = [{ name = "s", kind = "sweep" }]\n',
    "speed-not-a-table": 'speed = 5\n',
}


def _paper(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "t.toml").write_text(TINY)
    (tmp_path / "paper.toml").write_text(text)
    return ["reproduce", "--paper-file", str(tmp_path / "paper.toml"),
            "--out", str(tmp_path / "out")]


def _file(tmp_path: Path) -> Path:
    (tmp_path / "a_file").write_text("x")
    return tmp_path / "a_file"


#: (id, argv from tmp_path, the config and a stored run, a phrase the line names)
CASES = [
    ("root-2**64", lambda t, c, s: ["run", c, "--set", f"seeds.root={2**64}", "--out",
                                    str(t / "n.zarr")], "seeds.root = 18446744073709551616"),
    ("memory-budget-1e400", lambda t, c, s: ["run", c, "--memory-budget", "1e400", "--out",
                                             str(t / "n.zarr")], "memory_budget"),
    ("chunk-units-0", lambda t, c, s: ["run", c, "--chunk-units", "0", "--out",
                                       str(t / "n.zarr")], "--chunk-units"),
    ("chunk-units-not-int", lambda t, c, s: ["run", c, "--chunk-units", "x"], "--chunk-units"),
    ("n-jobs-not-int", lambda t, c, s: ["run", c, "--n-jobs", "two"], "--n-jobs"),
    ("no-subcommand", lambda t, c, s: [], "ddlab: error:"),
    ("unknown-subcommand", lambda t, c, s: ["frobnicate"], "frobnicate"),
    ("unknown-option", lambda t, c, s: ["info", s, "--colour"], "--colour"),
    ("plot-into-a-file", lambda t, c, s: ["plot", s, "--out", str(_file(t) / "f.png")],
     "a_file"),
    *((f"paper-{name}", lambda t, c, s, text=text: _paper(t, text), "paper.toml")
      for name, text in PAPER_FILES.items()),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny experiment's config and its stored run, shared by the cases."""
    where = tmp_path_factory.mktemp("shared")
    (where / "tiny.toml").write_text(TINY)
    ddlab.run(where / "tiny.toml", out=where / "s.zarr", device="cpu", progress=False)
    return where / "tiny.toml", where / "s.zarr"


def exit_code(argv: list[str]) -> int | str | None:
    """``ddlab ARGV``'s exit code, whether ``main`` returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def _tree(*roots: Path) -> list[tuple[Path, int]]:
    return sorted((p, p.stat().st_mtime_ns) for root in roots for p in root.rglob("*"))


@pytest.mark.parametrize("make_argv, phrase", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(make_argv, phrase, tmp_path, shared, capsys):
    config, store = shared
    argv = make_argv(tmp_path, str(config), str(store))
    before = _tree(tmp_path, store.parent)
    assert exit_code(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("ddlab: error: ") and phrase in err, err
    assert _tree(tmp_path, store.parent) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_plot_into_a_read_only_directory(tmp_path, stored, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    assert main(["plot", str(stored), "--out", str(ro / "f.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(ro) in err, err


def test_seeds_root_must_fit_64_bits():
    ddlab.load_experiment({"seeds": {"root": 2**64 - 1}})
    with pytest.raises(ValueError, match=r"^seeds\.root = 18446744073709551616: must be < "):
        ddlab.load_experiment({"seeds": {"root": 2**64}})


@pytest.mark.parametrize("lr", [1j, np.complex128(0.1), np.complex64(0.1)])
def test_a_complex_lr_is_refused(lr):
    with pytest.raises(ValueError, match=r"^train\.lr = .*expected a real number"):
        ddlab.load_experiment({"train": {"lr": lr}})


def test_info_into_a_closed_pipe_exits_quietly(stored):
    """``ddlab info STORE | head -1``: no BrokenPipeError traceback."""
    # the reader is gone before the child writes (it waits for stdin to close): a sure EPIPE
    code = ("import sys; from ddlab.cli import main; sys.stdin.read(); "
            "sys.exit(main(['info', sys.argv[1]]))")
    read, write = os.pipe()
    with subprocess.Popen([sys.executable, "-c", code, str(stored)], stdout=write,
                          stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        os.close(write)
        os.close(read)
        child.stdin.close()
        err = child.stderr.read()
    assert err == "" and child.returncode == 141, err


def test_summarize_refuses_a_nan_tol(stored):
    ds = ddlab.open_results(stored)
    with pytest.raises(ValueError, match=r"^tol = nan"):
        ddlab.summarize(ds, tol=math.nan)
