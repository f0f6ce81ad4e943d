"""``ddlab export``: a compressed netCDF4 copy of a store."""

from __future__ import annotations

import argparse

from ..results import export_netcdf

__all__ = ["add_parser", "main"]


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="copy a stored result to a compressed netCDF4 file")
    p.add_argument("path", help="zarr store")
    p.add_argument("out", nargs="?", metavar="OUT.nc", help="netCDF4 file to write")
    p.add_argument("--netcdf", metavar="OUT.nc", help="the same as OUT.nc")
    p.add_argument("--force", action="store_true",
                   help="replace OUT.nc even if ddlab did not write it")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    if args.out and args.netcdf and args.out != args.netcdf:
        raise ValueError(f"out = {args.out!r}: and --netcdf {args.netcdf!r} disagree; give one")
    out = args.out or args.netcdf
    if not out:
        raise ValueError("out = None: give the netCDF file to write, e.g. "
                         f"ddlab export {args.path} result.nc")
    print(f"wrote {export_netcdf(args.path, out, force=args.force)}")
    return 0
