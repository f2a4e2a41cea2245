#!/usr/bin/env python3
"""GLUE task names in, checked task folders DIR/<TASK>/ (and DIR/diagnostic/diagnostic.tsv for AX) out; or --demo.

The downloads are the ones of GLUE's download_glue_data.py (W4ngatang's gist): CoLA, SST-2,
QQP-clean, STS-B, MNLI, QNLIv2, RTE and WNLI as zips from dl.fbaipublicfiles.com/glue/data/;
MRPC as SentEval's msr_paraphrase_train.txt and msr_paraphrase_test.txt plus GLUE's
mrpc_dev_ids.tsv, split into train/dev/test.tsv the way that script does; AX as AX.tsv, which
becomes diagnostic/diagnostic.tsv. Each is fetched into DIR (DIR/MNLI.zip, resumable through its
.part file) with tools/download_wiki.py's downloader and checked against its --sha256. Only when
every download of the run is complete and checked is anything unpacked: each zip into a temporary
folder (members with absolute paths or '..' are refused), then every file of the task and its header
line (CoLA's headerless train/dev: the width of its first line) is checked against bert.glue.tasks'
table, and only then is the folder renamed to DIR/<TASK>, replacing what was there. A folder with
its final name is always complete.

We know no checksums offline: the first run without --sha256 downloads, prints each file's SHA-256
and stops (exit 2) without unpacking; rerun with the --sha256 flags it prints once you have checked
them (the downloads are reused), or pass --no-verify. A task with one download takes TASK=HEX
(AX for AX.tsv); MRPC's three files take their file names: msr_paraphrase_train.txt=HEX,
msr_paraphrase_test.txt=HEX, mrpc_dev_ids.tsv=HEX.

  python tools/download_glue.py --output data/glue --tasks MNLI,SST-2 --sha256 MNLI=<hex> --sha256 SST-2=<hex>
  python tools/download_glue.py --output data/glue --tasks all --no-verify
  python tools/download_glue.py --output data/glue --demo    # generated stand-ins, no network

--demo writes bert.glue.demo's generated sets (each folder marked by DEMO.txt; not GLUE)
instead. Prints the output folder on stdout; progress and warnings go to stderr.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import urllib.parse
import zipfile
from pathlib import Path, PureWindowsPath
from typing import Callable

import download_wiki as dw  # tools/download_wiki.py: this script's folder is on sys.path

from bert.atomic import atomic_directory
from bert.glue import demo as glue_demo, tasks as glue

DEFAULT_BASE_URL = "https://dl.fbaipublicfiles.com"
ZIPS = {"CoLA": "glue/data/CoLA.zip", "SST-2": "glue/data/SST-2.zip", "QQP": "glue/data/QQP-clean.zip",
        "STS-B": "glue/data/STS-B.zip", "MNLI": "glue/data/MNLI.zip", "QNLI": "glue/data/QNLIv2.zip",
        "RTE": "glue/data/RTE.zip", "WNLI": "glue/data/WNLI.zip"}
MRPC_TRAIN, MRPC_TEST, MRPC_DEV_IDS = "msr_paraphrase_train.txt", "msr_paraphrase_test.txt", "mrpc_dev_ids.tsv"
MRPC_FILES = {MRPC_TRAIN: f"senteval/senteval_data/{MRPC_TRAIN}", MRPC_TEST: f"senteval/senteval_data/{MRPC_TEST}",
              MRPC_DEV_IDS: f"glue/data/{MRPC_DEV_IDS}"}
AX = glue_demo.AX
AX_FILE = "glue/data/AX.tsv"
ALL = glue_demo.ALL  # the nine tasks of bert.glue.tasks.TASKS, then AX


class GlueError(ValueError):
    """Anything that stops the tool short of a task folder; the message is the one-line reason."""


class MissingChecksums(GlueError):
    """Downloads verified against nothing because no --sha256 named them: their SHA-256s, and the flags
    that would name them."""

    def __init__(self, digests: dict[str, tuple[Path, str]], flag: Callable[[str, str], str]):
        self.digests = digests  # checksum key → (downloaded file, its sha256)
        found = ", ".join(f"{path} has sha256 {digest}" for path, digest in digests.values())
        flags = " ".join(flag(key, digest) for key, (_, digest) in digests.items())
        one = len(digests) == 1
        super().__init__(f"no --sha256 given{'' if one else ' for ' + str(len(digests)) + ' files'}; {found}: "
                         f"check {'it' if one else 'them'}, then rerun with {flags} "
                         f"(the download{' is' if one else 's are'} reused), or pass --no-verify")


def glue_flag(key: str, digest: str) -> str:
    return f"--sha256 {key}={digest}"


# ---------------------------------------------------------------- what to fetch

def parse_tasks(text: str) -> list[str]:
    """'all' or comma-separated names (any case; 'diagnostic' for AX) → task names in GLUE's spelling."""
    names = {name.lower(): name for name in ALL} | {glue.DIAGNOSTIC_DIR: AX}
    tasks: list[str] = []
    for word in (w.strip() for w in text.split(",")):
        task = ALL if word.lower() == "all" else [names.get(word.lower())]
        if task == [None]:
            raise GlueError(f"unknown task {word!r} in --tasks; choose from all, {', '.join(ALL)}")
        tasks += [t for t in task if t not in tasks]
    return tasks


def downloads(task: str, base_url: str = DEFAULT_BASE_URL) -> dict[str, str]:
    """Task name → {checksum key: URL} of its downloads (key: the task, or MRPC's file names)."""
    base = base_url.rstrip("/")
    if task == "MRPC":
        return {name: f"{base}/{path}" for name, path in MRPC_FILES.items()}
    return {task: f"{base}/{AX_FILE if task == AX else ZIPS[task]}"}


def parse_sha256(items: list[str], tasks: list[str]) -> dict[str, str]:
    """--sha256 KEY=HEX values + the run's tasks → {checksum key: lower-case hex}."""
    keys: dict[str, str] = {}  # any accepted spelling, lower-cased → checksum key
    for task in tasks:
        for key, url in downloads(task).items():
            keys[key.lower()] = keys[dw.file_name(url).lower()] = key
    if AX in tasks:
        keys[glue.DIAGNOSTIC_DIR] = AX
    out: dict[str, str] = {}
    for item in items:
        name, sep, digest = item.partition("=")
        key = keys.get(name.strip().lower())
        if not sep or not re.fullmatch(r"[0-9a-fA-F]{64}", digest.strip()):
            raise GlueError(f"--sha256 takes TASK=HEX with 64 hex digits, got {item!r}")
        if key is None:
            if name.strip().lower() == "mrpc" and "MRPC" in tasks:
                raise GlueError(f"MRPC downloads three files: give --sha256 {MRPC_TRAIN}=HEX, "
                                f"--sha256 {MRPC_TEST}=HEX and --sha256 {MRPC_DEV_IDS}=HEX")
            raise GlueError(f"--sha256 {name.strip()}=...: no download of --tasks {','.join(tasks)} has that name")
        if key in out:
            raise GlueError(f"--sha256 for {key} given twice")
        out[key] = digest.strip().lower()
    return out


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


def download_all(urls: dict[str, str], folder: Path, sha256: dict[str, str], verify: bool = True, *,
                 retries: int = 5, timeout: float = 60.0, flag: Callable[[str, str], str] = glue_flag
                 ) -> dict[str, Path]:
    """{checksum key: URL} + folder + {key: expected SHA-256} → {key: folder/<file name>}, each complete and
    checked against its SHA-256.

    verify with some key's SHA-256 missing: everything is still downloaded, then MissingChecksums
    reports the SHA-256 of each such file (`flag(key, digest)` spells the option that would give it).
    """
    paths: dict[str, Path] = {}
    missing: dict[str, tuple[Path, str]] = {}
    for key, url in urls.items():
        paths[key] = fetch(url, folder, sha256.get(key), retries=retries, timeout=timeout)
        if verify and key not in sha256:
            missing[key] = (paths[key], dw.file_digest(paths[key], "sha256"))
    if missing:
        raise MissingChecksums(missing, flag)
    return paths


# ---------------------------------------------------------------- checking and unpacking

def check_members(archive: zipfile.ZipFile, name: str) -> None:
    """Open zip + its name for messages → nothing, or GlueError for a member that would land outside."""
    for member in archive.namelist():
        path = PureWindowsPath(member)  # splits at '/' and '\\'; its anchor catches '/x', '\\x' and 'C:x'
        if path.anchor or ".." in path.parts:
            raise GlueError(f"{name} has a member with an absolute path or '..': {member!r}; not unpacking it")


def first_line(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.readline().rstrip("\r\n")


def check_layout(root: Path, task: str, source: str) -> None:
    """Task folder + task name (or AX) + what it came from (for messages) → nothing, or GlueError naming
    the missing file or the file whose first line is not the table's."""
    layouts = glue_demo.files(task)
    names = [layout.file for layout in layouts.values()]
    what = "the GLUE diagnostic" if task == AX else f"GLUE {task}"
    for layout in layouts.values():
        path = root / layout.file
        if not path.is_file():
            raise GlueError(f"{source} is not {what}: it has no {layout.file} (expected {', '.join(names)})")
        first = first_line(path)
        if layout.header is not None and first != "\t".join(layout.header):
            raise GlueError(f"{source} is not {what}: {layout.file} starts with {first!r}, "
                            f"expected {chr(9).join(layout.header)!r}")
        if layout.header is None and len(first.split("\t")) != layout.width:
            raise GlueError(f"{source} is not {what}: {layout.file} starts with {first!r}, which has "
                            f"{len(first.split(chr(9)))} tab-separated fields, not {layout.width}")


def unpack(zip_path: Path, output: Path, task: str) -> None:
    """A task's zip + its folder + task name → that folder replaced, atomically, by the zip's checked files.

    GLUE's zips keep their files in one top folder (MNLI/); its contents become the output folder.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive, atomic_directory(output) as tmp:
            check_members(archive, zip_path.name)
            archive.extractall(tmp)
            shutil.rmtree(tmp / "__MACOSX", ignore_errors=True)  # resource forks of a zip made on a Mac
            entries = list(tmp.iterdir())
            root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
            check_layout(root, task, zip_path.name)
            if root != tmp:
                for entry in list(root.iterdir()):
                    entry.rename(tmp / entry.name)
                root.rmdir()
    except zipfile.BadZipFile as exc:
        raise GlueError(f"{zip_path} is not a readable zip ({exc})") from None


def _msr_rows(path: Path) -> list[list[str]]:
    """SentEval's msr_paraphrase_*.txt → its rows (Quality, #1 ID, #2 ID, #1 String, #2 String)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()  # the Microsoft files may start with a BOM
    header = glue.TASKS["MRPC"].train.header
    if not lines or lines[0].strip() != "\t".join(header):
        raise GlueError(f"{path.name} is not SentEval's MRPC file: it starts with {(lines or [''])[0]!r}, "
                        f"expected {chr(9).join(header)!r}")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        if line.strip():
            fields = line.strip().split("\t")
            if len(fields) != len(header):
                raise GlueError(f"{path.name}:{number}: expected {len(header)} tab-separated fields, got {len(fields)}")
            rows.append(fields)
    return rows


def build_mrpc(files: dict[str, Path], output: Path) -> None:
    """MRPC's three downloads + its folder → that folder replaced, atomically, by train/dev/test.tsv.

    As download_glue_data.py: the training pairs whose (#1 ID, #2 ID) mrpc_dev_ids.tsv lists go to
    dev.tsv, the others to train.tsv; test.tsv numbers the test pairs and drops their labels.
    """
    spec = glue.TASKS["MRPC"]
    dev_ids = {tuple(line.strip().split("\t")[:2])
               for line in files[MRPC_DEV_IDS].read_text(encoding="utf-8-sig").splitlines() if line.strip()}
    train = _msr_rows(files[MRPC_TRAIN])
    test = _msr_rows(files[MRPC_TEST])
    dev = [row for row in train if (row[1], row[2]) in dev_ids]
    if not dev:
        raise GlueError(f"{MRPC_DEV_IDS} names none of the pairs of {MRPC_TRAIN}")
    with atomic_directory(output) as tmp:
        for layout, rows in ((spec.train, [row for row in train if (row[1], row[2]) not in dev_ids]),
                             (spec.dev["dev"], dev),
                             (spec.test["MRPC"], [[str(i), *row[1:]] for i, row in enumerate(test)])):
            text = "\n".join(["\t".join(layout.header), *("\t".join(row) for row in rows), ""])
            (tmp / layout.file).write_text(text, encoding="utf-8")
        check_layout(tmp, "MRPC", "MRPC's files")


def install(task: str, files: dict[str, Path], root: Path) -> Path:
    """Task name + its checked downloads + the GLUE root → root/<task folder>, replaced atomically."""
    output = root / glue_demo.folder(task)
    if task == "MRPC":
        build_mrpc(files, output)
    elif task == AX:
        with atomic_directory(output) as tmp:
            shutil.copyfile(files[AX], tmp / glue.DIAGNOSTIC.file)
            check_layout(tmp, AX, files[AX].name)
    else:
        unpack(files[task], output, task)
    print(f"{task}: {output}", file=sys.stderr)
    return output


def write_demo(root: Path, tasks: list[str]) -> None:
    """GLUE root + task names → each task's folder replaced, atomically, by bert.glue.demo's set."""
    for task in tasks:
        with atomic_directory(root / glue_demo.folder(task)) as tmp:
            glue_demo.write_task(tmp, task)


def main(argv=None) -> int:
    parser = dw._Parser(prog="python tools/download_glue.py", description=__doc__,  # one-line errors, exit 2
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", metavar="DIR", required=True,
                        help="GLUE root: gets <TASK>/ per task and diagnostic/ for AX (each replaced if it exists) "
                             "and keeps the downloads")
    parser.add_argument("--tasks", metavar="LIST", default="all",
                        help=f"'all' (default) or comma-separated names from {','.join(ALL)} "
                             "(any case; 'diagnostic' also means AX)")
    parser.add_argument("--sha256", metavar="TASK=HEX", action="append", default=[],
                        help="expected SHA-256 (64 hex digits) of a task's download; repeat per task. MRPC's "
                             f"three files take their names: {MRPC_TRAIN}=HEX, {MRPC_TEST}=HEX, {MRPC_DEV_IDS}=HEX")
    parser.add_argument("--no-verify", action="store_true", help="unpack without checking any SHA-256")
    parser.add_argument("--base-url", metavar="URL",
                        help=f"server to download from instead of {DEFAULT_BASE_URL} (same paths below it: "
                             "glue/data/…, senteval/senteval_data/…)")
    parser.add_argument("--demo", action="store_true",
                        help="write the generated demo sets instead (bert.glue.demo; no network, not GLUE)")
    dw.add_network_arguments(parser)
    args = parser.parse_args(argv)
    try:
        tasks = parse_tasks(args.tasks)
        sha256 = parse_sha256(args.sha256, tasks)
    except GlueError as exc:
        parser.error(str(exc))
    if args.demo and (args.sha256 or args.no_verify or args.base_url):
        parser.error("--demo downloads nothing: drop --sha256, --no-verify and --base-url")
    if args.sha256 and args.no_verify:
        parser.error("--sha256 and --no-verify contradict each other")
    base_url = args.base_url or DEFAULT_BASE_URL
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        parser.error(f"--base-url must be an http(s) URL like {DEFAULT_BASE_URL}, got {base_url!r}")
    output = Path(args.output)

    def body() -> Path:
        if output.exists() and not output.is_dir():
            raise GlueError(f"output {output} exists and is not a directory")
        if args.demo:
            write_demo(output, tasks)
            return output
        created = not output.exists()
        try:
            urls = {key: url for task in tasks for key, url in downloads(task, base_url).items()}
            files = download_all(urls, output, sha256, not args.no_verify, retries=args.retries, timeout=args.timeout)
            for task in tasks:
                install(task, files, output)
        except BaseException:
            if created and output.is_dir() and not any(output.iterdir()):
                output.rmdir()  # a failed first run leaves no empty folder behind
            raise
        return output

    return dw.run(body, GlueError)


if __name__ == "__main__":
    sys.exit(main())
