"""MindRecord files of pretraining examples: the schema, an atomic shard writer, and readers
that always name their columns (MindRecord's default order is alphabetical)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable

import numpy as np

from bert.atomic import temporary_sibling

COLUMNS = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
           "masked_lm_weights", "next_sentence_labels")
SCHEMA = {name: {"type": "float32" if name == "masked_lm_weights" else "int32", "shape": [-1]}
          for name in COLUMNS}
SUFFIX = ".mindrecord"


def write_shard(path: str | os.PathLike, batches: Iterable[dict[str, np.ndarray]]) -> int:
    """Write batches of columns (one row per instance) into `path` (+ its `.db` index); returns
    the row count.

    MindRecord ties the index to the file's name, so the pair is written under its final name in
    a temporary folder and moved into place only when committed.
    """
    from mindspore.mindrecord import FileWriter

    path = Path(path)
    tmp_dir = temporary_sibling(path)
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    writer = FileWriter(str(tmp_dir / path.name), shard_num=1, overwrite=True)
    writer.set_page_size(1 << 20)  # the 32 MB default pads small shards to many times their size
    writer.set_header_size(1 << 20)  # so does the 16 MB header; 1 MB holds ~5000 pages' metadata
    writer.add_schema(SCHEMA, "bert_pretraining")
    rows = 0
    try:
        for columns in batches:
            rows += write_columns(writer, columns)
        writer.commit()
        for name in (path.name, path.name + ".db"):
            os.replace(tmp_dir / name, path.parent / name)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return rows


def write_columns(writer, columns: dict[str, np.ndarray]) -> int:
    """Append a batch of rows to a FileWriter; returns how many.

    FileWriter.write_raw_data spends ~0.2 ms of Python per row (schema fetched from C++ per row
    and field, dtype checks, byte concatenation). The rows go instead to the writer's own C++
    ShardWriter, merged in numpy into the layout of its `_merge_blob` (per blob field: byte
    length as 8 big-endian bytes, then the bytes); the first row of a file takes the public call,
    which opens the file, and is merged by both to check the layout. Same file, byte for byte.
    """
    from mindspore.mindrecord import SUCCESS

    count = len(columns[COLUMNS[0]])
    if not count:
        return 0
    shard = writer._writer  # mindspore.mindrecord.core.shardwriter.ShardWriter
    fields = writer._header.blob_fields
    merged = []
    for field in fields:
        data = np.ascontiguousarray(columns[field], SCHEMA[field]["type"]).reshape(count, -1).view(np.uint8)
        merged += [np.tile(np.frombuffer(data.shape[1].to_bytes(8, "big"), np.uint8), (count, 1)), data]
    blobs = [row.tobytes() for row in np.concatenate(merged, axis=1)]
    if not shard.is_open:
        first = {k: columns[k][0] for k in COLUMNS}
        writer.write_raw_data([first])
        if shard._merge_blob({f: first[f] for f in fields}) != blobs[0]:
            raise RuntimeError("MindRecord's row layout changed: write_columns needs updating")
        blobs = blobs[1:]
    if blobs and shard._writer.write_raw_data({}, blobs, True, False) != SUCCESS:
        raise RuntimeError(f"MindRecord failed to write {len(blobs)} rows")
    return count


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
    from bert.data.shards import is_complete

    return sorted(p for p in Path(directory).glob(f"*{SUFFIX}") if is_complete(p))
