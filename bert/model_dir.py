"""Model directories of this project: `bert_config.json` + `model.safetensors` (MindSpore
parameter names) in, weights loaded into a model out — with every mismatch listed."""
# MindSpore is imported inside assign_state, the one function that uses it: this module runs in light
# processes (config checks, conversion, launchers).
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from bert.atomic import atomic_directory, temporary_sibling
from bert.config import BertConfig

CONFIG_FILE = "bert_config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.txt"


class CheckpointError(ValueError):
    """A checkpoint that does not fit; the message lists what is wrong."""


def save_state(path: str | os.PathLike, state: dict[str, np.ndarray]) -> None:
    """Write a safetensors file atomically."""
    tmp = temporary_sibling(path)
    save_file({k: np.array(v, order="C", copy=False) for k, v in state.items()}, str(tmp))  # keeps 0-d shapes
    os.replace(tmp, path)


def load_state(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"weights file {path} does not exist") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"weights file {path} is not a readable safetensors file: {exc}") from None


def is_model_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / CONFIG_FILE).is_file() and (Path(path) / WEIGHTS_FILE).is_file()


def save_model_dir(out_dir: str | os.PathLike, config: BertConfig, state: dict[str, np.ndarray],
                   vocab_file: str | os.PathLike | None = None, extra: dict[str, str] | None = None) -> Path:
    """Write config, weights (and vocab, and `extra` text files: name → text) into `out_dir` under
    a temporary name, then rename."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(out_dir) as tmp:
        config.to_json_file(tmp / CONFIG_FILE)
        save_state(tmp / WEIGHTS_FILE, state)
        if vocab_file is not None:
            shutil.copyfile(vocab_file, tmp / VOCAB_FILE)
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
    return out_dir


def read_model_dir(path: str | os.PathLike) -> tuple[BertConfig, dict[str, np.ndarray]]:
    path = Path(path)
    if not is_model_dir(path):
        raise CheckpointError(f"{path} is not a model directory (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    return BertConfig.from_file(path / CONFIG_FILE), load_state(path / WEIGHTS_FILE)


def check_config_match(expected: BertConfig, found: BertConfig, source: str) -> None:
    """Architecture fields must agree (dropout and dtype may differ)."""
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "max_position_embeddings", "type_vocab_size", "hidden_act")
    diffs = [f"{k} {getattr(found, k)} != {getattr(expected, k)}" for k in keys
             if getattr(found, k) != getattr(expected, k)]
    if diffs:
        raise CheckpointError(f"{source} does not match the model config: {'; '.join(diffs)}")


def _listing(names: list[str], shown: int = 8) -> str:
    more = f", … ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def assign_state(model, state: dict[str, np.ndarray], missing_ok: tuple[str, ...] = (),
                 unexpected_ok: tuple[str, ...] = (), source: str = "checkpoint", in_place: bool = False) -> list[str]:
    """Copy `state` into `model`'s parameters by name; returns the names left at their init.
    `in_place`: into the parameters' own memory (Tensor.copy_), for a model whose graph is compiled
    already — set_data gives the Parameter new memory, which a compiled graph never sees.

    Missing names (unless under a `missing_ok` prefix), unexpected names (unless under an
    `unexpected_ok` prefix) and shape mismatches raise one CheckpointError listing them all.
    """
    params = {p.name: p for p in model.get_parameters()}
    if not any(n.startswith("bert.") for n in params):  # a bare encoder: drop the task prefix
        state = {n.removeprefix("bert."): v for n, v in state.items()}
    missing = sorted(n for n in params if n not in state)
    unexpected = sorted(n for n in state if n not in params and not n.startswith(unexpected_ok))
    wrong = [f"{n} {tuple(state[n].shape)} != {tuple(params[n].shape)}"
             for n in sorted(params) if n in state and tuple(state[n].shape) != tuple(params[n].shape)]
    problems = []
    hard_missing = [n for n in missing if not n.startswith(missing_ok)]
    for label, names in (("missing", hard_missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if names:
            problems.append(f"{label} {len(names)}: {_listing(names)}")
    if problems:
        raise CheckpointError(f"{source} does not fit the model — {' | '.join(problems)}")
    import mindspore as ms

    for name, param in params.items():
        if name in state:
            value = ms.Tensor(state[name], dtype=param.dtype)
            param.copy_(value) if in_place else param.set_data(value)
    return missing
