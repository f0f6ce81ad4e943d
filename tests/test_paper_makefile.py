"""paper/Makefile rebuilds the PDF when switching between the quick and the full results."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def test_switching_between_quick_and_full_forces_a_rebuild(tmp_path):
    paper = tmp_path / "paper"
    paper.mkdir()
    shutil.copy(ROOT / "paper" / "Makefile", paper)
    log = tmp_path / "latexmk.log"
    fake = tmp_path / "bin" / "latexmk"  # records its arguments instead of running TeX
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    forced = []
    for target in ("all", "all", "quick", "quick", "all", "clean", "all"):
        subprocess.run(["make", "-s", "-C", str(paper), target], env=env, check=True,
                       capture_output=True)
        forced.append(" -g " in log.read_text().splitlines()[-1])
    # first build, same, switch to quick, same, back to full, (clean), after clean
    assert forced == [True, False, True, False, True, False, True]
    calls = log.read_text().splitlines()
    assert "ddresults{../results/quick}" in calls[2] and "ddresults{../results}" in calls[4]
    assert calls[5] == "-C main.tex"
