"""Training feeds: MindRecord shards (pretraining) or in-memory columns (a tokenized task set) in,
per-rank micro-batches of named columns out, in an order fixed by seed + epoch, resumable at any
step (the cursor is just the step)."""
# MindSpore (and bert.dropout, which imports it) is imported inside the functions that use it: the
# stages import this module and check their data before MindSpore loads.
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bert.data.mindrecord import COLUMNS, shard_files
from bert.data.shards import MANIFEST


class DataFeedError(ValueError):
    """Training data that cannot feed this model; one line naming the problem."""


def resolve_files(path: str | Path) -> list[Path]:
    path = Path(path)
    files = [path] if path.is_file() else shard_files(path)
    if not files:
        raise DataFeedError(f"no complete MindRecord shards in {path}")
    return files


def check_files(files: list[Path], max_seq_length: int, max_predictions: int, vocab_size: int,
                sample_rows: int = 256) -> int:
    """Columns, lengths and token ids checked up front (an id ≥ vocab_size otherwise shows up as
    NaN or a Gather error hours later); returns the total row count."""
    from mindspore.mindrecord import FileReader

    manifest = files[0].parent / MANIFEST
    if manifest.is_file():
        params = json.loads(manifest.read_text())["params"]
        if params.get("vocab_size", 0) > vocab_size:
            raise DataFeedError(f"data was made with a vocab of {params['vocab_size']} tokens, "
                                f"the model has vocab_size {vocab_size}")
    rows = 0
    for file in files:
        try:
            reader = FileReader(str(file))
        except Exception as exc:  # MindSpore raises RuntimeError/ParamValueError with C++ detail
            raise DataFeedError(f"{file} is not a readable MindRecord file: {str(exc).splitlines()[0]}") from None
        try:
            schema = reader.schema()
            missing = [c for c in COLUMNS if c not in schema]
            if missing:
                raise DataFeedError(f"{file} lacks the columns {', '.join(missing)}")
            rows += reader.len()
            for k, row in enumerate(reader.get_next()):
                if k >= sample_rows:
                    break
                if len(row["input_ids"]) != max_seq_length:
                    raise DataFeedError(f"{file}: sequences are {len(row['input_ids'])} long, "
                                        f"the config says max_seq_length {max_seq_length}")
                if len(row["masked_lm_ids"]) != max_predictions:
                    raise DataFeedError(f"{file}: {len(row['masked_lm_ids'])} predictions per sequence, "
                                        f"the config says max_predictions_per_seq {max_predictions}")
                top = max(int(np.max(row["input_ids"])), int(np.max(row["masked_lm_ids"])))
                if top >= vocab_size:
                    raise DataFeedError(f"{file}: token id {top} is outside the model's vocab_size {vocab_size}")
        finally:
            reader.close()
    return rows


class StepOrder:
    """Step s of epoch e takes rows perm_e[s·G : (s+1)·G] (G = batch × accumulation × world, perm_e
    a permutation seeded by seed + e); rank r gets every W-th of them, cut into micro-batches.
    Any world size and accumulation that keep G therefore see the same rows in every step."""

    def __init__(self, num_rows: int, batch_size: int, accumulation: int, rank: int, world: int, seed: int,
                 shuffle: bool = True):
        self.batch_size, self.accumulation = batch_size, accumulation
        self.rank, self.world, self.seed, self.shuffle = rank, world, seed, shuffle
        self.global_batch = batch_size * accumulation * world
        self.num_rows = num_rows
        self.steps_per_epoch = num_rows // self.global_batch
        if self.steps_per_epoch == 0:
            raise DataFeedError(f"{num_rows} rows are fewer than one global batch of {self.global_batch}")

    def rank_indices(self, epoch: int, start_step: int = 0) -> np.ndarray:
        order = (np.random.default_rng([self.seed, epoch]).permutation(self.num_rows) if self.shuffle
                 else np.arange(self.num_rows))
        steps = order[: self.steps_per_epoch * self.global_batch].reshape(self.steps_per_epoch, self.global_batch)
        return steps[start_step:, self.rank::self.world].reshape(-1)

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
    """StepOrder over MindRecord shards, read by mindspore.dataset with explicit columns."""

    def __init__(self, files, batch_size: int, accumulation: int, rank: int, world: int, seed: int,
                 num_rows: int, shuffle: bool = True):
        super().__init__(num_rows, batch_size, accumulation, rank, world, seed, shuffle)
        self.files = [str(f) for f in files]

    def epoch(self, epoch: int, start_step: int = 0):
        """This rank's micro-batches (column name → array) of steps start_step, … of `epoch`."""
        import mindspore.dataset as ds

        indices = self.rank_indices(epoch, start_step)
        if len(indices) == 0:
            return
        dataset = ds.MindDataset(self.files, columns_list=list(COLUMNS), sampler=ds.SubsetSampler(indices.tolist()))
        dataset = dataset.batch(self.batch_size, drop_remainder=True)
        yield from self.group(dataset.create_dict_iterator(output_numpy=True, num_epochs=1))


class ArrayFeed(StepOrder):
    """StepOrder over in-memory columns (name → array with one row per example)."""

    def __init__(self, columns: dict[str, np.ndarray], batch_size: int, accumulation: int, rank: int,
                 world: int, seed: int, shuffle: bool = True):
        super().__init__(len(next(iter(columns.values()))), batch_size, accumulation, rank, world, seed, shuffle)
        self.columns = columns

    def epoch(self, epoch: int, start_step: int = 0):
        indices = self.rank_indices(epoch, start_step).reshape(-1, self.batch_size)
        yield from self.group({name: c[i] for name, c in self.columns.items()} for i in indices)
