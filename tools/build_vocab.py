#!/usr/bin/env python3
"""Text shards (one sentence per line, blank line between documents) in, a Google-format WordPiece vocab.txt out.

Trains the `tokenizers` library's BertWordPieceTokenizer on a .txt file or a folder of *.txt
shards (e.g. the output of `python -m bert.data.sentences`) and writes one token per line,
id = line number, with the special tokens where Google's vocabs have them:
[PAD]=0, [unused0]..[unused98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103.

    python tools/build_vocab.py --input DIR/text --output vocab.txt [--vocab-size 30522] [--cased]

Uncased (the default) lower-cases and strips accents, as Google's uncased vocabs do; such a vocab
holds no upper-case pieces, so bert.tokenization.Tokenizer lower-cases when it uses it.
Prints one summary line: tokens written, path, seconds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bert.data.examples import text_shards
from bert.data import DataError
from bert.data.vocab import write_vocab


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/build_vocab.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="a text shard (.txt) or a folder of *.txt shards")
    parser.add_argument("--output", required=True,
                        help="the vocab file to write (an existing folder: FOLDER/vocab.txt)")
    parser.add_argument("--vocab-size", type=int, default=30522,
                        help="tokens in the vocab, specials included (default: 30522, Google's English size)")
    parser.add_argument("--cased", action="store_true",
                        help="keep case and accents (default: lower-case and strip accents)")
    parser.add_argument("--min-frequency", type=int, default=2,
                        help="occurrences a word piece needs to be merged (default: 2)")
    args = parser.parse_args(argv)
    source, output = Path(args.input), Path(args.output)
    if output.is_dir():
        output = output / "vocab.txt"
    start = time.perf_counter()
    try:
        if not source.exists():
            raise DataError(f"input {source} does not exist")
        tokens = write_vocab(text_shards(source), output, args.vocab_size, not args.cased, args.min_frequency)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    casing = "cased" if args.cased else "uncased"
    print(f"wrote {len(tokens)} tokens ({casing}) to {output} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
