"""A GLUE task's folder read and tokenized for training: run config (task, data_dir, vocab or init,
max_length) in, `TaskData` (every split as arrays of model inputs and labels) out."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bert.config import BertConfig, ConfigError
from bert.glue import tasks as glue
from bert.model_dir import VOCAB_FILE
from bert.tokenization import Tokenizer


def find_vocab(cfg) -> Path:
    """`vocab`, else the vocab.txt in or next to `init`."""
    if cfg.vocab:
        return Path(cfg.vocab)
    if cfg.init:
        for candidate in (Path(cfg.init) / VOCAB_FILE, Path(cfg.init).parent / VOCAB_FILE):
            if candidate.is_file():
                return candidate
    raise ConfigError("vocab is not set and no vocab.txt lies next to init: pass vocab=PATH")


def diagnostic_file(cfg) -> Path | None:
    """AX for an MNLI run: `diagnostic`, else GLUE's diagnostic/diagnostic.tsv next to the MNLI folder."""
    if cfg.diagnostic:
        return Path(cfg.diagnostic)
    default = Path(cfg.data_dir).parent / glue.DIAGNOSTIC_DIR / glue.DIAGNOSTIC.file
    return default if cfg.task == "MNLI" and default.is_file() else None


@dataclasses.dataclass
class TaskData:
    """A GLUE task's splits, tokenized: column name → array (labels on train/dev, index on test)."""

    task: glue.GlueTask
    vocab: Path
    tokenizer: Tokenizer
    train: dict[str, np.ndarray]
    dev: dict[str, dict[str, np.ndarray]]  # dev set name → columns
    test: dict[str, dict[str, np.ndarray]]  # submission stem → columns (the test files present)
    dataset: str  # "MRPC", or "generated demo set (not MRPC)"
    skipped: int  # malformed lines skipped (QQP)

    @classmethod
    def load(cls, cfg, bert_config: BertConfig) -> "TaskData":
        """Check the vocab against the model, read and tokenize every split; errors name file and line.
        (The caller checks `init` first, so that a missing init is not blamed on the vocab.)"""
        task = glue.load_task(cfg.task)
        vocab = find_vocab(cfg)
        tokenizer = Tokenizer(vocab)
        if tokenizer.vocab_size != bert_config.vocab_size:
            raise ConfigError(f"vocab {vocab} has {tokenizer.vocab_size} tokens, the model vocab_size "
                              f"{bert_config.vocab_size}")
        data_dir, skipped = Path(cfg.data_dir), 0

        def read(layout: glue.Layout, path: Path) -> dict[str, np.ndarray]:
            nonlocal skipped
            examples = glue.read_examples(task, layout, path)
            skipped += examples.skipped
            return glue.encode(tokenizer, examples, cfg.max_length)

        train = read(task.train, data_dir / task.train.file)
        dev = {name: read(layout, data_dir / layout.file) for name, layout in task.dev.items()}
        tests = [(stem, layout, data_dir / layout.file) for stem, layout in task.test.items()]
        if cfg.diagnostic and task.name != "MNLI":
            raise ConfigError(f"diagnostic is for MNLI (AX is predicted by the MNLI model), not {task.name}")
        if diagnostic_file(cfg) is not None:
            tests.append((glue.DIAGNOSTIC_STEM, glue.DIAGNOSTIC, diagnostic_file(cfg)))
        test = {stem: read(layout, path) for stem, layout, path in tests
                if path.is_file() or stem == glue.DIAGNOSTIC_STEM}
        dataset = f"generated demo set (not {task.name})" if glue.is_demo(data_dir) else task.name
        return cls(task, vocab, tokenizer, train, dev, test, dataset, skipped)

    def describe(self) -> str:
        dev = ", ".join(f"{len(c['labels'])} {name}" for name, c in self.dev.items())
        skipped = f", {self.skipped} malformed lines skipped" if self.skipped else ""
        return f"{self.dataset} ({len(self.train['labels'])} train, {dev}{skipped})"
