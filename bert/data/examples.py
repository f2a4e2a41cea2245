"""Stage `examples`: text shards (one sentence per line, blank line between documents) in,
MindRecord shards of MLM+NSP pretraining instances out — one per text shard, streamed per dupe pass.

    python -m bert.data.examples --input DIR/text --vocab vocab.txt --output DIR/examples [key=value …]
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

from bert.config import ConfigError
from bert.data import shards
from bert.data.config import DataConfig, add_config_arguments, config_from_args
from bert.data import DataError
from bert.data.mindrecord import LAYOUTS, SUFFIX
from bert.data.mindrecord_writer import check_version, write_shard
from bert.data.pretraining import Documents, Vocab, dupe_passes, features, id_dtype, shard_seed, unmasked
from bert.data.sentences import add_shard_arguments
from bert.tokenization import Tokenizer, VocabError, file_sha256

WRITE_BATCH = 2048
TOKENIZE_CHARS = 1 << 18


def load_vocab(vocab_file: Path, lowercase: bool | None) -> tuple[Tokenizer, Vocab]:
    """The tokenizer and the algorithm's Vocab, built once per process and vocab file version."""
    try:
        version = Path(vocab_file).stat().st_mtime_ns
    except OSError:
        version = None  # Tokenizer says what is wrong
    return _load_vocab(Path(vocab_file), version, lowercase)


@functools.lru_cache(maxsize=4)
def _load_vocab(vocab_file: Path, _version: int | None, lowercase: bool | None) -> tuple[Tokenizer, Vocab]:
    tokenizer = Tokenizer(vocab_file, lowercase=lowercase)
    return tokenizer, Vocab.from_tokenizer(tokenizer)


def read_documents(path: Path, tokenizer: Tokenizer) -> Documents:
    """A text shard (one sentence per line, blank lines between documents) → its tokenized
    documents; tokenized in chunks of ~TOKENIZE_CHARS so that only the ids grow with the shard."""
    known: dict[str, list[int]] = {}
    parts, doc_sizes, chunk, chars, size = [], [], [], 0, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                chunk.append(line)
                chars += len(line)
                size += 1
            elif size:
                doc_sizes.append(size)
                size = 0
            if chars >= TOKENIZE_CHARS:
                parts.append(tokenizer.ids_flat(chunk, known))
                chunk, chars = [], 0
    if size:
        doc_sizes.append(size)
    parts.append(tokenizer.ids_flat(chunk, known))
    tokens, counts = (np.concatenate(p) for p in zip(*parts))
    return Documents.from_counts(tokens, counts, doc_sizes)


def write_examples_shard(text_path: Path, output: Path, vocab_file: Path, cfg: DataConfig) -> dict:
    """One text shard → one MindRecord shard (+ stats marker written last)."""
    tokenizer, vocab = load_vocab(vocab_file, cfg.do_lower_case)
    docs = read_documents(text_path, tokenizer)
    if not len(docs):
        raise DataError(f"text shard {text_path} holds no sentences")
    stats = {"documents": len(docs), "instances": 0, "tokens": 0, "masked_tokens": 0, "random_next": 0}
    seed = shard_seed(cfg.random_seed, text_path.name)
    masks = np.random.default_rng([seed, 1])

    def batches():
        for spans in dupe_passes(docs, cfg, seed):
            for start in range(0, len(spans), WRITE_BATCH):
                part = spans[start:start + WRITE_BATCH]
                stats["instances"] += len(part)
                stats["tokens"] += int((part.a_len + part.b_len + 3 - (part.b_len == 0)).sum())
                stats["random_next"] += int(part.random_next.sum())
                if cfg.masking == "dynamic":
                    yield unmasked(docs.tokens, part, cfg, vocab)
                    continue
                columns = features(docs.tokens, part, cfg, vocab, masks)
                stats["masked_tokens"] += int(columns["masked_lm_weights"].sum())
                yield columns

    # rows hold at most every token twice per pass (a random next segment re-reads one), 4 bytes each
    write_shard(output, batches(), LAYOUTS[cfg.masking], data_bytes=8 * len(docs.tokens) * cfg.dupes
                + 64 * len(docs.starts) * cfg.dupes)
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
    check_version()  # fail early on a MindSpore whose writer was not tested
    tokenizer, _ = load_vocab(vocab_file, cfg.do_lower_case)  # fail early on a bad vocab
    sources = text_shards(Path(text_dir))
    output_dir.mkdir(parents=True, exist_ok=True)
    outputs = [output_dir / (s.stem + SUFFIX) for s in sources]
    todo = [(s, o, vocab_file, cfg) for s, o in shards.owned(list(zip(sources, outputs)), shard_index, num_shards)
            if not shards.is_complete(o)]
    shards.run_parallel(write_examples_shard, todo, workers, "examples")
    params = {**cfg.to_dict(), "dupe_factor": cfg.dupes, "vocab_sha256": file_sha256(vocab_file),
              "vocab_size": tokenizer.vocab_size, "do_lower_case": tokenizer.lowercase,
              "columns": list(LAYOUTS[cfg.masking].columns)}
    if cfg.masking == "dynamic":
        params["id_dtype"] = id_dtype(tokenizer.vocab_size).name
    shards.write_manifest(output_dir, outputs, params)
    return outputs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.data.examples", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="a text shard or a folder of *.txt shards")
    parser.add_argument("--vocab", required=True, help="Google-format vocab.txt")
    parser.add_argument("--output", required=True, help="folder for the MindRecord shards")
    add_shard_arguments(parser)
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
        outputs = examples_stage(args.input, args.vocab, args.output, cfg, args.workers, args.shard_index, args.num_shards)
    except (DataError, ConfigError, VocabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(outputs)} MindRecord shards in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
