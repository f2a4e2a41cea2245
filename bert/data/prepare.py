"""The whole data chain in one command: an enwiki `*.xml.bz2` or `*.xml` dump (or sentence-per-line text)
in, MindRecord MLM+NSP shards out — extract → sentences → examples, resumable and shardable.

    python -m bert.data.prepare --input enwiki.xml.bz2 --vocab vocab.txt --output data/wiki [key=value …]

Layout of --output: extracted/ (wikiextractor), text/ (one sentence per line), examples/
(*.mindrecord + manifest.json). Complete shards are skipped on a re-run; partial ones redone.
With --shard-index/--num-shards (default: the Slurm array task) each task does its share of the
sentences and examples stages; the extract stage must then have run before, as one task.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bert.config import ConfigError
from bert.data.config import add_config_arguments, config_from_args
from bert.data.examples import examples_stage, text_shards
from bert.data import DataError
from bert.data.extract import dump_head, extract, extracted_files
from bert.data.sentences import add_shard_arguments, sentences_stage
from bert.data.shards import MANIFEST
from bert.data.vocab import write_vocab
from bert.tokenization import VocabError

STAGES = ("extract", "sentences", "examples")


def is_dump(path: Path) -> bool:
    """A MediaWiki export (bz2 or plain XML), whatever its name; text shards are not."""
    return path.suffix in (".bz2", ".xml") or dump_head(path) is not None


def prepare(input_path, vocab, output, cfg, workers=1, shard_index=0, num_shards=1, stages=STAGES,
            build_vocab: int = 0) -> Path:
    """Run the requested stages; returns the examples folder. With `build_vocab` > 0 a missing
    `vocab` file is first trained (WordPiece of that size) on the text shards."""
    input_path, output = Path(input_path), Path(output)
    text_dir = output / "text"
    if is_dump(input_path):
        if "extract" in stages:
            if num_shards > 1 and not extracted_files(output / "extracted"):
                raise DataError(f"{output / 'extracted'} is missing: run the extract stage first, as one task")
            extract(input_path, output / "extracted", cfg.shard_bytes, processes=workers)
        if "sentences" in stages:
            sentences_stage(output / "extracted", text_dir, cfg, workers, shard_index, num_shards)
    elif input_path.exists():
        text_dir = input_path  # already one sentence per line
    else:
        raise DataError(f"input {input_path} does not exist")
    if build_vocab and not Path(vocab).is_file() and ("sentences" in stages or "examples" in stages):
        if num_shards > 1:
            raise DataError(f"vocab {vocab} is missing: build it (one task) before splitting the work")
        write_vocab(text_shards(text_dir), Path(vocab), build_vocab, lowercase=cfg.do_lower_case is not False)
    if "examples" in stages:
        examples_stage(text_dir, vocab, output / "examples", cfg, workers, shard_index, num_shards)
    return output / "examples"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.data.prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="*.xml.bz2 or *.xml dump, or a .txt shard / folder of them")
    parser.add_argument("--vocab", required=True, help="Google-format vocab.txt")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--build-vocab", type=int, default=0, metavar="SIZE",
                        help="train a WordPiece vocab of SIZE tokens into --vocab first, when that file is missing")
    add_shard_arguments(parser)
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    stages = tuple(s for s in args.stages.split(",") if s)
    start = time.time()
    try:
        unknown = sorted(set(stages) - set(STAGES))
        if unknown:
            raise DataError(f"unknown stage {unknown[0]} (stages: {', '.join(STAGES)})")
        cfg = config_from_args(args)
        examples = prepare(args.input, args.vocab, args.output, cfg, args.workers, args.shard_index,
                           args.num_shards, stages, args.build_vocab)
    except (DataError, ConfigError, VocabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = examples / MANIFEST
    if manifest.is_file():
        totals = json.loads(manifest.read_text())["totals"]
        print(f"prepared {totals.get('instances', 0)} instances from {totals.get('documents', 0)} documents "
              f"({totals.get('tokens', 0)} tokens) into {examples} in {time.time() - start:.1f} s")
    else:
        print(f"task {args.shard_index}/{args.num_shards} done in {time.time() - start:.1f} s; "
              f"manifest follows when every task is done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
