"""`DataConfig`: the parameters of the data stages (configs/data.yaml + `key=value` overrides),
and the command-line arguments every data stage takes for it."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from bert.config import ConfigError, from_dict, merge, parse_overrides, read_mapping

DEFAULT_CONFIG = Path("configs") / "data.yaml"  # read when it exists (the repository root)
MASKINGS = ("static", "dynamic")


@dataclasses.dataclass
class DataConfig:
    """Google's create_pretraining_data defaults, plus how the corpus is cut and cleaned."""

    max_seq_length: int = 128  # tokens per instance, [CLS] A [SEP] B [SEP] included (phase 2: 512)
    max_predictions_per_seq: int = 20  # masked positions per instance at most (phase 2: 80)
    max_position_embeddings: int = 512  # the model's (512 for every Google size): no example may be longer
    masked_lm_prob: float = 0.15  # share of an instance's tokens masked (80 % [MASK], 10 % random, 10 % kept)
    short_seq_prob: float = 0.1  # share of instances given a shorter random target length
    dupe_factor: int | None = None  # passes over the corpus, each with other pairs (and masks); None: 10 static, 1 dynamic
    random_seed: int = 12345  # with the shard's name, seeds every draw: same input, same bytes
    do_whole_word_mask: bool = False  # mask all WordPieces of a word together
    do_lower_case: bool | None = None  # None: follow the vocab's casing
    next_sentence: bool = True  # false: MLM only — one segment of whole sentences per instance (RoBERTa's DOC-SENTENCES), no NSP
    masking: str = "static"  # static: masks drawn here, once (Google's corpus); dynamic: unmasked compact rows, masks drawn by the feed every epoch
    shard_bytes: int = 1_000_000  # extracted text per shard (wikiextractor --bytes) = one array task
    heading_max_words: int = 6  # a line this short ending in "." is a section heading: dropped
    min_document_sentences: int = 1  # shorter documents are dropped

    def validate(self) -> None:
        if self.max_seq_length < 8:
            raise ConfigError(f"max_seq_length must be at least 8, got {self.max_seq_length}")
        if self.max_seq_length > self.max_position_embeddings:
            raise ConfigError(f"max_seq_length {self.max_seq_length} exceeds max_position_embeddings "
                              f"{self.max_position_embeddings}: no model could read these examples")
        if not 1 <= self.max_predictions_per_seq <= self.max_seq_length:
            raise ConfigError(f"max_predictions_per_seq must be in [1, max_seq_length={self.max_seq_length}], "
                              f"got {self.max_predictions_per_seq}")
        if not 0.0 < self.masked_lm_prob < 1.0:
            raise ConfigError(f"masked_lm_prob must be in (0, 1), got {self.masked_lm_prob}")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ConfigError(f"short_seq_prob must be in [0, 1], got {self.short_seq_prob}")
        if self.masking not in MASKINGS:
            raise ConfigError(f"masking {self.masking!r} is not one of {', '.join(MASKINGS)}")
        for key in ("dupe_factor", "shard_bytes", "min_document_sentences"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.heading_max_words < 0:
            raise ConfigError(f"heading_max_words must be >= 0, got {self.heading_max_words}")

    @property
    def dupes(self) -> int:
        """dupe_factor, or its default for the masking: Google's 10 passes of a static corpus; one
        pass of a dynamic one, whose masks change every epoch anyway."""
        return self.dupe_factor or (10 if self.masking == "static" else 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_data_config(path=None, overrides=()) -> DataConfig:
    """YAML file (optional) + `key=value` overrides → validated DataConfig."""
    data = read_mapping(path) if path else {}
    return from_dict(DataConfig, merge(data, parse_overrides(overrides)))


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config YAML` and `key=value` DataConfig overrides: how every data stage is configured."""
    parser.add_argument("--config", default=str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None,
                        help=f"data YAML (default {DEFAULT_CONFIG} when it exists; the fields: bert/data/config.py)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="DataConfig overrides, e.g. dupe_factor=5 max_seq_length=512 max_predictions_per_seq=80")


def config_from_args(args: argparse.Namespace) -> DataConfig:
    return load_data_config(args.config, args.overrides)
