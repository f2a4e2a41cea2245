"""MindRecord files of pretraining examples: the schema, and readers that always name their
columns (MindRecord's default order is alphabetical). Shards are written by
bert.data.mindrecord_writer.

The data stages import this module and stay light: MindSpore's reader is imported where it is used.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from bert.data.shards import is_complete

COLUMNS = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
           "masked_lm_weights", "next_sentence_labels")  # what the model reads; a static corpus's rows
SCHEMA = {name: {"type": "float32" if name == "masked_lm_weights" else "int32", "shape": [-1]}
          for name in COLUMNS}
SUFFIX = ".mindrecord"


@dataclasses.dataclass(frozen=True)
class Layout:
    """A corpus format: its MindRecord schema name and fields."""

    masking: str  # static: masked once by the data stage; dynamic: masked by the feed at every epoch
    name: str
    schema: dict
    page_size: int  # MindRecord pads a shard's last page to this size

    def header_size(self, data_bytes: int) -> int:
        """A MindRecord header that indexes the pages of up to `data_bytes` (~200 bytes per page; 1 MB
        for a static corpus, whose shards were always written so)."""
        if self is STATIC:
            return 1 << 20
        pages = -(-data_bytes // self.page_size)
        return min(1 << 27, max(1 << 16, 1 << (512 * pages - 1).bit_length()))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema)


STATIC = Layout("static", "bert_pretraining", SCHEMA, 1 << 20)
# The ids of [CLS] A [SEP] B [SEP], unpadded, as little-endian uint16 (int32 when the vocab is larger:
# bert.data.pretraining.id_dtype), the length of A and the NSP label: nothing the feed can derive.
# Its rows are ~250 bytes: 64 KB pages and a header sized for the shard keep the per-shard overhead
# small (1 MB pages and a 1 MB header added ~1 KB per row to a 2,000-row shard).
DYNAMIC = Layout("dynamic", "bert_pretraining_dynamic", {"tokens": {"type": "bytes"},
                                                         "a_length": {"type": "int32", "shape": [-1]},
                                                         "next_sentence_labels": {"type": "int32", "shape": [-1]}},
                 1 << 16)
LAYOUTS = {layout.masking: layout for layout in (STATIC, DYNAMIC)}


def read_rows(path: str | os.PathLike, columns: tuple[str, ...] = COLUMNS) -> Iterable[dict[str, np.ndarray]]:
    """Rows of one file in stored order, as numpy arrays."""
    from mindspore.mindrecord import FileReader

    reader = FileReader(str(path), columns=list(columns))
    try:
        for row in reader.get_next():
            yield {k: np.asarray(row[k]) for k in columns}
    finally:
        reader.close()


def shard_files(directory: str | os.PathLike) -> list[Path]:
    """The complete MindRecord shards of an examples folder, sorted."""
    return sorted(p for p in Path(directory).glob(f"*{SUFFIX}") if is_complete(p))
