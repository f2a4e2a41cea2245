"""WordPiece vocab training: text shards in, a Google-layout vocab.txt out ([PAD]=0,
[unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103), with the `tokenizers` library."""
from __future__ import annotations

import sys
from pathlib import Path

from tokenizers import BertWordPieceTokenizer

from bert.atomic import write_text_atomic
from bert.data import DataError

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


def write_vocab(files: list[Path], output: Path, vocab_size: int = 30522, lowercase: bool = True,
                min_frequency: int = 2) -> list[str]:
    """Train and write `output` atomically; returns the tokens."""
    if vocab_size <= len(SPECIALS):
        raise DataError(f"vocab size must exceed the {len(SPECIALS)} special tokens, got {vocab_size}")
    if min_frequency < 1:
        raise DataError(f"min frequency must be at least 1, got {min_frequency}")
    tokens = build_vocab(files, vocab_size, lowercase, min_frequency)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output, "\n".join(tokens) + "\n")
    return tokens
