"""Our MindSpore BERT computes what Hugging Face's BERT computes (fixtures made by
tools/make_parity_fixtures.py with transformers on torch), in PyNative and graph mode."""
import json

import mindspore as ms
import numpy as np
import pytest

from bert.config import BertConfig
from bert.convert import hf_state_to_ms
from bert.model_dir import assign_state
from bert.model import BertForPreTraining, BertForSequenceClassification, BertModel
from conftest import load_fixture

SIZES = ["L2-H128", "L4-H256"]
TOLERANCE = 1e-4


def fixture_model(size, cls=BertForPreTraining, **kwargs):
    ref = load_fixture(f"parity_{size}.npz")
    config = BertConfig.from_hf_dict(json.loads(str(ref["config"])))
    model = cls(config, **kwargs)
    hf = {k[2:]: v for k, v in ref.items() if k.startswith("w/")}
    assign_state(model, hf_state_to_ms(hf), missing_ok=("classifier.",), unexpected_ok=("cls.",))
    model.set_train(False)
    inputs = [ms.Tensor(ref[k]) for k in ("input_ids", "token_type_ids", "attention_mask")]
    return model, inputs, ref


def run(model, inputs, mode):
    if mode == "graph":
        return ms.jit(model.construct)(*inputs)
    return model(*inputs)


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("size", SIZES)
def test_pretraining_logits_match_hugging_face(size, mode):
    model, inputs, ref = fixture_model(size)
    mlm, nsp = run(model, inputs, mode)
    mlm_err = np.abs(mlm.asnumpy() - ref["mlm_logits"]).max()
    nsp_err = np.abs(nsp.asnumpy() - ref["nsp_logits"]).max()
    print(f"{size} {mode}: max|Δ| mlm {mlm_err:.2e} nsp {nsp_err:.2e}")
    assert mlm_err < TOLERANCE and nsp_err < TOLERANCE
    assert np.abs(ref["mlm_logits"]).max() > 1.0  # the reference is not trivially small


@pytest.mark.parametrize("mode", ["pynative", "graph"])
@pytest.mark.parametrize("size", SIZES)
def test_encoder_hidden_states_and_pooled_output_match_hugging_face(size, mode):
    model, inputs, ref = fixture_model(size)
    hidden, pooled = run(model.bert, inputs, mode)
    assert np.abs(hidden.asnumpy() - ref["last_hidden_state"]).max() < TOLERANCE
    assert np.abs(pooled.asnumpy() - ref["pooled_output"]).max() < TOLERANCE


def test_mlm_head_at_masked_positions_equals_full_logits_gathered():
    model, inputs, ref = fixture_model("L2-H128")
    positions = np.array([[1, 5, 15], [2, 3, 10], [0, 4, 6]], dtype=np.int32)
    mlm, _ = model(*inputs, ms.Tensor(positions))
    expected = np.take_along_axis(ref["mlm_logits"], positions[:, :, None], axis=1)
    assert mlm.shape == (3, 3, 1024)
    assert np.abs(mlm.asnumpy() - expected).max() < TOLERANCE


def test_dropout_acts_in_train_mode_with_keys_only_and_repeats_with_the_same_keys():
    from bert.dropout import example_keys

    model, inputs, ref = fixture_model("L2-H128")
    keys = ms.Tensor(example_keys(1, 0, np.arange(3)))
    model.bert.set_train(False)
    first, second = model.bert(*inputs, keys)[0].asnumpy(), model.bert(*inputs)[0].asnumpy()
    np.testing.assert_array_equal(first, second)
    model.bert.set_train(True)
    np.testing.assert_array_equal(model.bert(*inputs)[0].asnumpy(), first)  # no keys: no dropout
    noisy_a, noisy_b = model.bert(*inputs, keys)[0].asnumpy(), model.bert(*inputs, keys)[0].asnumpy()
    assert np.abs(noisy_a - ref["last_hidden_state"]).max() > 0.05
    np.testing.assert_array_equal(noisy_a, noisy_b)
    other = model.bert(*inputs, ms.Tensor(example_keys(1, 1, np.arange(3))))[0].asnumpy()
    assert np.abs(noisy_a - other).max() > 0.05


def test_padding_does_not_change_the_unpadded_tokens():
    model, inputs, ref = fixture_model("L2-H128")
    length = int(ref["attention_mask"][2].sum())
    alone = [ms.Tensor(ref[k][2:3, :length]) for k in ("input_ids", "token_type_ids", "attention_mask")]
    hidden, _ = model.bert(*alone)
    assert np.abs(hidden.asnumpy()[0] - ref["last_hidden_state"][2, :length]).max() < TOLERANCE


def test_sequence_classification_reads_the_pooled_output():
    model, inputs, ref = fixture_model("L2-H128", BertForSequenceClassification, num_labels=3)
    logits = model(*inputs).asnumpy()
    weight = model.classifier.weight.asnumpy()
    bias = model.classifier.bias.asnumpy()
    assert logits.shape == (3, 3)
    assert np.abs(logits - (ref["pooled_output"] @ weight.T + bias)).max() < TOLERANCE


def test_tied_decoder_is_the_word_embedding_table():
    config = BertConfig.from_name("tiny", vocab_size=100)
    model = BertForPreTraining(config)
    names = [p.name for p in model.get_parameters()]
    assert names.count("bert.embeddings.word_embeddings.embedding_table") == 1
    assert not any("decoder" in n for n in names)


def test_fresh_weights_follow_googles_truncated_normal_init():
    config = BertConfig.from_name("L2-H256", vocab_size=2000)
    table = BertModel(config).embeddings.word_embeddings.embedding_table.asnumpy()
    assert abs(table.std() - 0.02 * 0.88) < 0.002  # std of N(0, σ) truncated at 2σ is 0.88σ
    assert np.abs(table).max() <= 0.04 + 1e-6
