import json

import pytest

from bert.config import ALIASES, HIDDENS, LAYERS, BertConfig, ConfigError, parse_overrides


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("hidden", HIDDENS)
def test_every_google_compact_size_has_heads_h_over_64_and_intermediate_4h(layers, hidden):
    config = BertConfig.from_name(f"L{layers}-H{hidden}")
    assert (config.num_hidden_layers, config.hidden_size) == (layers, hidden)
    assert config.num_attention_heads == hidden // 64
    assert config.intermediate_size == 4 * hidden
    assert config.name == f"L{layers}-H{hidden}"


def test_aliases_name_googles_sizes():
    assert {alias: BertConfig.from_name(alias).name for alias in ALIASES} == {
        "tiny": "L2-H128", "mini": "L4-H256", "small": "L4-H512", "medium": "L8-H512", "base": "L12-H768"}


def test_google_bert_config_json_loads(tmp_path):
    google = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
              "hidden_size": 256, "initializer_range": 0.02, "intermediate_size": 1024,
              "max_position_embeddings": 512, "num_attention_heads": 4, "num_hidden_layers": 4,
              "type_vocab_size": 2, "vocab_size": 30522}
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(google))
    assert BertConfig.from_file(path) == BertConfig.from_name("L4-H256")


def test_yaml_names_a_size_and_overrides_fields(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("name: L6-H512\nvocab_size: 8000\nhidden_dropout_prob: 0.0\n")
    config = BertConfig.from_file(path)
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (6, 512, 8000)
    assert config.hidden_dropout_prob == 0.0


@pytest.mark.parametrize("fields, key", [
    ({"hidden_sise": 128}, "hidden_sise"),
    ({"hidden_size": 130, "num_attention_heads": 4}, "hidden_size"),
    ({"num_hidden_layers": 0}, "num_hidden_layers"),
    ({"vocab_size": -5}, "vocab_size"),
    ({"hidden_act": "swish"}, "hidden_act"),
    ({"hidden_dropout_prob": 1.5}, "hidden_dropout_prob"),
    ({"vocab_size": "many"}, "vocab_size"),
])
def test_bad_values_give_one_line_naming_the_key(tmp_path, fields, key):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps({"name": "L2-H128", **fields}))
    with pytest.raises(ConfigError) as err:
        BertConfig.from_file(path)
    message = str(err.value)
    assert key in message and "\n" not in message and str(path) in message


def test_unknown_size_name_is_an_error():
    with pytest.raises(ConfigError, match="L3-H128"):
        BertConfig.from_name("L3-H128")


def test_overrides_parse_yaml_scalars_so_false_is_false():
    assert parse_overrides(["train.jit=False", "lr=3e-4", "name=L4-H256", "steps=10"]) == {
        "train": {"jit": False}, "lr": "3e-4", "name": "L4-H256", "steps": 10}
    with pytest.raises(ConfigError):
        parse_overrides(["novalue"])


def test_shipped_model_configs_load_as_their_named_size(tmp_path):
    from pathlib import Path

    paths = sorted((Path(__file__).parents[1] / "configs" / "model").glob("*.yaml"))
    named = {"L4-H128", "L4-H256", "L4-H512", "L4-H768", "L6-H256", "L6-H512", "L6-H768", "L8-H512"}
    assert named <= {p.stem for p in paths}  # Google's named compact sizes all ship
    for path in paths:
        assert BertConfig.from_file(path).name == path.stem
