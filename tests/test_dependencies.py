"""pyproject.toml declares every third-party library that ddlab imports, and its key floors."""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import re
import sys
import tomllib

from conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REQUIREMENTS = [r for r in itertools.chain(PROJECT["dependencies"],
                                           *PROJECT["optional-dependencies"].values())
                if not r.startswith("ddlab")]


def _name(requirement: str) -> str:
    """The canonical distribution name of a requirement (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement)[0]).lower()


def _imported() -> set[str]:
    """Top-level third-party modules that ddlab's own code imports."""
    found = set()
    for path in (ROOT / "ddlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"ddlab", "__future__"}


def test_every_imported_library_is_declared():
    declared = {_name(r) for r in REQUIREMENTS}
    provides = importlib.metadata.packages_distributions()
    undeclared = {module: provides.get(module, ["(not installed)"]) for module in _imported()
                  if not declared & {_name(d) for d in provides.get(module, [])}}
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


def test_zarr_floor_has_atomic_chunk_writes():
    # resuming after a SIGKILL relies on zarr writing each chunk atomically (zarr 3.1.3)
    zarr = next(r for r in REQUIREMENTS if _name(r) == "zarr")
    floor = tuple(int(p) for p in zarr.split(">=")[1].split("."))
    assert floor >= (3, 1, 3), zarr
