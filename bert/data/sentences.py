"""Stage `sentences`: wikiextractor JSON-lines files in, text shards out — one sentence per
line, a blank line between documents (Google's pretraining text format), one shard per file.

    python -m bert.data.sentences --input DIR/extracted --output DIR/text [--workers N]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from sentencex import segment

from bert.atomic import remove_stale_temporaries, temporary_sibling
from bert.config import ConfigError
from bert.data import DataError, shards
from bert.data.config import DataConfig, add_config_arguments, config_from_args
from bert.data.extract import extracted_files

LIST_OR_TABLE = re.compile(r"^\s|^[*#|!{}=;:-]")  # list items, tables, templates, indented debris


def clean_paragraphs(text: str, heading_max_words: int) -> list[str]:
    """Article text → prose paragraphs: section headings, list/table debris and list intros dropped.

    wikiextractor writes a section heading as its own line ending in "." ("Early life."); Google
    and NVIDIA keep only running text, so a line of at most `heading_max_words` words ending in
    "." is taken for a heading, and a line ending in ":" for the intro of a list that is gone.
    """
    kept = []
    for line in text.split("\n"):
        if not line.strip() or LIST_OR_TABLE.match(line):
            continue
        line = line.strip()
        if line.endswith(":") or (line.endswith(".") and len(line.split()) <= heading_max_words):
            continue
        kept.append(line)
    return kept


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in segment("en", paragraph) if s.strip()]


def document_sentences(text: str, heading_max_words: int) -> list[str]:
    return [s for p in clean_paragraphs(text, heading_max_words) for s in split_sentences(p)]


def read_extracted(path: Path):
    """Yield (title, text) per article of one wikiextractor --json file."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                article = json.loads(line)
                yield article["title"], article["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError(f"{path}:{number}: not a wikiextractor --json line") from None


def text_shard_name(extracted: Path) -> str:
    """AA/wiki_03 → AA_wiki_03.txt (stable, sortable, unique across wikiextractor folders)."""
    return f"{extracted.parent.name}_{extracted.name}.txt"


def write_text_shard(source: Path, output: Path, heading_max_words: int, min_sentences: int) -> dict:
    """One extracted file → one text shard (temporary name, then renamed) + its stats marker."""
    docs = sentences = chars = dropped = 0
    remove_stale_temporaries(output)  # a killed earlier attempt's
    tmp = temporary_sibling(output)
    with open(tmp, "w", encoding="utf-8") as out:
        for _title, text in read_extracted(source):
            lines = document_sentences(text, heading_max_words)
            if len(lines) < min_sentences:
                dropped += 1  # redirects, stubs and disambiguation debris
                continue
            out.write("\n".join(lines) + "\n\n")
            docs, sentences, chars = docs + 1, sentences + len(lines), chars + sum(map(len, lines))
    os.replace(tmp, output)
    stats = {"documents": docs, "sentences": sentences, "characters": chars, "dropped_documents": dropped}
    shards.write_stats(output, stats)
    return stats


def sentences_stage(extracted_dir, output_dir, cfg: DataConfig, workers=1, shard_index=0,
                    num_shards=1) -> list[Path]:
    """Write this task's text shards (complete ones are skipped); returns every shard's path."""
    extracted_dir, output_dir = Path(extracted_dir), Path(output_dir)
    sources = extracted_files(extracted_dir)
    if not sources:
        raise DataError(f"{extracted_dir} holds no wikiextractor output (*/wiki_*)")
    output_dir.mkdir(parents=True, exist_ok=True)
    outputs = [output_dir / text_shard_name(s) for s in sources]
    todo = [(s, o, cfg.heading_max_words, cfg.min_document_sentences)
            for s, o in shards.owned(list(zip(sources, outputs)), shard_index, num_shards)
            if not shards.is_complete(o)]
    shards.run_parallel(write_text_shard, todo, workers, "sentences")
    shards.write_manifest(output_dir, outputs, {"heading_max_words": cfg.heading_max_words,
                                                "min_document_sentences": cfg.min_document_sentences,
                                                "source": str(extracted_dir)})
    return outputs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.data.sentences", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="wikiextractor --json output folder")
    parser.add_argument("--output", required=True, help="folder for the text shards")
    add_shard_arguments(parser)
    add_config_arguments(parser)  # heading_max_words=N, min_document_sentences=N
    args = parser.parse_args(argv)
    try:
        outputs = sentences_stage(args.input, args.output, config_from_args(args), args.workers, args.shard_index,
                                  args.num_shards)
    except (DataError, ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(outputs)} text shards in {args.output}")
    return 0


def add_shard_arguments(parser: argparse.ArgumentParser) -> None:
    """--workers, and --shard-index/--num-shards defaulting to the Slurm array task."""
    index, count = shards.array_defaults()
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes on this machine")
    parser.add_argument("--shard-index", type=int, default=index,
                        help="this task's index among --num-shards (default: SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--num-shards", type=int, default=count,
                        help="tasks splitting the shards (default: SLURM_ARRAY_TASK_COUNT or 1)")


if __name__ == "__main__":
    sys.exit(main())
