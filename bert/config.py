"""Configuration: `BertConfig` (Google's bert_config.json fields), the compact-size grid, and
the dataclass ⇄ YAML/JSON/`key=value` machinery every stage's config is built with."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import types
import typing
from pathlib import Path

import yaml

from bert.atomic import write_text_atomic


class ConfigError(ValueError):
    """A bad configuration value; the message is one line that names the key."""


# ---------------------------------------------------------------- generic dataclass config


def parse_overrides(items: typing.Iterable[str]) -> dict:
    """`["a.b=3", "lr=1e-4"]` → nested dict; values are parsed as YAML scalars."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        value = yaml.safe_load(raw) if raw.strip() else ""
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier one")
        node[leaf] = value
    return out


def merge(base: dict, extra: dict) -> dict:
    """Recursive dict merge; `extra` wins."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_mapping(path: str | os.PathLike) -> dict:
    """Read a YAML or JSON file holding a mapping (yaml.safe_load reads both)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {str(exc).splitlines()[0]}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
    return data


def _coerce(value, tp, where: str):
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
        origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping")
        return from_dict(tp, value, where + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (typing.Any,)
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)  # YAML reads "1e-4" as a string
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    return value


T = typing.TypeVar("T")


def from_dict(cls: type[T], data: dict, prefix: str = "") -> T:
    """Build dataclass `cls` from `data`; unknown keys and ill-typed values raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(fields))})")
    for k, v in data.items():  # a nested section given in part keeps the rest of the class's own default
        if isinstance(v, dict) and fields[k].default_factory is not dataclasses.MISSING:
            default = fields[k].default_factory()
            if dataclasses.is_dataclass(default):
                data = {**data, k: merge(dataclasses.asdict(default), v)}
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check()
    return obj


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)


# ---------------------------------------------------------------- BERT architecture

LAYERS = (2, 4, 6, 8, 10, 12)
HIDDENS = (128, 256, 512, 768)
ALIASES = {"tiny": "L2-H128", "mini": "L4-H256", "small": "L4-H512", "medium": "L8-H512", "base": "L12-H768"}
ACTIVATIONS = ("gelu", "relu", "gelu_new", "gelu_approximate")
_SIZE = re.compile(r"^L(\d+)-H(\d+)$", re.IGNORECASE)


@dataclasses.dataclass
class BertConfig:
    """Architecture of one BERT, with the field names of Google's bert_config.json."""

    vocab_size: int = 30522  # WordPiece vocabulary (Google's uncased: 30522)
    hidden_size: int = 768  # H: width of every layer
    num_hidden_layers: int = 12  # L: transformer layers
    num_attention_heads: int = 12  # heads per layer (the compact sizes: H/64)
    intermediate_size: int = 3072  # feed-forward width (the compact sizes: 4H)
    hidden_act: str = "gelu"  # exact GELU; gelu_new/gelu_approximate: tanh form; relu
    hidden_dropout_prob: float = 0.1  # dropout on embeddings and every sublayer's output
    attention_probs_dropout_prob: float = 0.1  # dropout on attention probabilities
    max_position_embeddings: int = 512  # longest sequence the position table holds
    type_vocab_size: int = 2  # segment (token type) ids: A and B
    initializer_range: float = 0.02  # std of the truncated-normal initial weights
    layer_norm_eps: float = 1e-12  # BERT's (MindSpore's LayerNorm default is 1e-7)

    def validate(self) -> None:
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} must be positive, got {getattr(self, key)}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by "
                              f"num_attention_heads {self.num_attention_heads}")
        for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ConfigError(f"{key} must be in [0, 1), got {getattr(self, key)}")
        if self.initializer_range <= 0 or self.layer_norm_eps <= 0:
            raise ConfigError("initializer_range and layer_norm_eps must be positive")
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"hidden_act {self.hidden_act!r} is not one of {', '.join(ACTIVATIONS)}")

    @property
    def name(self) -> str:
        return f"L{self.num_hidden_layers}-H{self.hidden_size}"

    def parameter_count(self) -> int:
        """Parameters of BertForPreTraining (encoder, pooler, MLM transform + bias, NSP)."""
        h, i = self.hidden_size, self.intermediate_size
        embeddings = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size + 2) * h
        layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h
        heads = (h * h + h) + (h * h + 3 * h) + self.vocab_size + (2 * h + 2)
        return embeddings + self.num_hidden_layers * layer + heads

    @classmethod
    def from_name(cls, name: str, **overrides) -> "BertConfig":
        """`L4-H256` (any of Google's 24 compact sizes) or an alias: tiny, mini, small, medium, base."""
        match = _SIZE.match(ALIASES.get(name.lower(), name))
        if not match or int(match[1]) not in LAYERS or int(match[2]) not in HIDDENS:
            raise ConfigError(f"unknown model size {name!r}: use L{{{','.join(map(str, LAYERS))}}}-"
                              f"H{{{','.join(map(str, HIDDENS))}}} or one of {', '.join(ALIASES)}")
        layers, hidden = int(match[1]), int(match[2])
        base = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // 64,
                    intermediate_size=4 * hidden)
        return from_dict(cls, {**base, **overrides})

    @classmethod
    def from_dict(cls, data: dict) -> "BertConfig":
        """Plain mapping → config; a `name: L4-H256` key expands to that size first."""
        data = dict(data)
        name = data.pop("name", None)
        if name is not None:
            return cls.from_name(str(name), **data)
        return from_dict(cls, data)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "BertConfig":
        """Google's bert_config.json, HF's config.json or our YAML (`name: L4-H256` + overrides, or all fields)."""
        data = read_mapping(path)
        try:
            if "model_type" in data:  # a Hugging Face config.json
                return cls.from_hf_dict(data)
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_hf_dict(cls, data: dict) -> "BertConfig":
        """Hugging Face config.json mapping → config (HF-only bookkeeping keys are dropped)."""
        if data.get("model_type", "bert") != "bert":
            raise ConfigError(f"model_type {data['model_type']!r} is not bert")
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise ConfigError(f"position_embedding_type {data['position_embedding_type']!r} is not supported")
        names = {f.name for f in dataclasses.fields(cls)}
        return from_dict(cls, {k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict:
        return to_dict(self)

    def to_json_file(self, path: str | os.PathLike) -> None:
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

