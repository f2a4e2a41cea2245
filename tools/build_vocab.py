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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenizers import BertWordPieceTokenizer  # noqa: E402

from bert.atomic import write_text_atomic  # noqa: E402
from bert.data.examples import text_shards  # noqa: E402
from bert.data.extract import DataError  # noqa: E402

SPECIALS = ("[PAD]", *(f"[unused{i}]" for i in range(99)), "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def google_order(vocab: dict[str, int], vocab_size: int, min_frequency: int) -> list[str]:
    """A trained token → id map → tokens in id order, checked to be a usable Google-layout vocab."""
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise DataError("the trained vocab's ids are not 0..n-1")
    tokens = [t for t, _ in by_id]
    if tuple(tokens[:len(SPECIALS)]) != SPECIALS:
        raise DataError("the trained vocab lacks Google's special ids ([PAD]=0, [unused0..98]=1..99, "
                        "[UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103)")
    alphabet = sum(len(t) == 1 or (len(t) == 3 and t.startswith("##")) for t in tokens[len(SPECIALS):])
    if vocab_size <= len(SPECIALS) + alphabet:
        raise DataError(f"--vocab-size {vocab_size} leaves no room for word pieces after "
                        f"{len(SPECIALS)} special tokens and {alphabet} alphabet characters")
    if len(tokens) == len(SPECIALS) + alphabet:
        raise DataError(f"no word piece occurs {min_frequency} or more times: too little text")
    return tokens


def build_vocab(files: list[Path], vocab_size: int, lowercase: bool, min_frequency: int) -> list[str]:
    """Train WordPiece on `files`; returns the vocab's tokens in id order."""
    tokenizer = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True,
                                       strip_accents=lowercase, lowercase=lowercase)
    tokenizer.train([str(f) for f in files], vocab_size=vocab_size, min_frequency=min_frequency,
                    special_tokens=list(SPECIALS), limit_alphabet=1000, wordpieces_prefix="##",
                    show_progress=sys.stdout.isatty())  # off a terminal its bars are only blank lines
    return google_order(tokenizer.get_vocab(), vocab_size, min_frequency)


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
        if args.vocab_size <= len(SPECIALS):
            raise DataError(f"--vocab-size must exceed the {len(SPECIALS)} special tokens, got {args.vocab_size}")
        if args.min_frequency < 1:
            raise DataError(f"--min-frequency must be at least 1, got {args.min_frequency}")
        tokens = build_vocab(text_shards(source), args.vocab_size, not args.cased, args.min_frequency)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output, "\n".join(tokens) + "\n")
    casing = "cased" if args.cased else "uncased"
    print(f"wrote {len(tokens)} tokens ({casing}) to {output} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
