"""MindRecord shards written fast: pretraining columns (numpy, one row per instance) in, a
`.mindrecord` file + its `.db` index out, byte for byte what MindSpore's public FileWriter writes.

Behind this module: MindSpore's C++ writer `mindspore._c_mindrecord` (ShardHeader, ShardWriter,
ShardIndexGenerator) and the row layout of FileWriter's Python side (`ShardWriter._merge_blob`),
as in MindSpore 2.10.0; another version stops with one line (bert.pins). tests/test_private_apis.py
pins what is relied on: the bytes equal FileWriter's and read back through mindspore.dataset.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Iterable

import numpy as np

from bert.atomic import remove_stale_temporaries, temporary_sibling
from bert.data.mindrecord import STATIC, Layout
from bert.pins import require

TESTED = "2.10.0"


def check_version() -> None:
    """Stop with one line unless the MindSpore whose private writer this module drives is installed."""
    require("mindspore", TESTED, "writing MindRecord shards (bert.data.mindrecord_writer)")


def mindrecord_binding():
    """MindSpore's C++ MindRecord module, `mindspore._c_mindrecord`.

    Loaded by itself while MindSpore is not imported: `import mindspore.mindrecord` imports the
    whole framework first (~3 CPU-s and ~400 MB per process, most of a small shard's cost), the
    extension alone ~20 ms and ~10 MB. It is registered under its own name, so a later
    `import mindspore` uses this same module.
    """
    name = "mindspore._c_mindrecord"
    if name not in sys.modules:
        check_version()
        package = importlib.util.find_spec("mindspore")
        spec = importlib.machinery.PathFinder.find_spec(name, package.submodule_search_locations)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def write_shard(path: str | os.PathLike, batches: Iterable[dict], layout: Layout = STATIC,
                data_bytes: int = 0) -> int:
    """Write batches of columns (one row per instance; a bytes column is a list of bytes) of the
    corpus `layout` into `path` (+ its `.db` index); returns the row count. `data_bytes`: an upper
    bound of the rows' bytes, which sizes the header (Layout.header_size).

    The steps of MindSpore's FileWriter (schema, header and page size, rows, commit, index), on
    its C++ writer (`mindrecord_binding`); rows go in bulk, merged in numpy (`row_blobs`).
    FileWriter.write_raw_data would spend ~0.2 ms of Python per row. Same file, byte for byte.
    MindRecord ties the index to the file's name, so the pair is written under its final name in
    a temporary folder and moved into place only when committed.
    """
    ms = mindrecord_binding()
    path = Path(path)
    remove_stale_temporaries(path)  # a killed earlier attempt's
    tmp_dir = temporary_sibling(path)
    tmp_dir.mkdir(parents=True)
    tmp = str((tmp_dir / path.name).resolve())
    header = ms.ShardHeader()
    header.add_schema(ms.Schema.build(layout.name, layout.schema))
    fields = header.get_meta()[0].get_schema_content()["blob_fields"]
    writer = ms.ShardWriter()
    rows = 0
    try:
        check(writer.set_page_size(layout.page_size), "set the page size")  # the 32 MB default pads small shards
        check(writer.set_header_size(layout.header_size(data_bytes)), "set the header size")  # default 16 MB
        check(writer.open([tmp], False, True), f"open {tmp}")
        check(writer.set_shard_header(header), "set the header")
        for columns in batches:
            blobs = row_blobs(columns, fields, layout.schema)
            if blobs:
                check(writer.write_raw_data({}, blobs, True, False), f"write {len(blobs)} rows")
            rows += len(blobs)
        check(writer.commit(), "commit")
        index = ms.ShardIndexGenerator(tmp, False)
        check(index.build(), "build the index")
        check(index.write_to_db(), "write the index")
        for name in (path.name, path.name + ".db"):
            os.replace(tmp_dir / name, path.parent / name)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return rows


def check(status, what: str) -> None:
    if status != mindrecord_binding().SUCCESS:
        raise RuntimeError(f"MindRecord failed to {what}")


def row_blobs(columns: dict, fields: list[str], schema: dict) -> list[bytes]:
    """One blob per row in the layout of MindSpore's ShardWriter._merge_blob: per field, its byte
    length as 8 big-endian bytes, then its bytes. Fixed-width array columns are merged in numpy;
    with a bytes column (one length per row) the rows are joined one by one."""
    count = len(columns[fields[0]])
    arrays = {field: np.ascontiguousarray(columns[field], schema[field]["type"]).reshape(count, -1).view(np.uint8)
              for field in fields if schema[field]["type"] != "bytes"}
    if len(arrays) == len(fields):
        merged = []
        for data in arrays.values():
            merged += [np.tile(np.frombuffer(data.shape[1].to_bytes(8, "big"), np.uint8), (count, 1)), data]
        return [row.tobytes() for row in np.concatenate(merged, axis=1)] if count else []
    parts = []
    for field in fields:
        if field in arrays:
            width = arrays[field].shape[1].to_bytes(8, "big")
            parts.append([width + row.tobytes() for row in arrays[field]])
        else:
            parts.append([len(value).to_bytes(8, "big") + value for value in columns[field]])
    return [b"".join(row) for row in zip(*parts)]
