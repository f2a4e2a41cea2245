"""bert.convert: HF (safetensors and torch .bin) and Google TF checkpoints in, our model
directories and HF safetensors out, every mismatch reported."""
import json
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from safetensors.numpy import load_file

from bert import assets
from bert.model_dir import CheckpointError, read_model_dir
from bert.config import BertConfig
from bert.convert import (hf_state_to_ms, load_hf_weights, load_pretrained, main, read_torch_bin,
                          tf_state_to_hf)
from bert.model import BertForPreTraining, BertForSequenceClassification, BertModel
from conftest import load_fixture

MINILM = BertConfig.from_hf_dict(
    {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536})


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bert.convert", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_import_then_export_round_trips_the_real_checkpoint(tmp_path):
    ours, back = tmp_path / "ours", tmp_path / "hf"
    assert main(["import-hf", "--input", str(assets.minilm_dir()), "--output", str(ours)]) == 0
    config, state = read_model_dir(ours)
    assert config == MINILM and (ours / "vocab.txt").is_file()
    assert "bert.encoder.layer.5.output.LayerNorm.gamma" in state
    assert main(["export-hf", "--input", str(ours), "--output", str(back)]) == 0
    original = load_file(str(assets.minilm_dir() / "model.safetensors"))
    exported = load_file(str(back / "model.safetensors"))
    original.pop("embeddings.position_ids")
    assert sorted(exported) == sorted("bert." + k for k in original)
    for name, value in original.items():
        np.testing.assert_array_equal(exported["bert." + name], value)
    hf_config = json.loads((back / "config.json").read_text())
    assert hf_config["model_type"] == "bert" and hf_config["hidden_size"] == 384


def test_imported_model_dir_loads_and_reproduces_the_reference(tmp_path):
    main(["import-hf", "--input", str(assets.minilm_dir()), "--output", str(tmp_path / "m")])
    ref = load_fixture("minilm_reference.npz")
    model = BertModel(MINILM)
    assert load_pretrained(model, tmp_path / "m") == []
    model.set_train(False)
    import mindspore as ms

    hidden, _ = model(*(ms.Tensor(ref[k]) for k in ("input_ids", "token_type_ids", "attention_mask")))
    assert np.abs(hidden.asnumpy() - ref["last_hidden_state"]).max() < 1e-4


def test_encoder_checkpoint_into_classifier_leaves_only_the_head_at_init():
    model = BertForSequenceClassification(MINILM)
    left = load_hf_weights(model, assets.minilm_dir(), missing_ok=("classifier.",))
    assert left == ["classifier.bias", "classifier.weight"]


def test_missing_heads_are_listed_when_not_allowed():
    with pytest.raises(CheckpointError, match=r"missing 7: cls\.predictions\.bias"):
        load_hf_weights(BertForPreTraining(MINILM), assets.minilm_dir())


def test_vocab_size_mismatch_is_named():
    model = BertModel(BertConfig.from_dict({**MINILM.to_dict(), "vocab_size": 8000}))
    with pytest.raises(CheckpointError, match="vocab_size 30522 != 8000"):
        load_hf_weights(model, assets.minilm_dir())


def test_unexpected_and_wrong_shape_tensors_are_listed():
    ref = load_fixture("parity_L2-H128.npz")
    state = hf_state_to_ms({k[2:]: v for k, v in ref.items() if k.startswith("w/")})
    state["bert.encoder.layer.7.output.dense.weight"] = np.zeros((2, 2), np.float32)
    state["cls.seq_relationship.bias"] = np.zeros(3, np.float32)
    config = BertConfig.from_hf_dict(json.loads(str(ref["config"])))
    from bert.model_dir import assign_state

    with pytest.raises(CheckpointError) as err:
        assign_state(BertForPreTraining(config), state)
    message = str(err.value)
    assert "unexpected 1: bert.encoder.layer.7.output.dense.weight" in message
    assert "wrong shape 1: cls.seq_relationship.bias (3,) != (2,)" in message


def test_google_tf_variable_names_map_onto_hf_names_with_kernels_transposed():
    """Google's checkpoint naming (run_pretraining.py), written out from the HF fixture."""
    ref = load_fixture("parity_L2-H128.npz")
    hf = {k[2:]: v.astype(np.float32) for k, v in ref.items() if k.startswith("w/")}
    hf.pop("cls.predictions.decoder.bias")
    tf = {"global_step": np.array(7)}
    for name, value in hf.items():
        tf_name = name.replace("layer.", "layer_").replace(".", "/")
        if tf_name.endswith("_embeddings/weight"):
            tf_name = tf_name[: -len("/weight")]
        elif "LayerNorm" in tf_name:
            tf_name = tf_name.replace("/weight", "/gamma").replace("/bias", "/beta")
        elif tf_name == "cls/predictions/bias":
            tf_name = "cls/predictions/output_bias"
        elif tf_name.startswith("cls/seq_relationship/"):
            tf_name = tf_name.replace("/weight", "/output_weights").replace("/bias", "/output_bias")
        elif tf_name.endswith("/weight"):
            tf_name, value = tf_name[: -len("/weight")] + "/kernel", value.T
        tf[tf_name] = value
        tf[tf_name + "/adam_m"] = np.zeros_like(value)
    mapped = tf_state_to_hf(tf)
    assert sorted(mapped) == sorted(hf)
    for name, value in hf.items():
        np.testing.assert_array_equal(mapped[name], value, err_msg=name)


def test_google_tf_checkpoint_without_tensorflow_is_one_clear_error(tmp_path):
    try:
        import tensorflow  # noqa: F401
        pytest.skip("tensorflow is installed")
    except ImportError:
        pass
    result = cli("import-tf", "--input", tmp_path / "bert_model.ckpt", "--output", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: reading Google TF checkpoints needs tensorflow: pip install tensorflow-cpu"
    assert not (tmp_path / "out").exists()


def test_cli_bad_input_is_one_line_and_nonzero(tmp_path):
    result = cli("import-hf", "--input", tmp_path, "--output", tmp_path / "out")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "has no config.json" in result.stderr
    result = cli("export-hf", "--input", tmp_path, "--output", tmp_path / "out")
    assert result.returncode == 2 and "is not a model directory" in result.stderr
    help_text = cli("--help").stdout
    assert "import-hf" in help_text and "export-hf" in help_text


def test_a_torch_file_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"x": Evil()}))
    with pytest.raises(CheckpointError, match="refusing to load builtins.print"):
        read_torch_bin(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a torch zip checkpoint"):
        read_torch_bin(path)


@pytest.mark.parametrize("folder, prefix", [("hf_tiny_torch", "w/"), ("hf_tiny_torch_bf16", "bf16/")])
def test_torch_bin_is_read_without_torch_including_tied_storage_and_bfloat16(fixtures_dir, folder, prefix):
    ref = load_fixture("hf_tiny_torch_reference.npz")
    state = read_torch_bin(fixtures_dir / folder / "pytorch_model.bin")
    expected = {k[len(prefix):]: v for k, v in ref.items() if k.startswith(prefix)}
    assert sorted(state) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(state[name].astype(np.float32), value, err_msg=name)


def test_torch_bin_directory_loads_into_a_model(fixtures_dir):
    ref = load_fixture("hf_tiny_torch_reference.npz")
    config = BertConfig.from_hf_dict(json.loads((fixtures_dir / "hf_tiny_torch" / "config.json").read_text()))
    model = BertForPreTraining(config)
    assert load_hf_weights(model, fixtures_dir / "hf_tiny_torch") == []
    np.testing.assert_array_equal(model.cls.predictions.bias.asnumpy(), ref["w/cls.predictions.bias"])
    np.testing.assert_array_equal(model.bert.embeddings.word_embeddings.embedding_table.asnumpy(),
                                  ref["w/bert.embeddings.word_embeddings.weight"])
