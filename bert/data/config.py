"""`DataConfig`: the parameters of the data stages (configs/data.yaml + `key=value` overrides)."""
from __future__ import annotations

import dataclasses

from bert.config import ConfigError, from_dict, merge, parse_overrides, read_mapping


@dataclasses.dataclass
class DataConfig:
    """Google's create_pretraining_data defaults, plus how the corpus is cut and cleaned."""

    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    max_position_embeddings: int = 512  # the model's (512 for every Google size): no example may be longer
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    random_seed: int = 12345
    do_whole_word_mask: bool = False
    do_lower_case: bool | None = None  # None: follow the vocab's casing
    shard_bytes: int = 1_000_000  # extracted text per shard (wikiextractor --bytes) = one array task
    heading_max_words: int = 6  # a line this short ending in "." is a section heading: dropped
    min_document_sentences: int = 1

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
        for key in ("dupe_factor", "shard_bytes", "min_document_sentences"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.heading_max_words < 0:
            raise ConfigError(f"heading_max_words must be >= 0, got {self.heading_max_words}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_data_config(path=None, overrides=()) -> DataConfig:
    """YAML file (optional) + `key=value` overrides → validated DataConfig."""
    data = read_mapping(path) if path else {}
    return from_dict(DataConfig, merge(data, parse_overrides(overrides)))
