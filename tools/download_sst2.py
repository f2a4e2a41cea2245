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

--demo writes bert.data.sst2_demo's generated set (marked by DEMO.txt; not SST-2) instead. Prints
the output folder on stdout; progress and warnings go to stderr.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import zipfile
from pathlib import Path, PureWindowsPath

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS.parent), str(TOOLS)]  # the bert package; download_wiki (tools/ is not a package)

import download_wiki as dw  # noqa: E402

from bert.atomic import atomic_directory  # noqa: E402
from bert.data.sst2 import HEADERS  # noqa: E402
from bert.data.sst2_demo import write_demo  # noqa: E402

DEFAULT_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"


class SST2Error(ValueError):
    """Anything that stops the tool short of an SST-2 folder; the message is the one-line reason."""


def fetch(url: str, folder: Path, sha256: str | None, *, retries: int, timeout: float) -> Path:
    """URL + folder + expected SHA-256 (None: unchecked) → folder/<name>, complete and, if asked, verified.

    download_wiki takes its checksum from a '<hex>  <name>' list, so the one we know is handed
    over as such a list in a temporary file.
    """
    if sha256 is None:
        return dw.download(url, folder, verify=False, retries=retries, timeout=timeout)
    with tempfile.TemporaryDirectory() as tmp:
        sums = Path(tmp) / "sha256sums.txt"
        sums.write_text(f"{sha256.lower()}  {dw.file_name(url)}\n", encoding="utf-8")
        return dw.download(url, folder, str(sums), retries=retries, timeout=timeout)


def check_members(archive: zipfile.ZipFile, name: str) -> None:
    """Open zip + its name for messages → nothing, or SST2Error for a member that would land outside."""
    for member in archive.namelist():
        path = PureWindowsPath(member)  # splits at '/' and '\\'; its anchor catches '/x', '\\x' and 'C:x'
        if path.anchor or ".." in path.parts:
            raise SST2Error(f"{name} has a member with an absolute path or '..': {member!r}; not unpacking it")


def check_layout(root: Path, name: str) -> None:
    """Unpacked folder + zip name for messages → nothing, or SST2Error naming the missing file or bad header."""
    files = {f"{split}.tsv": "\t".join(fields) for split, fields in HEADERS.items()}
    for file, header in files.items():
        path = root / file
        if not path.is_file():
            raise SST2Error(f"{name} is not GLUE SST-2: it has no {file} (expected {', '.join(files)})")
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline().rstrip("\r\n")
        if first != header:
            raise SST2Error(f"{name} is not GLUE SST-2: {file} starts with {first!r}, expected {header!r}")


def unpack(zip_path: Path, output: Path) -> None:
    """SST-2 zip + output folder → that folder replaced, atomically, by the zip's checked SST-2 files.

    GLUE's zip keeps its files in one top folder (SST-2/); its contents become the output folder.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive, atomic_directory(output) as tmp:
            check_members(archive, zip_path.name)
            archive.extractall(tmp)
            entries = list(tmp.iterdir())
            root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
            check_layout(root, zip_path.name)
            if root != tmp:
                for entry in list(root.iterdir()):
                    entry.rename(tmp / entry.name)
                root.rmdir()
    except zipfile.BadZipFile as exc:
        raise SST2Error(f"{zip_path} is not a readable zip ({exc})") from None


def main(argv=None) -> int:
    parser = dw._Parser(prog="python tools/download_sst2.py", description=__doc__,  # one-line errors, exit 2
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", metavar="DIR", required=True,
                        help="folder for train.tsv, dev.tsv and test.tsv (replaced if it exists)")
    parser.add_argument("--url", metavar="URL", help=f"the zip (default {DEFAULT_URL})")
    parser.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of the zip (64 hex digits)")
    parser.add_argument("--no-verify", action="store_true", help="unpack without checking a SHA-256")
    parser.add_argument("--demo", action="store_true",
                        help="write the generated demo set instead (bert.data.sst2_demo; no network, not SST-2)")
    parser.add_argument("--retries", metavar="N", type=int, default=5,
                        help="retries after connection errors, timeouts and HTTP 5xx/429 (default 5)")
    parser.add_argument("--timeout", metavar="S", type=float, default=60.0,
                        help="seconds without data before a retry (default 60)")
    args = parser.parse_args(argv)
    if args.demo and (args.url or args.sha256 or args.no_verify):
        parser.error("--demo downloads nothing: drop --url, --sha256 and --no-verify")
    if args.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256):
        parser.error(f"--sha256 must be 64 hex digits, got {args.sha256!r}")
    if args.sha256 and args.no_verify:
        parser.error("--sha256 and --no-verify contradict each other")
    if args.retries < 0 or args.timeout <= 0:
        parser.error("--retries must be >= 0 and --timeout > 0")
    output = Path(args.output)
    try:
        if output.exists() and not output.is_dir():
            raise SST2Error(f"output {output} exists and is not a directory")
        if args.demo:
            with atomic_directory(output) as tmp:
                write_demo(tmp)
        else:
            url = args.url or DEFAULT_URL
            if output.parent / dw.file_name(url) == output:
                raise SST2Error(f"--output {output} would be the zip itself; name the folder differently")
            zip_path = fetch(url, output.parent, args.sha256, retries=args.retries, timeout=args.timeout)
            if args.sha256 is None and not args.no_verify:
                digest = dw.file_digest(zip_path, "sha256")
                raise SST2Error(f"no --sha256 given; {zip_path} has sha256 {digest}: check it, then rerun with "
                                  f"--sha256 {digest} (the download is reused), or pass --no-verify")
            unpack(zip_path, output)
    except (dw.DownloadError, SST2Error, OSError) as exc:  # OSError: disk full, permissions, ...
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: a .part file stays; rerun the same command to resume", file=sys.stderr)
        return 130
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
