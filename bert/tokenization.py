"""WordPiece tokenization over a Google `vocab.txt` (the `tokenizers` library): text in, ids out."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

import numpy as np
from tokenizers import BertWordPieceTokenizer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# What BERT's normalizer turns into a space (whitespace that is not a control character), and
# printable ASCII but "[" (which could open a special token): every other character of it is
# punctuation to BERT's pre-tokenizer.
_SPACE = "\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PLAIN = r"\x21-\x5a\x5c-\x7e"
_PLAIN_PIECE = re.compile(f"[{_PLAIN}]+")
# Pieces of text that tokenize independently: a line end, a whole word with any character that
# is not plain, or what the pre-tokenizer cuts plain words into (alphanumeric runs, punctuation).
_PIECE = re.compile(f"\n|[{_PLAIN}]*+[^{_PLAIN}{_SPACE}][^{_SPACE}]*|[A-Za-z0-9]+|[{_PLAIN}]")

class VocabError(ValueError):
    """A vocabulary file that cannot serve as a BERT vocab; one line naming the problem."""


def read_vocab(path: str | os.PathLike) -> list[str]:
    """One token per line, id = line number (Google's format)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise VocabError(f"vocab file {path} does not exist") from None
    except UnicodeDecodeError:
        raise VocabError(f"vocab file {path} is not UTF-8 text") from None
    if lines and lines[-1] == "":
        lines.pop()
    tokens = [line.rstrip("\r") for line in lines]
    if not tokens:
        raise VocabError(f"vocab file {path} is empty")
    return tokens


def vocab_is_cased(tokens: list[str]) -> bool:
    """Google ships cased vocabs with upper-case word pieces and uncased ones with none."""
    return any(t.lower() != t for t in tokens if not (t.startswith("[") and t.endswith("]")))


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclasses.dataclass
class Encoding:
    """One model input, padded to max_length."""

    input_ids: list[int]
    token_type_ids: list[int]
    attention_mask: list[int]


def truncate_pair(a: list, b: list, max_tokens: int) -> None:
    """Google's _truncate_seq_pair: drop tokens from the end of the longer side, in place."""
    while len(a) + len(b) > max_tokens:
        (a if len(a) > len(b) else b).pop()


class Tokenizer:
    """BERT WordPiece tokenizer; casing follows the vocab unless `lowercase` is given."""

    def __init__(self, vocab_file: str | os.PathLike, lowercase: bool | None = None):
        self.vocab_file = Path(vocab_file)
        self.vocab = read_vocab(vocab_file)
        index: dict[str, int] = {}
        for i, token in enumerate(self.vocab):
            index.setdefault(token, i)
        missing = [t for t in SPECIAL_TOKENS if t not in index]
        if missing:
            raise VocabError(f"vocab file {vocab_file} lacks the special tokens {' '.join(missing)}")
        self.token_to_id = index
        self.lowercase = (not vocab_is_cased(self.vocab)) if lowercase is None else lowercase
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (index[t] for t in SPECIAL_TOKENS)
        self._wordpiece = BertWordPieceTokenizer(
            index, unk_token="[UNK]", sep_token="[SEP]", cls_token="[CLS]", pad_token="[PAD]",
            mask_token="[MASK]", clean_text=True, handle_chinese_chars=True,
            strip_accents=self.lowercase, lowercase=self.lowercase)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: str) -> list[str]:
        return self._wordpiece.encode(text, add_special_tokens=False).tokens

    def ids(self, text: str) -> list[int]:
        """Word-piece ids of `text`, without [CLS]/[SEP]."""
        return self._wordpiece.encode(text, add_special_tokens=False).ids

    def ids_batch(self, texts: list[str]) -> list[list[int]]:
        """`ids` for many texts at once (parallel inside `tokenizers`)."""
        return [e.ids for e in self._wordpiece.encode_batch(texts, add_special_tokens=False)]

    def ids_flat(self, texts: list[str], known: dict[str, list[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`ids` of newline-free texts, concatenated (int32), and each text's id count.

        Cuts the text into pieces that tokenize independently, tokenizes each distinct piece
        once (plain ASCII ones, lower-cased as BERT would, by the WordPiece model alone; the
        rest by the whole `tokenizers` pipeline), then gathers the ids in numpy. `known` (piece →
        ids, filled in here) carries what is tokenized already from call to call.
        """
        known = {} if known is None else known
        index: dict[str, int] = {"\n": 0}
        codes = np.array([index.setdefault(p, len(index)) for p in _PIECE.findall("\n".join([*texts, ""]))], np.int64)
        model, rest = self._wordpiece._tokenizer.model, {}
        pieces: list[list[int]] = []
        for k, piece in enumerate(index):
            ids = known.get(piece)
            if ids is None and _PLAIN_PIECE.fullmatch(piece):
                ids = known[piece] = [t.id for t in model.tokenize(piece.lower() if self.lowercase else piece)]
            if ids is None:
                rest[k] = piece
            pieces.append(ids or [])
        for k, e in zip(rest, self._wordpiece._tokenizer.encode_batch_fast(list(rest.values()), add_special_tokens=False)):
            pieces[k] = known[rest[k]] = e.ids
        sizes = np.array([len(p) for p in pieces], np.int64)
        flat = np.fromiter((i for p in pieces for i in p), np.int32, int(sizes.sum()))
        counts = sizes[codes]
        ends = np.cumsum(counts)
        # ids[k] = flat[first id of piece k + offset within it]
        take = np.repeat(np.cumsum(sizes)[codes] - ends, counts) + np.arange(counts.sum())
        return flat[take], np.diff(ends[codes == 0], prepend=0)

    def convert_ids_to_tokens(self, ids) -> list[str]:
        return [self.vocab[int(i)] for i in ids]

    def encode(self, text_a: str, text_b: str | None = None, max_length: int = 128) -> Encoding:
        """[CLS] a [SEP] (b [SEP]), longer side truncated first, padded to `max_length`."""
        a = self.ids(text_a)
        b = self.ids(text_b) if text_b is not None else []
        if text_b is None:
            del a[max_length - 2:]
        else:
            truncate_pair(a, b, max_length - 3)
        ids = [self.cls_id, *a, self.sep_id]
        types = [0] * len(ids)
        if text_b is not None:
            ids += [*b, self.sep_id]
            types += [1] * (len(b) + 1)
        pad = max_length - len(ids)
        return Encoding(ids + [self.pad_id] * pad, types + [0] * pad, [1] * len(types) + [0] * pad)
