"""bert.dropout: masks that are the documented function of (seed, step, slot, site, element), made
the same on the host and in the graph; standard dropout's statistics; independence from the batch
an example sits in."""
import zlib

import mindspore as ms
import numpy as np
import pytest
from scipy import stats

from bert.config import BertConfig
from bert.dropout import Dropout, DropoutInputs, Site, example_keys, host_masks, number_sites


def lowbias32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def reference_keep(key: int, name: str, p: float, n: int) -> np.ndarray:
    """The module docstring's definition, element by element in Python integers."""
    site = lowbias32(key ^ zlib.crc32(name.encode()))
    keep = []
    for e in range(n):
        word = lowbias32(((e // 2) * 0x9E3779B1 & 0xFFFFFFFF) ^ site)
        u = word & 0xFFFF if e % 2 == 0 else word >> 16
        keep.append(u < round((1 - p) * 65536))
    return np.array(keep)


def in_graph(p, name, x, keys):
    cell = Dropout(p, name, x.shape[1:])
    cell.set_train(True)
    return cell(ms.Tensor(x), ms.Tensor(keys)).asnumpy()


@pytest.mark.parametrize("shape", [(3, 4, 5, 5), (3, 7)])  # an odd count per example too
def test_host_and_graph_compute_the_documented_masks(shape):
    keys = example_keys(12345, 7, np.arange(shape[0]))
    n = int(np.prod(shape[1:]))
    expected = np.stack([reference_keep(int(k), "layer.0.attention.probs", 0.1, n) for k in keys]).reshape(shape)
    (host,) = host_masks(keys, [Site("layer.0.attention.probs", 0.1, shape[1:])])
    np.testing.assert_array_equal(host, expected)
    out = in_graph(0.1, "layer.0.attention.probs", np.ones(shape, np.float32), keys)
    np.testing.assert_array_equal(out != 0, expected)
    np.testing.assert_array_equal(out[expected], np.float32(65536 / 58982))


def test_keep_probability_scaling_and_independence_are_standard_dropouts():
    p, shape = 0.1, (64, 128, 256)
    (kept,) = host_masks(example_keys(1, 0, np.arange(shape[0])), [Site("embeddings", p, shape[1:])])
    n, keep_p = kept.size, 58982 / 65536  # 1 - p to 1/65536
    assert abs(keep_p - (1 - p)) < 1 / 65536
    assert abs(kept.mean() - keep_p) < 5 * np.sqrt(keep_p * (1 - keep_p) / n)  # 5 binomial sigmas
    # neighbours along every axis and across examples: independent (2x2 tables, chi-square)
    for a, b in ((kept[:, :, :-1], kept[:, :, 1:]), (kept[:, :-1], kept[:, 1:]), (kept[:-1], kept[1:])):
        table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        assert stats.chi2_contingency(table)[1] > 1e-4
    x = np.random.default_rng(0).normal(size=(16, 64, 64)).astype(np.float32)
    out = in_graph(p, "embeddings", x, example_keys(1, 0, np.arange(16)))
    assert abs(out.mean() - x.mean()) < 5 * x.std() * np.sqrt(p / (1 - p) / x.size)  # E[out] = x


def test_an_examples_mask_does_not_depend_on_its_batch():
    keys = example_keys(3, 11, np.arange(8))
    x = np.random.default_rng(0).normal(size=(8, 16, 32)).astype(np.float32)
    whole = in_graph(0.1, "layer.1.output", x, keys)
    for rows in ([5], [2, 7], [6, 1, 0]):
        np.testing.assert_array_equal(in_graph(0.1, "layer.1.output", x[rows], keys[rows]), whole[rows])


def test_masks_differ_across_sites_steps_slots_and_seeds():
    def mask(seed=1, step=0, slot=0, site="embeddings"):
        return host_masks(example_keys(seed, step, np.array([slot])), [Site(site, 0.1, (64, 64))])[0]

    base = mask()
    np.testing.assert_array_equal(base, mask())
    for other in (mask(seed=2), mask(seed=2 ** 40 + 1), mask(step=1), mask(slot=1), mask(site="layer.0.output")):
        assert 0.14 < np.mean(base != other) < 0.22  # 2·p·(1-p) = 0.18 for independent masks


def test_no_dropout_input_or_eval_mode_pass_through():
    x = np.random.default_rng(1).normal(size=(2, 8, 8)).astype(np.float32)
    cell = Dropout(0.5, "classifier", (8, 8))
    cell.set_train(True)
    np.testing.assert_array_equal(cell(ms.Tensor(x)).asnumpy(), x)
    cell.set_train(False)
    np.testing.assert_array_equal(cell(ms.Tensor(x), ms.Tensor(example_keys(0, 0, np.arange(2)))).asnumpy(), x)


def test_the_gradient_is_the_mask_times_the_scale():
    keys = example_keys(5, 2, np.arange(4))
    x = np.random.default_rng(2).normal(size=(4, 8, 16)).astype(np.float32)
    cell = Dropout(0.2, "embeddings", (8, 16))
    cell.set_train(True)
    grad = ms.grad(lambda t: cell(t, ms.Tensor(keys)).sum())(ms.Tensor(x)).asnumpy()
    (keep,) = host_masks(keys, [Site("embeddings", 0.2, (8, 16))])
    np.testing.assert_allclose(grad, keep * np.float32(65536 / round(0.8 * 65536)), rtol=1e-6)


def test_a_model_numbers_its_sites_and_both_places_give_the_same_output():
    from bert.model import BertForSequenceClassification

    config = BertConfig.from_name("tiny", vocab_size=100, attention_probs_dropout_prob=0.2)
    model = BertForSequenceClassification(config, 3)
    model.set_train(True)
    sites = number_sites(model, 16)
    heads, h = config.num_attention_heads, config.hidden_size
    assert [(s.name, s.p, s.shape) for s in sites] == [
        ("embeddings", 0.1, (16, h)),
        *[site for i in range(config.num_hidden_layers) for site in (
            (f"layer.{i}.attention.probs", 0.2, (heads, 16, 16)), (f"layer.{i}.attention.output", 0.1, (16, h)),
            (f"layer.{i}.output", 0.1, (16, h)))],
        ("classifier", 0.1, (h,))]
    rng = np.random.default_rng(3)
    inputs = [ms.Tensor(rng.integers(0, 100, (4, 16)).astype(np.int32)), ms.Tensor(np.zeros((4, 16), np.int32)),
              ms.Tensor(np.ones((4, 16), np.int32))]
    keys = example_keys(9, 4, np.arange(4))
    host, device = DropoutInputs(model, 16, "host"), DropoutInputs(model, 16, "device")
    assert host.where == "host" and DropoutInputs(model, 16).where == "host"  # auto on CPU
    np.testing.assert_array_equal(model(*inputs, host(keys)).asnumpy(), model(*inputs, device(keys)).asnumpy())
    assert np.abs(model(*inputs, host(keys)).asnumpy() - model(*inputs).asnumpy()).max() > 1e-3
