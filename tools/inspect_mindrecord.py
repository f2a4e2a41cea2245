#!/usr/bin/env python3
"""MindRecord shards of pretraining examples (a shard or a folder) + vocab.txt in, instances as text and a summary out.

    python tools/inspect_mindrecord.py DIR/examples --vocab vocab.txt [-n 3] [--summary-only]

Each of the first N instances is printed as its tokens up to the padding, the segment ids
run-length encoded (`segments: 0×12 1×40`), each masked position as `position→original (shown)`
and the next-sentence label (random or actual).

The summary has one line per shard and a total line; its columns:
  rows          instances in the file
  mean_len      mean real length (tokens before the padding)
  full          share of rows whose real length is max_seq_length
  masked/row    masked positions per row
  masked_frac   masked positions / real tokens other than [CLS] and [SEP] (Google: ~0.15)
  [MASK] random original
                how the masked positions are shown in input_ids (Google: 0.8 / 0.1 / 0.1)
  nsp_random    share of rows whose second segment is a random one (Google: 0.5)
  MiB           size of the .mindrecord file and its .db index
An examples folder's manifest.json (written by `python -m bert.data.examples`) adds its totals.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from bert.data import DataError
from bert.data.mindrecord import COLUMNS, SUFFIX, read_rows, shard_files
from bert.data.shards import MANIFEST
from bert.tokenization import Tokenizer, VocabError

HEADER = (f"{'file':<28} {'rows':>7} {'mean_len':>8} {'full':>6} {'masked/row':>10} {'masked_frac':>11} "
          f"{'[MASK]':>6} {'random':>6} {'original':>8} {'nsp_random':>10} {'MiB':>8}")


@dataclasses.dataclass
class Summary:
    """Counts over rows, added up per file and in total."""

    rows: int = 0
    tokens: int = 0  # real tokens, [CLS]/[SEP] included
    full_rows: int = 0
    maskable: int = 0  # real tokens other than [CLS]/[SEP]
    masked: int = 0
    shown_mask: int = 0
    shown_original: int = 0
    random_next: int = 0
    size: int = 0

    def __iadd__(self, other: "Summary") -> "Summary":
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self

    def line(self, name: str) -> str:
        rows, masked = max(self.rows, 1), max(self.masked, 1)
        shown_random = self.masked - self.shown_mask - self.shown_original
        return (f"{name:<28} {self.rows:>7} {self.tokens / rows:>8.1f} {self.full_rows / rows:>6.3f} "
                f"{self.masked / rows:>10.2f} {self.masked / max(self.maskable, 1):>11.3f} "
                f"{self.shown_mask / masked:>6.3f} {shown_random / masked:>6.3f} {self.shown_original / masked:>8.3f} "
                f"{self.random_next / rows:>10.3f} {self.size / 2**20:>8.1f}")


@dataclasses.dataclass
class Row:
    """One instance with its padding and unused prediction slots cut off."""

    ids: np.ndarray  # as fed to the model, masks applied
    segments: np.ndarray
    positions: np.ndarray
    originals: np.ndarray
    random_next: bool
    max_length: int

    @classmethod
    def from_columns(cls, row: dict[str, np.ndarray]) -> "Row":
        length = int(row["input_mask"].sum())
        used = row["masked_lm_weights"] > 0
        return cls(row["input_ids"][:length], row["segment_ids"][:length], row["masked_lm_positions"][used],
                   row["masked_lm_ids"][used], bool(row["next_sentence_labels"][0]), len(row["input_ids"]))


def runs(values: np.ndarray) -> str:
    """Run-length encoding: [0, 0, 0, 1, 1] → '0×3 1×2'."""
    starts = np.flatnonzero(np.diff(values, prepend=values[:1] - 1))
    lengths = np.diff(np.append(starts, len(values)))
    return " ".join(f"{values[s]}×{n}" for s, n in zip(starts, lengths))


def describe(row: Row, tokenizer: Tokenizer, title: str) -> str:
    """An instance as text: tokens, segments, masked positions, next-sentence label."""
    masked = "  ".join(f"{p}→{original} ({shown})" for p, original, shown in zip(
        row.positions, tokenizer.convert_ids_to_tokens(row.originals),
        tokenizer.convert_ids_to_tokens(row.ids[row.positions])))
    return "\n".join([f"--- {title}: {len(row.ids)} tokens", " ".join(tokenizer.convert_ids_to_tokens(row.ids)),
                      f"segments: {runs(row.segments)}", f"masked: {masked}",
                      f"next_sentence: {'random' if row.random_next else 'actual'}", ""])


def count(row: Row, tokenizer: Tokenizer) -> Summary:
    """One row's counts; a masked position showing neither [MASK] nor its original got a random token."""
    original = row.ids.copy()
    original[row.positions] = row.originals
    shown = row.ids[row.positions]
    return Summary(rows=1, tokens=len(row.ids), full_rows=int(len(row.ids) == row.max_length),
                   maskable=int(np.isin(original, (tokenizer.cls_id, tokenizer.sep_id), invert=True).sum()),
                   masked=len(row.positions), shown_mask=int((shown == tokenizer.mask_id).sum()),
                   shown_original=int((shown == row.originals).sum()), random_next=int(row.random_next))


def inspect_file(path: Path, tokenizer: Tokenizer, show: int) -> Summary:
    """Print the first `show` instances of one shard; returns its summary."""
    summary = Summary()
    try:
        for index, columns in enumerate(read_rows(path, COLUMNS)):
            top = max(columns["input_ids"].max(), columns["masked_lm_ids"].max())
            if top >= tokenizer.vocab_size:
                raise DataError(f"{path} row {index} has token id {top}, but {tokenizer.vocab_file} holds "
                                f"{tokenizer.vocab_size} tokens: not the vocab these examples were made with")
            row = Row.from_columns(columns)
            if index < show:
                print(describe(row, tokenizer, f"{path.name} row {index}"))
            summary += count(row, tokenizer)
    except RuntimeError as exc:  # MindSpore's reader: multi-line text, the reason on its [ERROR] line
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = next((line for line in lines if line.startswith("[ERROR]")), lines[0] if lines else "unreadable")
        raise DataError(f"{path} is not a MindRecord shard of pretraining examples: "
                        f"{reason.removeprefix('[ERROR]').strip()}") from None
    summary.size = path.stat().st_size + path.with_name(path.name + ".db").stat().st_size
    return summary


def shards_of(path: Path) -> list[Path]:
    """A shard → [it]; an examples folder → its complete shards, sorted."""
    if path.is_dir():
        files = shard_files(path)
        if not files:
            raise DataError(f"{path} holds no complete MindRecord shards (*{SUFFIX} with its .json marker)")
        return files
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if not path.with_name(path.name + ".db").is_file():
        raise DataError(f"{path} is not a MindRecord shard: its index {path.name}.db is missing")
    return [path]


def manifest_totals(directory: Path) -> str | None:
    """The `totals` of an examples folder's manifest.json as one line, or None without one."""
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        totals = json.loads(path.read_text(encoding="utf-8"))["totals"]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{path} is not an examples manifest (JSON with 'totals')") from None
    return f"{MANIFEST} totals: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/inspect_mindrecord.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", metavar="SHARD_OR_DIR", help=f"a *{SUFFIX} shard or an examples folder")
    parser.add_argument("--vocab", required=True, help="the vocab.txt the examples were made with")
    parser.add_argument("-n", type=int, default=3, help="instances to print, from the first shards on (default: 3)")
    parser.add_argument("--summary-only", action="store_true", help="print no instances, only the summary")
    args = parser.parse_args(argv)
    path = Path(args.path)
    try:
        if args.n < 0:
            raise DataError(f"-n must be >= 0, got {args.n}")
        tokenizer = Tokenizer(args.vocab)
        files = shards_of(path)
        show = 0 if args.summary_only else args.n
        total = Summary()
        lines = []
        for file in files:
            summary = inspect_file(file, tokenizer, show)
            show = max(show - summary.rows, 0)
            lines.append(summary.line(file.name))
            total += summary
        manifest = manifest_totals(path) if path.is_dir() else None
    except (DataError, VocabError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join([HEADER, *lines, total.line("total")]))
    if manifest:
        print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
