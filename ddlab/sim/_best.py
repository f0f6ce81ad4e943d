"""Best-in-class fits: the approximation error of each hypothesis class, with a checked cache.

The cache lives outside the working directory: ``$DDLAB_CACHE_DIR`` if set,
else ``$XDG_CACHE_HOME/ddlab`` (default ``~/.cache/ddlab``), under
``best_in_class/``. Each file is keyed by a hash of the ddlab version and the
fitting problem (the experiment it fits, whose coordinates and attrs follow
from it), and carries that key and an HMAC-SHA256 of the key, every variable
and coordinate (name, dims, dtype, values) and every attr. The HMAC's key is
32 random bytes in ``hmac.key`` of the user's cache directory (a directory of
mode 0700, the file 0600, never read through a symlink), so someone who can
write a cache file but not read that key cannot forge one. A file that fails
either check is recomputed, never trusted; with no private key (one that
others can read, or none that can be made), nothing is cached.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path

import numpy as np
import xarray as xr

from .._version import __version__
from ..config import Experiment, Key, load_experiment
from ..results import private_dir
from ..results._files import NOFOLLOW
from ._run import run

__all__ = ["best_in_class", "cache_dir"]

#: swept keys that change the hypothesis class H or the distribution p*
CLASS_KEYS = tuple(Key(*k.split(".")) for k in (
    "data.target", "data.input", "data.dim", "data.signal", "data.teacher_width",
    "model.depth", "model.activation"))


def cache_dir() -> Path:
    """ddlab's cache directory: ``$DDLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/ddlab``."""
    if os.environ.get("DDLAB_CACHE_DIR"):
        return Path(os.environ["DDLAB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ddlab"


#: attrs a cache file adds to the dataset it holds
_KEY_ATTR, _MAC_ATTR = "ddlab_cache_key", "ddlab_hmac"


def _secret() -> bytes | None:
    """The user's HMAC key (made on first use); None if there is no private one."""
    folder = cache_dir()
    path = folder / "hmac.key"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        fd = os.open(path, os.O_RDONLY | NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            secret = f.read()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) \
            or len(secret) < 32:
        return None
    return secret


def _mac(ds: xr.Dataset, key: str, secret: bytes) -> str:
    """HMAC-SHA256 of ``key`` and everything ``ds`` holds but its own HMAC.

    Integers count as int64 and attrs as JSON, as they are before and after a
    round trip through netCDF-3 (which stores int64 coordinates as int32).
    """
    h = hmac.new(secret, key.encode(), hashlib.sha256)
    attrs = {k: v for k, v in ds.attrs.items() if k != _MAC_ATTR}
    h.update(json.dumps(attrs, sort_keys=True, default=str).encode())
    for name in sorted(map(str, ds.variables)):
        var = ds.variables[name]
        values = np.asarray(var.values)
        if values.dtype.kind in "iub":
            values = values.astype(np.int64)
        h.update(json.dumps([name, list(map(str, var.dims)), str(values.dtype),
                             list(var.shape), var.attrs], sort_keys=True, default=str).encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def _load_cached(path: Path, key: str, secret: bytes) -> xr.Dataset | None:
    try:
        ds = xr.load_dataset(path, engine="scipy")
    except Exception:  # unreadable: recompute
        return None
    mac = str(ds.attrs.get(_MAC_ATTR, ""))
    if ds.attrs.get(_KEY_ATTR) != key or not hmac.compare_digest(mac, _mac(ds, key, secret)):
        return None
    del ds.attrs[_MAC_ATTR]
    return ds


def _save(ds: xr.Dataset, path: Path, key: str, secret: bytes) -> None:
    ds.attrs[_KEY_ATTR] = key
    signed = ds.assign_attrs({_MAC_ATTR: _mac(ds, key, secret)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with private_dir(path) as tmp:  # never written through a planted link
        signed.to_netcdf(tmp / path.name, engine="scipy")
        os.replace(tmp / path.name, path)


def _labelled(values: xr.DataArray, long_name: str) -> xr.DataArray:
    return values.assign_attrs(long_name=f"{long_name} (in units of y²)", units="1")


def _fit_experiment(exp: Experiment, restarts: int, epochs: int, n_samples: int,
                    lr: float) -> Experiment:
    spec = exp.to_dict()
    for key, _ in exp.sweep:
        if key not in CLASS_KEYS:
            spec[key.section][key.name] = spec[key.section][key.name][0]
    spec["data"] |= {"noise": 0.0, "n_train": n_samples, "n_test": 1}
    spec["name"], spec["description"] = f"{exp.name}_best_in_class", ""
    if exp.model.family != "mlp":  # each cell's own feature span, per data and init seed
        spec["model"] |= {"fit": "min_norm", "ridge": 0.0}
        spec["train"] = {"record_bias_variance": False}
    else:
        spec["train"] = {"optimizer": "adam", "lr": lr, "epochs": epochs, "dtype": "float32",
                         "record": {"log": 40}, "record_bias_variance": False}
        spec["seeds"] = {"root": exp.seeds.root, "data": 1, "init": restarts}
    return load_experiment(spec)


def best_in_class(experiment, *, restarts: int = 5, epochs: int = 3000, n_samples: int = 2000,
                  lr: float = 0.01, device: str = "auto", n_jobs: int = 1,
                  cache: str | Path | bool | None = True,
                  progress: bool = False) -> xr.Dataset:
    """Estimate the best-in-class risk R(f*, p*) - sigma^2 = ε_app for each width.

    Each width is trained, from ``restarts`` initialisations, with full-batch
    Adam on ``n_samples`` noise-free draws (x, f(x)) from the population
    distribution, and the smallest squared L²(P) error to f over restarts,
    recorded epochs and narrower widths (the classes are nested) is kept.
    Every trained network is a member of the hypothesis class, so the result
    is an **upper bound** on the approximation error min_{g in H} ||g - f||²;
    optimisation that fails to find the best network makes it loose, which
    the spread over restarts helps to judge. The error is measured on the
    experiment's own population sample.

    Parameters
    ----------
    experiment : Experiment or mapping or path
        The experiment whose hypothesis classes (widths, depth, activation)
        and distribution (target, input, dim) define f*. Swept keys that change
        either become dims of the result; others (noise, lr, ...) do not
        matter.
    restarts : int
        Initialisations per width.
    epochs : int
        Full-batch Adam epochs (recorded on a log-spaced grid).
    n_samples : int
        Size of the noise-free fitting sample.
    lr : float
        Adam learning rate.
    device, n_jobs, progress
        As in :func:`ddlab.run`.
    cache : bool, str or Path
        ``True`` (default): cache in :func:`cache_dir` ``/ "best_in_class"``;
        a directory: cache there; ``False`` or None: no cache. Files are
        keyed by the ddlab version and the fitting problem and checked
        against their own key and HMAC before use.

    Returns
    -------
    xarray.Dataset
        ``approx_error`` (best over restarts; dims: swept class keys, width),
        ``approx_error_restarts`` (per restart), ``approx_error_spread`` (max
        minus min over restarts), in units of y².

    Notes
    -----
    For the closed-form families (``linear``, ``random_features``) the class
    of a cell is the span of its own features, and f* is the exact
    least-squares projection of f on them, computed on ``n_samples``
    noise-free points (not trained, no restarts): ``approx_error`` then has
    dims (width, data_seed, init_seed) and is exact up to the finite
    projection sample (relative error about width / n_samples).
    """
    exp = load_experiment(experiment)
    fit = _fit_experiment(exp, restarts, epochs, n_samples, lr)
    key = hashlib.sha256(f"{__version__}\n{fit.to_json()}".encode()).hexdigest()[:24]
    folder = None if cache in (False, None) else (
        cache_dir() / "best_in_class" if cache is True else Path(cache))
    secret = None if folder is None else _secret()
    path = None if secret is None else folder / f"{fit.name}-{key}.nc"
    if path is not None and path.exists():
        cached = _load_cached(path, key, secret)
        if cached is not None:
            return cached
    ds = run(fit, device=device, n_jobs=n_jobs, progress=progress)
    if exp.model.family != "mlp":
        out = xr.Dataset({"approx_error": _labelled(
            ds["f_error"].isel(epoch=0, drop=True).reset_coords(drop=True),
            "approximation error R(f*, p*) - σ²: least-squares projection of f "
            "on the cell's features")}, attrs={"fit_experiment": fit.to_json()})
    else:
        per_restart = (ds["f_error"].isel(data_seed=0, drop=True).min("epoch")
                       .rename(init_seed="restart").reset_coords(drop=True))
        # H_w is contained in H_w' for w < w' (extra units with zero weights), so the
        # best network of any narrower width also bounds a wider class.
        best = per_restart.min("restart")
        best = xr.apply_ufunc(np.minimum.accumulate, best, input_core_dims=[["width"]],
                              output_core_dims=[["width"]]).transpose(*best.dims)
        out = xr.Dataset({
            "approx_error": _labelled(best, "approximation error bound R(f*, p*) - σ² "
                                            "(best over restarts and narrower widths)"),
            "approx_error_restarts": _labelled(per_restart, "best L2(P) error of each restart"),
            "approx_error_spread": _labelled(
                per_restart.max("restart") - per_restart.min("restart"),
                "spread (max - min) of the restarts' errors"),
        }, attrs={"fit_experiment": fit.to_json(),
                  "note": "upper bound on the approximation error"})
    if path is not None:
        _save(out, path, key, secret)
    return out
