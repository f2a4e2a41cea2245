"""Stage `examples`: text shards (one sentence per line, blank line between documents) in,
MindRecord shards of MLM+NSP pretraining instances out — one per text shard, streamed per dupe pass.

    python -m bert.data.examples --input DIR/text --vocab vocab.txt --output DIR/examples [key=value …]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bert.config import ConfigError
from bert.data import shards
from bert.data.config import DataConfig, load_data_config
from bert.data.extract import DataError
from bert.data.mindrecord import COLUMNS, SUFFIX, write_shard
from bert.data.pretraining import Vocab, dupe_passes, shard_seed, to_features
from bert.tokenization import Tokenizer, VocabError, file_sha256

WRITE_BATCH = 2048


def read_documents(path: Path, tokenizer: Tokenizer) -> list[list[list[int]]]:
    """A text shard → documents as lists of tokenized sentences (tokenized in one batch per doc)."""
    documents: list[list[list[int]]] = []
    lines: list[str] = []

    def flush():
        if lines:
            documents.append([ids for ids in tokenizer.ids_batch(lines) if ids])
            lines.clear()

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                lines.append(line)
            else:
                flush()
    flush()
    return [d for d in documents if d]


def write_examples_shard(text_path: Path, output: Path, vocab_file: Path, cfg: DataConfig) -> dict:
    """One text shard → one MindRecord shard (+ stats marker written last)."""
    tokenizer = Tokenizer(vocab_file, lowercase=cfg.do_lower_case)
    vocab = Vocab.from_tokenizer(tokenizer)
    documents = read_documents(text_path, tokenizer)
    if not documents:
        raise DataError(f"text shard {text_path} holds no sentences")
    stats = {"documents": len(documents), "instances": 0, "tokens": 0, "masked_tokens": 0, "random_next": 0}

    def batches():
        for instances in dupe_passes(documents, cfg, vocab, shard_seed(cfg.random_seed, text_path.name)):
            for start in range(0, len(instances), WRITE_BATCH):
                chunk = instances[start:start + WRITE_BATCH]
                stats["instances"] += len(chunk)
                stats["tokens"] += sum(len(i.tokens) for i in chunk)
                stats["masked_tokens"] += sum(len(i.masked_positions) for i in chunk)
                stats["random_next"] += sum(i.is_random_next for i in chunk)
                yield [to_features(i, cfg, vocab.pad_id) for i in chunk]

    write_shard(output, batches())
    shards.write_stats(output, stats)
    return stats


def text_shards(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.glob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"{path} holds no text shards (*.txt)")
    return files


def examples_stage(text_dir, vocab_file, output_dir, cfg: DataConfig, workers=1, shard_index=0,
                   num_shards=1) -> list[Path]:
    """Write this task's MindRecord shards (complete ones skipped); returns every shard's path."""
    vocab_file, output_dir = Path(vocab_file), Path(output_dir)
    tokenizer = Tokenizer(vocab_file, lowercase=cfg.do_lower_case)  # fail early on a bad vocab
    sources = text_shards(Path(text_dir))
    output_dir.mkdir(parents=True, exist_ok=True)
    outputs = [output_dir / (s.stem + SUFFIX) for s in sources]
    todo = [(s, o, vocab_file, cfg) for s, o in shards.owned(list(zip(sources, outputs)), shard_index, num_shards)
            if not shards.is_complete(o)]
    shards.run_parallel(write_examples_shard, todo, workers, "examples")
    params = {**cfg.to_dict(), "vocab_sha256": file_sha256(vocab_file), "vocab_size": tokenizer.vocab_size,
              "do_lower_case": tokenizer.lowercase, "columns": list(COLUMNS)}
    shards.write_manifest(output_dir, outputs, params)
    return outputs


def main(argv=None) -> int:
    from bert.data.sentences import add_shard_arguments

    parser = argparse.ArgumentParser(prog="python -m bert.data.examples", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="a text shard or a folder of *.txt shards")
    parser.add_argument("--vocab", required=True, help="Google-format vocab.txt")
    parser.add_argument("--output", required=True, help="folder for the MindRecord shards")
    parser.add_argument("--config", default="configs/data.yaml" if Path("configs/data.yaml").is_file() else None,
                        help="data YAML (default configs/data.yaml)")
    add_shard_arguments(parser)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. max_seq_length=512 max_predictions_per_seq=80")
    args = parser.parse_args(argv)
    try:
        cfg = load_data_config(args.config, args.overrides)
        outputs = examples_stage(args.input, args.vocab, args.output, cfg, args.workers, args.shard_index, args.num_shards)
    except (DataError, ConfigError, VocabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(outputs)} MindRecord shards in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
