#!/usr/bin/env python3
"""GLUE SST-2 zip URL + its SHA-256 in, a checked SST-2 folder (train.tsv, dev.tsv, test.tsv) out; or --demo.

The zip is fetched next to the output folder (data/SST-2 → data/SST-2.zip, resumable through its
.part file) with tools/download_wiki.py's downloader, checked against --sha256, unpacked into a
temporary folder (members with absolute paths or '..' are refused), checked for GLUE's three
files and their header lines, and only then renamed to --output, replacing what was there.

We know no checksum for the zip offline: the first run without --sha256 downloads it, prints
the SHA-256 it computed and stops (exit 2) without unpacking; rerun with --sha256 once you have
checked it (the download is reused), or pass --no-verify.

  python tools/download_sst2.py --output data/SST-2 --sha256 <64 hex digits>
  python tools/download_sst2.py --output data/SST-2 --demo   # generated stand-in, no network

--demo writes bert.glue.sst2_demo's generated set (marked by DEMO.txt; not SST-2) instead. Prints
the output folder on stdout; progress and warnings go to stderr.

This is tools/download_glue.py's code for one task, with a folder and a URL of your choosing;
`python tools/download_glue.py --tasks SST-2 --output data` gives the same folder (data/SST-2).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import download_glue as dg  # tools/: this script's folder is on sys.path
import download_wiki as dw

from bert.atomic import atomic_directory
from bert.glue.sst2_demo import write_demo

DEFAULT_URL = dg.downloads("SST-2")["SST-2"]


def main(argv=None) -> int:
    parser = dw._Parser(prog="python tools/download_sst2.py", description=__doc__,  # one-line errors, exit 2
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", metavar="DIR", required=True,
                        help="folder for train.tsv, dev.tsv and test.tsv (replaced if it exists)")
    parser.add_argument("--url", metavar="URL", help=f"the zip (default {DEFAULT_URL})")
    parser.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of the zip (64 hex digits)")
    parser.add_argument("--no-verify", action="store_true", help="unpack without checking a SHA-256")
    parser.add_argument("--demo", action="store_true",
                        help="write the generated demo set instead (bert.glue.sst2_demo; no network, not SST-2)")
    dw.add_network_arguments(parser)
    args = parser.parse_args(argv)
    if args.demo and (args.url or args.sha256 or args.no_verify):
        parser.error("--demo downloads nothing: drop --url, --sha256 and --no-verify")
    if args.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256):
        parser.error(f"--sha256 must be 64 hex digits, got {args.sha256!r}")
    if args.sha256 and args.no_verify:
        parser.error("--sha256 and --no-verify contradict each other")
    output = Path(args.output)

    def body() -> Path:
        if output.exists() and not output.is_dir():
            raise dg.GlueError(f"output {output} exists and is not a directory")
        if args.demo:
            with atomic_directory(output) as tmp:
                write_demo(tmp)
            return output
        url = args.url or DEFAULT_URL
        if output.parent / dw.file_name(url) == output:
            raise dg.GlueError(f"--output {output} would be the zip itself; name the folder differently")
        sha256 = {"SST-2": args.sha256.lower()} if args.sha256 else {}
        zip_path = dg.download_all({"SST-2": url}, output.parent, sha256, not args.no_verify, retries=args.retries,
                                   timeout=args.timeout, flag=lambda key, digest: f"--sha256 {digest}")["SST-2"]
        dg.unpack(zip_path, output, "SST-2")
        return output

    return dw.run(body, dg.GlueError)


if __name__ == "__main__":
    sys.exit(main())
