"""Every snippet of the README runs as written: Python blocks, and the CLI lines of bash blocks."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import ROOT

from ddlab.cli import main

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(python|bash)\n(.*?)```", README, flags=re.S)
#: set-up lines (pip, venv) and the reproduce round trip are tested elsewhere (CI, test_reproduce)
SKIP = ("pip install", "python -m pytest", "reproduce")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("readme")
    (path / "experiments").symlink_to(ROOT / "experiments")
    return path


def test_the_readme_has_snippets():
    kinds = [k for k, _ in BLOCKS]
    assert kinds.count("python") >= 4 and kinds.count("bash") >= 3


@pytest.mark.parametrize("index", [i for i, (k, _) in enumerate(BLOCKS) if k == "python"])
def test_python_snippet_runs_as_written(workdir, monkeypatch, index):
    monkeypatch.chdir(workdir)
    code = BLOCKS[index][1]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "readme"})


def test_cli_lines_run_as_written(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    lines = [line for kind, block in BLOCKS if kind == "bash" for line in block.splitlines()
             if line.startswith("ddlab ") and not any(s in line for s in SKIP)]
    assert lines
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, line
    assert (workdir / "results" / "readme_sweep.png").stat().st_size > 1000
