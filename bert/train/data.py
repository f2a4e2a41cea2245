"""Training feeds: MindRecord shards (pretraining) or in-memory columns (a tokenized task set) in,
per-rank micro-batches of named columns out, in an order fixed by seed + epoch, resumable at any
step (the cursor is just the step)."""
# MindSpore (and bert.dropout, which imports it) is imported inside the functions that use it: the
# stages import this module and check their data before MindSpore loads.
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from bert import counter
from bert.data.config import DataConfig
from bert.data.mindrecord import COLUMNS, DYNAMIC, LAYOUTS, STATIC, shard_files
from bert.data.pretraining import Vocab, dynamic_features, id_dtype
from bert.data.shards import MANIFEST


class DataFeedError(ValueError):
    """Training data that cannot feed this model; one line naming the problem."""


def resolve_files(path: str | Path) -> list[Path]:
    path = Path(path)
    files = [path] if path.is_file() else shard_files(path)
    if not files:
        raise DataFeedError(f"no complete MindRecord shards in {path}")
    return files


@dataclasses.dataclass
class Corpus:
    """Checked pretraining shards: how many rows, and how they are masked (bert.data.mindrecord.LAYOUTS)."""

    files: list[Path]
    rows: int
    masking: str  # static | dynamic
    params: dict  # the data stage's manifest params ({} for shards without a manifest)


def check_files(files: list[Path], max_seq_length: int, max_predictions: int, vocab_size: int,
                sample_rows: int = 256) -> Corpus:
    """Columns, lengths and token ids checked up front (an id ≥ vocab_size otherwise shows up as
    NaN or a Gather error hours later)."""
    from mindspore.mindrecord import FileReader

    manifest = files[0].parent / MANIFEST
    params = json.loads(manifest.read_text())["params"] if manifest.is_file() else {}
    if params.get("vocab_size", 0) > vocab_size:
        raise DataFeedError(f"data was made with a vocab of {params['vocab_size']} tokens, "
                            f"the model has vocab_size {vocab_size}")
    rows, maskings = 0, set()
    for file in files:
        try:
            reader = FileReader(str(file))
        except Exception as exc:  # MindSpore raises RuntimeError/ParamValueError with C++ detail
            raise DataFeedError(f"{file} is not a readable MindRecord file: {str(exc).splitlines()[0]}") from None
        try:
            schema = reader.schema()
            layout = next((lay for lay in LAYOUTS.values() if set(lay.columns) <= set(schema)), None)
            if layout is None:
                raise DataFeedError(f"{file} lacks the columns {', '.join(c for c in COLUMNS if c not in schema)}")
            maskings.add(layout.masking)
            rows += reader.len()
            for k, row in enumerate(reader.get_next()):
                if k >= sample_rows:
                    break
                if layout is STATIC:
                    check_static_row(file, row, max_seq_length, max_predictions, vocab_size)
                else:
                    check_dynamic_row(file, row, max_seq_length, vocab_size, params)
        finally:
            reader.close()
    if len(maskings) > 1:
        raise DataFeedError(f"{files[0].parent} mixes static and dynamic shards")
    return Corpus(files, rows, maskings.pop(), params)


def check_static_row(file: Path, row: dict, max_seq_length: int, max_predictions: int, vocab_size: int) -> None:
    if len(row["input_ids"]) != max_seq_length:
        raise DataFeedError(f"{file}: sequences are {len(row['input_ids'])} long, "
                            f"the config says max_seq_length {max_seq_length}")
    if len(row["masked_lm_ids"]) != max_predictions:
        raise DataFeedError(f"{file}: {len(row['masked_lm_ids'])} predictions per sequence, "
                            f"the config says max_predictions_per_seq {max_predictions}")
    top = max(int(np.max(row["input_ids"])), int(np.max(row["masked_lm_ids"])))
    if top >= vocab_size:
        raise DataFeedError(f"{file}: token id {top} is outside the model's vocab_size {vocab_size}")


def check_dynamic_row(file: Path, row: dict, max_seq_length: int, vocab_size: int, params: dict) -> None:
    if "vocab_size" not in params:
        raise DataFeedError(f"{file} is a dynamic shard without its folder's {MANIFEST}: the data stage writes it")
    made_for = params.get("max_seq_length")
    if made_for != max_seq_length:
        raise DataFeedError(f"{file}: instances made for max_seq_length {made_for}, "
                            f"the config says max_seq_length {max_seq_length}")
    ids = np.frombuffer(bytes(row["tokens"]), id_dtype(params["vocab_size"]))
    if len(ids) > max_seq_length or int(ids.max(initial=0)) >= vocab_size:
        raise DataFeedError(f"{file}: an instance of {len(ids)} tokens with ids up to {int(ids.max(initial=0))} "
                            f"does not fit max_seq_length {max_seq_length} and vocab_size {vocab_size}")


class BlockPermutation:
    """A seeded bijection of [0, n), computed per position: O(1) memory and start time for any n.
    Blocks of `block` consecutive rows come in a random order (a Feistel network over the block
    numbers), each block's rows in a random order of their own, so that the rows a step reads lie
    in runs of `block` contiguous rows of a shard; positions that the padded domain sends past n
    walk their cycle until they land inside it (cycle walking)."""

    def __init__(self, n: int, block: int, seed: int, epoch: int):
        self.n, self.block = n, block
        self.blocks = -(-n // block)
        self.key = counter.key(seed, epoch)

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        rows = self._composite(np.asarray(positions, np.int64))
        while (outside := rows >= self.n).any():
            rows[outside] = self._composite(rows[outside])
        return rows

    def _composite(self, positions: np.ndarray) -> np.ndarray:
        block, offset = np.divmod(positions, self.block)
        new_block = feistel(block, self.blocks, self.key)
        return new_block * self.block + feistel(offset, self.block, counter.mix32_np(self.key ^ block.astype(np.uint32)))


FEISTEL_ROUNDS = 4
ROUND_CONSTANT = 0x9E3779B9  # round r's key is mixed with r × this (mod 2³²)


def feistel(x: np.ndarray, n: int, keys) -> np.ndarray:
    """A bijection of [0, n) (per-element `keys`, or one key): a balanced Feistel network of
    FEISTEL_ROUNDS rounds over the smallest even number of bits holding n, with cycle walking."""
    half = max(1, (int(n - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    keys = np.broadcast_to(np.asarray(keys, np.uint32), np.shape(x))

    def rounds(values: np.ndarray, k: np.ndarray) -> np.ndarray:
        hi, lo = values.astype(np.uint64) >> np.uint64(half), values.astype(np.uint64) & mask
        for r in range(FEISTEL_ROUNDS):
            f = counter.mix32_np(k ^ counter.mix32_np(lo.astype(np.uint32) ^ np.uint32(r * ROUND_CONSTANT & 0xFFFFFFFF)))
            hi, lo = lo, hi ^ (f.astype(np.uint64) & mask)
        return ((hi << np.uint64(half)) | lo).astype(np.int64)

    out = rounds(np.asarray(x, np.int64), keys)
    while (outside := out >= n).any():
        out[outside] = rounds(out[outside], keys[outside])
    return out


class StepOrder:
    """Step s of epoch e takes the rows at positions s·G … (s+1)·G − 1 of the epoch's order (G = batch ×
    accumulation × world; the order a permutation seeded by seed + e); rank r gets every W-th of
    them, cut into micro-batches. Any world size and accumulation that keep G therefore see the same
    rows in every step. `block` > 0: the order is a BlockPermutation, computed a few steps at a time
    (corpora of any size); 0: numpy's permutation of all rows, made at every epoch start (task sets)."""

    def __init__(self, num_rows: int, batch_size: int, accumulation: int, rank: int, world: int, seed: int,
                 shuffle: bool = True, block: int = 0):
        self.batch_size, self.accumulation = batch_size, accumulation
        self.rank, self.world, self.seed, self.shuffle, self.block = rank, world, seed, shuffle, block
        self.global_batch = batch_size * accumulation * world
        self.num_rows = num_rows
        self.steps_per_epoch = num_rows // self.global_batch
        if self.steps_per_epoch == 0:
            raise DataFeedError(f"{num_rows} rows are fewer than one global batch of {self.global_batch}")

    def order(self, epoch: int):
        """positions → rows of `epoch`'s order."""
        if not self.shuffle:
            return lambda positions: np.asarray(positions, np.int64)
        if self.block:
            return BlockPermutation(self.num_rows, self.block, self.seed, epoch)
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_rows).__getitem__

    def rank_rows(self, order, steps: range) -> np.ndarray:
        """This rank's rows of `steps`, step by step, each in slot order (r, r + W, …)."""
        slots = np.arange(self.rank, self.global_batch, self.world)
        positions = np.asarray(steps, np.int64)[:, None] * self.global_batch + slots[None, :]
        return order(positions.reshape(-1))

    def rank_indices(self, epoch: int, start_step: int = 0) -> np.ndarray:
        return self.rank_rows(self.order(epoch), range(start_step, self.steps_per_epoch))

    def dropout_keys(self, step: int) -> list[np.ndarray]:
        """This rank's micro-batches' dropout keys at `step`: each example's key follows from its
        slot in the global batch (rank r holds slots r, r + W, …), never from the rank or micro-batch."""
        from bert.dropout import example_keys

        local = np.arange(self.accumulation * self.batch_size).reshape(self.accumulation, self.batch_size)
        return list(example_keys(self.seed, step, self.rank + self.world * local))

    def group(self, batches):
        """Micro-batches → lists of `accumulation` micro-batches, one per step."""
        micro = []
        for batch in batches:
            micro.append(batch)
            if len(micro) == self.accumulation:
                yield micro
                micro = []

    def steps(self, start_step: int = 0):
        """This rank's micro-batches of step start_step, start_step + 1, … across epochs, endlessly."""
        epoch, in_epoch = divmod(start_step, self.steps_per_epoch)
        while True:
            yield from self.epoch(epoch, in_epoch)
            epoch, in_epoch = epoch + 1, 0


class PretrainingFeed(StepOrder):
    """StepOrder over MindRecord shards, read by mindspore.dataset with explicit columns. A dynamic
    corpus's rows are masked here (`masks`: the masking parameters and the vocab's special ids), as
    a function of (seed, epoch, row): the same for any world size, accumulation or resume step."""

    CHUNK_ROWS = 1 << 16  # rows per MindDataset: the index list handed to its sampler stays this small

    def __init__(self, corpus: Corpus, batch_size: int, accumulation: int, rank: int, world: int, seed: int,
                 shuffle: bool = True, masks: tuple[DataConfig, Vocab] | None = None, block: int = 16):
        super().__init__(corpus.rows, batch_size, accumulation, rank, world, seed, shuffle, block)
        self.files, self.masking, self.masks = [str(f) for f in corpus.files], corpus.masking, masks
        if self.masking == "dynamic" and masks is None:
            raise DataFeedError("a dynamic corpus needs its masking parameters and vocab")

    def epoch(self, epoch: int, start_step: int = 0):
        """This rank's micro-batches (column name → array) of steps start_step, … of `epoch`, read
        CHUNK_ROWS rows at a time: memory and start time do not grow with the corpus."""
        order = self.order(epoch)
        per_chunk = max(1, self.CHUNK_ROWS // (self.batch_size * self.accumulation))
        for first in range(start_step, self.steps_per_epoch, per_chunk):
            rows = self.rank_rows(order, range(first, min(first + per_chunk, self.steps_per_epoch)))
            yield from self.group(self.batches(rows, epoch))

    def batches(self, rows: np.ndarray, epoch: int):
        """Micro-batches of `rows` (a multiple of batch_size), in that order."""
        import mindspore.dataset as ds

        dataset = ds.MindDataset(self.files, columns_list=list(LAYOUTS[self.masking].columns),
                                 sampler=ds.SubsetSampler(rows.tolist()))
        if self.masking == "static":
            yield from dataset.batch(self.batch_size, drop_remainder=True).create_dict_iterator(output_numpy=True,
                                                                                               num_epochs=1)
            return
        # a dynamic corpus: rows joined in the pipeline (one Python call per micro-batch), masked here
        dataset = dataset.batch(self.batch_size, drop_remainder=True, per_batch_map=join_rows,
                                input_columns=list(DYNAMIC.columns),
                                output_columns=["tokens", "lengths", *DYNAMIC.columns[1:]])
        cfg, vocab = self.masks
        itemsize = id_dtype(vocab.size).itemsize
        for start, (tokens, lengths, a_length, next_sentence) in zip(
                range(0, len(rows), self.batch_size), dataset.create_tuple_iterator(output_numpy=True, num_epochs=1)):
            yield dynamic_features(tokens.tobytes(), lengths // itemsize, a_length, next_sentence,
                                   rows[start:start + self.batch_size], epoch, self.seed, cfg, vocab)


def join_rows(tokens, a_length, next_sentence, _info):
    """mindspore.dataset's per_batch_map: a batch of dynamic rows → their tokens' bytes joined (uint8),
    each row's byte count, and the two int32 columns stacked."""
    data = [t.tobytes() for t in tokens]
    return (np.frombuffer(b"".join(data), np.uint8), np.array([len(d) for d in data], np.int32),
            np.concatenate(a_length), np.concatenate(next_sentence))


class ArrayFeed(StepOrder):
    """StepOrder over in-memory columns (name → array with one row per example)."""

    def __init__(self, columns: dict[str, np.ndarray], batch_size: int, accumulation: int, rank: int,
                 world: int, seed: int, shuffle: bool = True):
        super().__init__(len(next(iter(columns.values()))), batch_size, accumulation, rank, world, seed, shuffle)
        self.columns = columns

    def epoch(self, epoch: int, start_step: int = 0):
        indices = self.rank_indices(epoch, start_step).reshape(-1, self.batch_size)
        yield from self.group({name: c[i] for name, c in self.columns.items()} for i in indices)
