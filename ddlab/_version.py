"""ddlab's version, from the installed package metadata (imports nothing of ddlab)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ddlab")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
