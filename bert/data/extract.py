"""Stage `extract`: a MediaWiki `*.xml.bz2` (or decompressed `*.xml`) dump in, wikiextractor 3.1.0 JSON-lines files out
(one file per ~shard_bytes of text; redirects dropped, no HTML escaping).

    python -m bert.data.extract --input enwiki-…-pages-articles.xml.bz2 --output DIR/extracted
"""
from __future__ import annotations

import argparse
import bz2
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bert.atomic import temporary_sibling
from bert.config import ConfigError
from bert.data import DataError
from bert.data.config import add_config_arguments, config_from_args


def dump_head(path: Path) -> bytes | None:
    """The first 64 KiB of a MediaWiki export, bz2-compressed or plain XML; None for anything else."""
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        compressed = f.read(3) == b"BZh"
    try:
        with (bz2.open(path, "rb") if compressed else open(path, "rb")) as f:
            head = f.read(1 << 16)
    except (OSError, EOFError) as exc:
        raise DataError(f"dump {path} is not readable bz2: {exc}") from None
    return head if b"<mediawiki" in head else None


def check_dump(dump: Path) -> None:
    """Fail early on a missing file or one that is not a MediaWiki export (`.xml.bz2` or `.xml`)."""
    if not dump.is_file():
        raise DataError(f"dump {dump} does not exist")
    head = dump_head(dump)
    if head is None:
        raise DataError(f"dump {dump} is not a MediaWiki XML export, plain or bz2 (no <mediawiki> header)")
    if b"<siteinfo>" not in head:
        raise DataError(f"dump {dump} is not a MediaWiki XML export (no <siteinfo> header)")


def extracted_files(directory: Path) -> list[Path]:
    """wikiextractor's output files (AA/wiki_00, AA/wiki_01, …) in order."""
    return sorted(p for p in directory.glob("*/wiki_*") if p.is_file())


def extract(dump: str | os.PathLike, output: str | os.PathLike, shard_bytes: int, processes: int = 2) -> list[Path]:
    """Run wikiextractor into a temporary folder, rename it to `output` when it succeeded."""
    dump, output = Path(dump), Path(output)
    if output.is_dir() and extracted_files(output):
        return extracted_files(output)  # complete: the folder only gets its name at the end
    check_dump(dump)
    tmp = temporary_sibling(output)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "wikiextractor.WikiExtractor", str(dump), "--output", str(tmp),
               "--json", "--html-safe", "", "--processes", str(max(1, processes)),
               "--bytes", f"{max(1, shard_bytes // 1024)}K", "--quiet"]  # it wants a unit
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"wikiextractor failed on {dump} (exit {result.returncode}): {last}")
    if not extracted_files(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"wikiextractor found no articles in {dump}")
    shutil.rmtree(output, ignore_errors=True)
    os.replace(tmp, output)
    return extracted_files(output)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.data.extract", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="MediaWiki pages-articles *.xml.bz2 dump")
    parser.add_argument("--output", required=True, help="folder for wikiextractor's output")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="wikiextractor's processes")
    add_config_arguments(parser)  # shard_bytes=N: text per output file
    args = parser.parse_args(argv)
    try:
        files = extract(args.input, args.output, config_from_args(args).shard_bytes, args.processes)
    except (DataError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"extracted {len(files)} files into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
