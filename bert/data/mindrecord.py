"""MindRecord files of pretraining examples: the schema, and readers that always name their
columns (MindRecord's default order is alphabetical). Shards are written by
bert.data.mindrecord_writer.

The data stages import this module and stay light: MindSpore's reader is imported where it is used.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from bert.data.shards import is_complete

COLUMNS = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
           "masked_lm_weights", "next_sentence_labels")
SCHEMA = {name: {"type": "float32" if name == "masked_lm_weights" else "int32", "shape": [-1]}
          for name in COLUMNS}
SUFFIX = ".mindrecord"


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
