"""bert.dropout: masks that are the documented hash of (seed, step, slot, site, element), standard
dropout's statistics, and independence from the batch an example sits in."""
import mindspore as ms
import numpy as np
import pytest
from scipy import stats

from bert.dropout import Dropout, example_keys, mix32_np, site_id


def reference_keep(p, name, shape, keys):
    """The mask as the module docstring defines it, in numpy."""
    n = int(np.prod(shape[1:]))
    with np.errstate(over="ignore"):
        element = (np.arange(n, dtype=np.uint32) * np.uint32(0x9E3779B1)).reshape((1,) + tuple(shape[1:]))
        site_keys = mix32_np(np.asarray(keys, np.uint32) ^ np.uint32(site_id(name)))
        h = mix32_np(element ^ site_keys.reshape((-1,) + (1,) * (len(shape) - 1)))
    return h < np.uint32(round((1 - p) * 2 ** 32))


def run(cell, x, keys):
    cell.set_train(True)
    return cell(ms.Tensor(x), None if keys is None else ms.Tensor(keys)).asnumpy()


def test_the_kernel_computes_the_documented_hash():
    keys = example_keys(12345, 7, np.arange(3))
    x = np.ones((3, 4, 16, 16), np.float32)
    out = run(Dropout(0.1, "layer.0.attention.probs"), x, keys)
    expected = reference_keep(0.1, "layer.0.attention.probs", x.shape, keys) / np.float32(0.9)
    np.testing.assert_array_equal(out, expected.astype(np.float32))


def test_keep_probability_scaling_and_independence_are_standard_dropouts():
    p, shape = 0.1, (64, 128, 256)
    keys = example_keys(1, 0, np.arange(shape[0]))
    x = np.ones(shape, np.float32)
    out = run(Dropout(p, "embeddings"), x, keys)
    kept = out != 0
    n = kept.size
    # keep fraction within 5 binomial standard deviations of 1 - p; kept values scaled by 1/(1-p)
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    assert np.all(out[kept] == np.float32(1 / (1 - p)))
    assert abs(out.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)
    # neighbours along every axis and across examples: no correlation (2x2 tables, chi-square)
    for a, b in ((kept[:, :, :-1], kept[:, :, 1:]), (kept[:, :-1], kept[:, 1:]), (kept[:-1], kept[1:])):
        table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        assert stats.chi2_contingency(table)[1] > 1e-4


def test_an_examples_mask_does_not_depend_on_its_batch():
    keys = example_keys(3, 11, np.arange(8))
    x = np.random.default_rng(0).normal(size=(8, 16, 32)).astype(np.float32)
    cell = Dropout(0.1, "layer.1.output")
    whole = run(cell, x, keys)
    for rows in ([5], [2, 7], [6, 1, 0]):
        np.testing.assert_array_equal(run(cell, x[rows], keys[rows]), whole[rows])


def test_masks_differ_across_sites_steps_slots_and_seeds():
    x = np.ones((1, 64, 64), np.float32)

    def mask(seed=1, step=0, slot=0, site="embeddings"):
        return run(Dropout(0.1, site), x, example_keys(seed, step, np.array([slot]))) != 0

    base = mask()
    np.testing.assert_array_equal(base, mask())
    for other in (mask(seed=2), mask(step=1), mask(slot=1), mask(site="layer.0.output")):
        assert 0.1 < np.mean(base != other) < 0.25  # ~2·p·(1-p) = 0.18 for independent masks


def test_no_keys_or_eval_mode_pass_through():
    x = np.random.default_rng(1).normal(size=(2, 8, 8)).astype(np.float32)
    cell = Dropout(0.5, "classifier")
    np.testing.assert_array_equal(run(cell, x, None), x)
    cell.set_train(False)
    np.testing.assert_array_equal(cell(ms.Tensor(x), ms.Tensor(example_keys(0, 0, np.arange(2)))).asnumpy(), x)


def test_the_gradient_is_the_mask_times_the_scale():
    keys = example_keys(5, 2, np.arange(4))
    x = np.random.default_rng(2).normal(size=(4, 8, 16)).astype(np.float32)
    cell = Dropout(0.2, "embeddings")
    cell.set_train(True)
    grad = ms.grad(lambda t: cell(t, ms.Tensor(keys)).sum())(ms.Tensor(x)).asnumpy()
    expected = reference_keep(0.2, "embeddings", x.shape, keys) / np.float32(0.8)
    np.testing.assert_allclose(grad, expected.astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 2 ** 40 + 3])
def test_keys_are_distinct_uint32_per_slot(seed):
    keys = example_keys(seed, 123, np.arange(4096))
    assert keys.dtype == np.uint32 and len(np.unique(keys)) == 4096
