"""The pretraining feed's epoch order (bert.train.data.BlockPermutation): a bijection of the rows
computed per position — every row once per epoch, another order each epoch, the same rows in
every step for any world size and accumulation, runs of contiguous rows for the filesystem, and
nothing held in memory that grows with the corpus."""
import tracemalloc

import numpy as np
import pytest

from bert.train.data import BlockPermutation, StepOrder, feistel


@pytest.mark.parametrize("n, block", [(1, 16), (15, 16), (16, 16), (1000, 16), (12_345, 1), (100_003, 16),
                                      (65_536, 256)])
def test_every_row_once_per_epoch(n, block):
    rows = BlockPermutation(n, block, 12345, 0)(np.arange(n))
    np.testing.assert_array_equal(np.sort(rows), np.arange(n))


def test_feistel_is_a_bijection_for_any_key():
    for n in (2, 3, 255, 256, 257, 4099):
        for key in (0, 1, 0xFFFFFFFF):
            np.testing.assert_array_equal(np.sort(feistel(np.arange(n), n, key)), np.arange(n))


def test_another_order_each_epoch_and_seed_and_the_same_one_again():
    n = 50_000
    first = BlockPermutation(n, 16, 12345, 0)(np.arange(n))
    np.testing.assert_array_equal(BlockPermutation(n, 16, 12345, 0)(np.arange(n)), first)
    for other in (BlockPermutation(n, 16, 12345, 1), BlockPermutation(n, 16, 54321, 0)):
        assert np.mean(other(np.arange(n)) == first) < 0.01


def test_rows_come_in_runs_of_a_block_and_blocks_spread_over_the_corpus():
    n, block = 100_000, 16
    rows = BlockPermutation(n, block, 7, 0)(np.arange(n))
    runs = rows.reshape(-1, block)  # positions k·16 … k·16+15: one block of contiguous rows, shuffled
    assert (runs.max(1) - runs.min(1) == block - 1).all()
    assert (runs.min(1) % block == 0).all()
    starts = runs.min(1)[:1000]
    assert abs(np.corrcoef(np.arange(1000), starts)[0, 1]) < 0.1  # the blocks' order is not the corpus's


@pytest.mark.parametrize("world, accumulation", [(2, 1), (4, 1), (1, 4), (2, 2)])
def test_any_world_size_and_accumulation_reads_the_same_rows_in_each_step(world, accumulation):
    one = StepOrder(10_000, 16, 1, 0, 1, 12345, block=16)
    steps = range(3, 9)
    whole = one.rank_rows(one.order(2), steps).reshape(len(steps), 16)
    batch = 16 // (world * accumulation)
    parts = [StepOrder(10_000, batch, accumulation, rank, world, 12345, block=16) for rank in range(world)]
    split = [p.rank_rows(p.order(2), steps).reshape(len(steps), -1) for p in parts]
    for s in range(len(steps)):
        np.testing.assert_array_equal(np.sort(np.concatenate([rows[s] for rows in split])), np.sort(whole[s]))
        for rank, rows in enumerate(split):  # slot r + W·j of the global batch, as the dropout keys assume
            np.testing.assert_array_equal(rows[s], whole[s][rank::world])


def test_starting_an_epoch_of_260_million_rows_takes_no_memory():
    tracemalloc.start()
    order = StepOrder(260_000_000, 32, 1, 3, 8, 12345, block=16)
    rows = order.rank_rows(order.order(5), range(1_000_000, 1_000_002))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20 and len(rows) == 2 * 32 and (rows < 260_000_000).all()
