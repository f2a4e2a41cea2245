#!/usr/bin/env python3
"""Wikimedia dump file URL (or --dump-date + --part) in, the checksum-verified file DIR/<name> out; resumable.

The file is fetched into DIR/<name>.part with HTTP Range requests: a rerun after a dropped
connection, a timeout or Ctrl-C continues where the .part ends. Only when the size matches what
the server announced and the SHA-1 (or MD5) matches the dump's published list
(<folder>/enwiki-<date>-sha1sums.txt, else -md5sums.txt) does the .part get its final name.

  python tools/download_wiki.py --output data/wiki \\
      --url https://dumps.wikimedia.org/enwiki/20261101/enwiki-20261101-pages-articles1.xml-p1p41242.bz2
  python tools/download_wiki.py --output data/wiki --dump-date 20261101 --part pages-articles1.xml-p1p41242.bz2

Prints the final path on stdout; progress, retries and warnings go to stderr. Standard library
only (tqdm draws the progress bar when it is installed and stderr is a terminal).
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

try:
    from tqdm import tqdm
except ImportError:  # progress bars are optional
    tqdm = None

DEFAULT_MIRROR = "https://dumps.wikimedia.org"
USER_AGENT = "small-bert-mindspore-download_wiki/1.0 (Python urllib)"  # Wikimedia asks for a UA
CHUNK = 1 << 20
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
HASH_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
DUMP_NAME = re.compile(r"^(?P<wiki>[a-z0-9_]+)-(?P<date>\d{8}|latest)-")
CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


class DownloadError(RuntimeError):
    """Anything that stops a download; the message is the one-line reason."""


def dump_url(dump_date: str, part: str, mirror: str = DEFAULT_MIRROR, wiki: str = "enwiki") -> str:
    """Dump date + file name (with or without its 'enwiki-<date>-' prefix) + mirror → the file's URL."""
    if not re.fullmatch(r"\d{8}", dump_date or ""):
        raise DownloadError(f"--dump-date must be YYYYMMDD, got {dump_date!r}")
    if not part or "/" in part:
        raise DownloadError(f"--part must be a file name such as pages-articles1.xml-p1p41242.bz2, got {part!r}")
    prefix = f"{wiki}-{dump_date}-"
    name = part if part.startswith(prefix) else prefix + part
    return f"{mirror.rstrip('/')}/{wiki}/{dump_date}/{name}"


def file_name(url: str) -> str:
    """http(s) URL → the file name it ends in."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DownloadError(f"not an http(s) URL: {url!r}")
    name = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    if name in ("", ".", ".."):
        raise DownloadError(f"URL does not end in a file name: {url}")
    return name


def checksum_urls(url: str) -> list[str]:
    """A dump file's URL → its folder's sha1sums.txt and md5sums.txt URLs, in the order to try."""
    name = file_name(url)
    match = DUMP_NAME.match(name)
    if not match:
        raise DownloadError(f"{name} is not named <wiki>-<date>-..., so its checksum list is unknown: "
                            "pass --checksum-url or --no-verify")
    parts = urllib.parse.urlsplit(url)
    folder = parts.path.rsplit("/", 1)[0]
    return [urllib.parse.urlunsplit(parts._replace(path=f"{folder}/{match['wiki']}-{match['date']}-{kind}sums.txt",
                                                   query="", fragment=""))
            for kind in ("sha1", "md5")]


def _request(url: str, timeout: float, offset: int = 0):
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _pause(attempt: int, retries: int, backoff: float, what: str, exc: BaseException) -> None:
    """Sleep before retry number `attempt`, or give up once `retries` are used."""
    if attempt > retries:
        raise DownloadError(f"{what}: {_reason(exc)} (gave up after {retries} retries; rerun to resume)")
    delay = min(backoff * 2 ** (attempt - 1), 60.0)
    print(f"{what}: {_reason(exc)}; retry {attempt}/{retries} in {delay:g} s", file=sys.stderr)
    time.sleep(delay)


def _fetch_text(url: str, timeout: float, retries: int, backoff: float) -> str | None:
    """Small text file (URL, file:// URL or local path) → its contents; None when it does not exist."""
    if url.startswith("file:") or "://" not in url:
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path) if url.startswith("file:") else url)
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    attempt = 0
    while True:
        try:
            with _request(url, timeout) as resp:
                return resp.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code not in RETRY_STATUS:
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            err: BaseException = exc
        except NETWORK_ERRORS as exc:
            err = exc
        attempt += 1
        _pause(attempt, retries, backoff, f"fetching {url}", err)


def parse_checksums(text: str, name: str) -> str | None:
    """Text of a '<hex>  <file name>' list + a file name → its lower-case hex digest, or None."""
    for line in text.splitlines():
        fields = line.split(maxsplit=1)
        if len(fields) == 2 and fields[1].strip().lstrip("*") == name:
            return fields[0].lower()
    return None


def expected_checksum(url: str, checksum_url: str | None = None, *, timeout: float = 60.0,
                      retries: int = 5, backoff: float = 1.0) -> tuple[str, str, str]:
    """File URL (+ optional list URL) → (hash name, hex digest, list it came from)."""
    name = file_name(url)
    candidates = [checksum_url] if checksum_url else checksum_urls(url)
    for candidate in candidates:
        text = _fetch_text(candidate, timeout, retries, backoff)
        if text is None:
            continue
        digest = parse_checksums(text, name)
        if digest is None:
            hint = " (the latest/ lists name the dated files: use the dated URL)" if "-latest-" in name else ""
            raise DownloadError(f"{name} is not listed in {candidate}{hint}")
        algo = HASH_BY_LENGTH.get(len(digest))
        if algo is None or not re.fullmatch(r"[0-9a-f]+", digest):
            raise DownloadError(f"{candidate}: {digest!r} for {name} is not an MD5, SHA-1 or SHA-256 hex digest")
        return algo, digest, candidate
    raise DownloadError(f"no checksum list at {' or '.join(candidates)}: pass --checksum-url or --no-verify")


def _bar(total: int | None, initial: int, desc: str, progress: bool | None):
    if tqdm is None or progress is False:
        return None
    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=None if progress is None else False)


def file_digest(path: Path, algo: str, progress: bool | None = None) -> str:
    """File + hash name → hex digest."""
    digest = hashlib.new(algo)
    bar = _bar(path.stat().st_size, 0, f"{algo} {path.name.removesuffix('.part')}", progress)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return digest.hexdigest()


def _content_range(header: str | None, length: str | None) -> tuple[int, int | None]:
    """206 headers → (first byte sent, total file size or None)."""
    match = CONTENT_RANGE.fullmatch((header or "").strip())
    if not match:
        raise DownloadError(f"206 answer with an unreadable Content-Range: {header!r}")
    start = int(match[1])
    if match[3] != "*":
        return start, int(match[3])
    return start, start + int(length) if length and length.isdigit() else None


def _fetch(url: str, part: Path, *, timeout: float, retries: int, backoff: float,
           progress: bool | None) -> int | None:
    """Fill `part` from `url`, resuming at its current size → the file size the server announced, if any.

    `retries` counts consecutive failed attempts; it starts again whenever an attempt brought bytes.
    """
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        written = 0
        total: int | None = None
        try:
            with _request(url, timeout, have) as resp:
                if resp.status == 206:
                    start, total = _content_range(resp.headers.get("Content-Range"), resp.headers.get("Content-Length"))
                    if start != have:
                        raise DownloadError(f"asked {url} for bytes {have}- and got bytes {start}-")
                    mode = "ab"
                    if have:
                        print(f"resuming {part.name} at {have} bytes", file=sys.stderr)
                else:
                    if have:
                        print(f"server ignored the Range request; downloading {part.name} again from zero",
                              file=sys.stderr)
                    have, mode = 0, "wb"
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                bar = _bar(total, have, part.name.removesuffix(".part"), progress)
                try:
                    with open(part, mode) as f:
                        while chunk := resp.read(CHUNK):
                            f.write(chunk)
                            written += len(chunk)
                            if bar is not None:
                                bar.update(len(chunk))
                finally:
                    if bar is not None:
                        bar.close()
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing after byte `have`: the .part may be complete
                tail = (exc.headers.get("Content-Range") or "").rpartition("/")[2].strip()  # "bytes */<size>"
                size = int(tail) if tail.isdigit() else None
                if size is None or size == have:
                    return size
                print(f"{part.name} has {have} bytes but {url} has {size}; downloading again from zero",
                      file=sys.stderr)
                part.unlink()
                continue
            if exc.code not in RETRY_STATUS:
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            err: BaseException = exc
        except NETWORK_ERRORS as exc:
            err = exc
        else:
            size = part.stat().st_size
            if total is None or size == total:
                return total
            if size > total:
                part.unlink()
                raise DownloadError(f"{url} sent {size} bytes, more than the {total} it announced; removed {part}")
            err = ConnectionError(f"connection closed at {size} of {total} bytes")
        attempt = 1 if written else attempt + 1
        _pause(attempt, retries, backoff, f"downloading {url}", err)


def download(url: str, out_dir: str | os.PathLike, checksum_url: str | None = None, verify: bool = True,
             retries: int = 5, *, timeout: float = 60.0, backoff: float = 1.0,
             progress: bool | None = None) -> Path:
    """File URL + folder → out_dir/<name>, size- and checksum-verified (resumes out_dir/<name>.part).

    progress: True/False force the tqdm bar on/off; None draws it only when stderr is a terminal.
    Raises DownloadError with a one-line reason.
    """
    name = file_name(url)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DownloadError(f"output {out_dir} exists and is not a directory")
    final, part = out_dir / name, out_dir / f"{name}.part"
    expected = None
    if verify:
        expected = expected_checksum(url, checksum_url, timeout=timeout, retries=retries, backoff=backoff)
    else:
        print(f"warning: --no-verify: {name} will not be checked against a checksum", file=sys.stderr)

    if final.exists():
        if expected is None:
            print(f"{final} already exists (not verified: --no-verify); nothing to download", file=sys.stderr)
            return final
        algo, digest, source = expected
        got = file_digest(final, algo, progress)
        if got != digest:
            raise DownloadError(f"{final} already exists but its {algo} is {got}, expected {digest} "
                                f"(from {source}); move it away to download again")
        print(f"{final} already exists and its {algo} matches; nothing to download", file=sys.stderr)
        return final

    out_dir.mkdir(parents=True, exist_ok=True)
    total = _fetch(url, part, timeout=timeout, retries=retries, backoff=backoff, progress=progress)
    size = part.stat().st_size
    if total is not None and size != total:  # _fetch only returns complete files; never rename a partial one
        raise DownloadError(f"{part} has {size} of {total} bytes; rerun to resume")
    if expected is not None:
        algo, digest, source = expected
        got = file_digest(part, algo, progress)
        if got != digest:
            part.unlink()
            raise DownloadError(f"{name}: {algo} mismatch: expected {digest} (from {source}), got {got}; "
                                f"removed the download, rerun to fetch it again")
    with open(part, "rb") as f:
        os.fsync(f.fileno())
    os.replace(part, final)
    return final


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"error: {message} (see --help)\n")


def _at_least(minimum: float, kind: type, strict: bool = False) -> Callable[[str], float]:
    def parse(text: str):
        value = kind(text)
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum}, got {text}")
        return value
    return parse


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--retries and --timeout, as every download tool here takes them."""
    parser.add_argument("--retries", metavar="N", type=_at_least(0, int), default=5,
                        help="retries after connection errors, timeouts and HTTP 5xx/429, with doubling back-off "
                             "from 1 s; the count restarts whenever bytes arrive (default 5)")
    parser.add_argument("--timeout", metavar="S", type=_at_least(0, float, strict=True), default=60.0,
                        help="seconds without data before a retry (default 60)")


def run(body: Callable[[], Path], *errors: type[Exception]) -> int:
    """A tool's work (returning the path it wrote) → exit status: 0 with the path on stdout, 2 with one
    `error:` line on stderr (DownloadError, OSError such as a full disk, or one of `errors`), 130 after
    Ctrl-C (the .part file stays for the next run)."""
    try:
        output = body()
    except (DownloadError, OSError, *errors) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the .part file stays; rerun the same command to resume", file=sys.stderr)
        return 130
    print(output)
    return 0


def main(argv=None) -> int:
    parser = _Parser(prog="python tools/download_wiki.py", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", metavar="URL", help="full URL of the dump file (or use --dump-date and --part)")
    parser.add_argument("--dump-date", metavar="YYYYMMDD", help="dump date YYYYMMDD, e.g. 20261101 (with --part)")
    parser.add_argument("--part", metavar="NAME",
                        help="file name within the dump, with or without the 'enwiki-<date>-' prefix, "
                             "e.g. pages-articles1.xml-p1p41242.bz2 or pages-articles.xml.bz2")
    parser.add_argument("--mirror", metavar="URL", help=f"dump mirror for --dump-date (default {DEFAULT_MIRROR})")
    parser.add_argument("--output", metavar="DIR", required=True, help="folder for the file (created if missing)")
    parser.add_argument("--checksum-url", metavar="URL",
                        help="checksum list ('<hex>  <name>' lines; URL or local path) instead of the dump's "
                             "<wiki>-<date>-sha1sums.txt / -md5sums.txt")
    parser.add_argument("--no-verify", action="store_true", help="skip the checksum check (size is still checked)")
    add_network_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.url and (args.dump_date or args.part or args.mirror):
        parser.error("give either --url or --dump-date with --part (and --mirror), not both")
    if not args.url and not (args.dump_date and args.part):
        parser.error("give --url, or --dump-date together with --part")
    if args.no_verify and args.checksum_url:
        parser.error("--no-verify and --checksum-url contradict each other")
    def body() -> Path:
        url = args.url or dump_url(args.dump_date, args.part, args.mirror or DEFAULT_MIRROR)
        return download(url, args.output, args.checksum_url, not args.no_verify, args.retries,
                        timeout=args.timeout, progress=False if args.quiet else None)

    return run(body)

if __name__ == "__main__":
    sys.exit(main())
