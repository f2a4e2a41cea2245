"""GLUE SST-2 files in (`train.tsv`/`dev.tsv`: `sentence<TAB>label`; `test.tsv`: `index<TAB>sentence`),
tokenized model inputs out — every malformed line reported with its file and line number."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bert.data import DataError
from bert.tokenization import Tokenizer

HEADERS = {"train": ("sentence", "label"), "dev": ("sentence", "label"), "test": ("index", "sentence")}
DEMO_MARKER = "DEMO.txt"


def read_split(path: Path, split: str) -> tuple[list[str], list[int]]:
    """(sentences, labels or test indices) of one split file."""
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise DataError(f"{path} is empty")
    header = tuple(lines[0].split("\t"))
    if header != HEADERS[split]:
        raise DataError(f"{path}:1: header must be {'<TAB>'.join(HEADERS[split])}, got {lines[0]!r}")
    texts, values = [], []
    for number, line in enumerate(lines[1:], 2):
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"{path}:{number}: expected 2 tab-separated fields, got {len(fields)}")
        text, value = (fields[1], fields[0]) if split == "test" else fields
        if split == "test":
            if not value.isdigit():
                raise DataError(f"{path}:{number}: index {value!r} is not a non-negative integer")
        elif value not in ("0", "1"):
            raise DataError(f"{path}:{number}: label {value!r} is not 0 or 1")
        if not text.strip():
            raise DataError(f"{path}:{number}: empty sentence")
        texts.append(text)
        values.append(int(value))
    if not texts:
        raise DataError(f"{path} has a header but no examples")
    return texts, values


def encode(tokenizer: Tokenizer, texts: list[str], max_length: int) -> tuple[np.ndarray, ...]:
    """(input_ids, token_type_ids, attention_mask) as int32 [N, max_length]."""
    rows = [tokenizer.encode(t, max_length=max_length) for t in texts]
    return tuple(np.array([getattr(r, k) for r in rows], np.int32)
                 for k in ("input_ids", "token_type_ids", "attention_mask"))


def load_split(data_dir: Path, split: str, tokenizer: Tokenizer, max_length: int) -> tuple[np.ndarray, ...]:
    """Inputs + labels (or indices for test) of one split."""
    texts, values = read_split(Path(data_dir) / f"{split}.tsv", split)
    return (*encode(tokenizer, texts, max_length), np.array(values, np.int32))


def is_demo(data_dir: Path) -> bool:
    return (Path(data_dir) / DEMO_MARKER).is_file()
