"""Checkpoint conversion: Hugging Face / Google TF BERT checkpoints in, this project's model
directories (or HF safetensors again) out.

    python -m bert.convert import-hf --input HF_DIR --output MODEL_DIR
    python -m bert.convert import-tf --input bert_model.ckpt --config bert_config.json --output MODEL_DIR
    python -m bert.convert export-hf --input MODEL_DIR --output HF_DIR
"""
# tensorflow is imported inside read_tf_checkpoint: it is optional (Google TF checkpoints only) and
# heavy; this module runs in light processes (conversion, config checks) without it.
from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import re
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

from bert.atomic import atomic_directory, write_text_atomic
from bert.model_dir import (VOCAB_FILE, CheckpointError, assign_state, check_config_match,
                             is_model_dir, load_state, read_model_dir, save_model_dir, save_state)
from bert.config import BertConfig, ConfigError

HF_CONFIG = "config.json"
HF_SAFETENSORS = "model.safetensors"
HF_TORCH_BIN = "pytorch_model.bin"
# Tensors HF files may carry that are not parameters here: buffers and tied copies.
HF_REDUNDANT = re.compile(r"(^|\.)position_ids$|^cls\.predictions\.decoder\.(weight|bias)$")
HEAD_PREFIXES = ("cls.", "classifier.")


# ---------------------------------------------------------------- names


def hf_to_ms_name(name: str) -> str:
    """`…_embeddings.weight` → `…_embeddings.embedding_table`, LayerNorm weight/bias → gamma/beta."""
    name = re.sub(r"_embeddings\.weight$", "_embeddings.embedding_table", name)
    name = re.sub(r"LayerNorm\.(weight|gamma)$", "LayerNorm.gamma", name)
    return re.sub(r"LayerNorm\.(bias|beta)$", "LayerNorm.beta", name)


def ms_to_hf_name(name: str) -> str:
    name = re.sub(r"\.embedding_table$", ".weight", name)
    return re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name))


def hf_state_to_ms(hf_state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """HF tensor names → ours; `BertModel` files lack the `bert.` prefix our task models use."""
    out = {}
    for name, value in hf_state.items():
        if HF_REDUNDANT.search(name):
            continue
        if not name.startswith(("bert.", *HEAD_PREFIXES)):
            name = "bert." + name
        out[hf_to_ms_name(name)] = value.astype(np.float32) if value.dtype != np.float32 else value
    return out


def ms_state_to_hf(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {ms_to_hf_name(name): value for name, value in state.items()}


# ---------------------------------------------------------------- Hugging Face files


class _TorchZipUnpickler(pickle.Unpickler):
    """Reads the pickle inside a torch zip checkpoint without torch.

    Only the handful of globals a state dict needs resolve (like torch's weights_only mode):
    anything else in the file is refused, so no code from the file can run.
    """

    DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
              "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
              "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
              "BoolStorage": np.bool_}

    def __init__(self, file, archive: zipfile.ZipFile, root: str):
        super().__init__(file)
        self.archive, self.root = archive, root

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return lambda data, requires_grad, hooks: data
        if module == "torch" and name in self.DTYPES:
            return self.DTYPES[name]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint")

    def persistent_load(self, pid):
        _, dtype, key, _location, numel = pid
        raw = self.archive.read(f"{self.root}/data/{key}")
        if dtype == "bfloat16":  # numpy has no bfloat16: widen the upper 16 bits to float32
            return (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)[:numel]
        return np.frombuffer(raw, dtype)[:numel]

    @staticmethod
    def _rebuild_tensor(storage, offset, size, stride, *_):
        item = storage.itemsize
        return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                               strides=tuple(s * item for s in stride)).copy()


def read_torch_bin(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A `pytorch_model.bin` (torch ≥ 1.6 zip format) → name → array, without torch."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a torch zip checkpoint (legacy pre-1.6 format is not supported)")
    with zipfile.ZipFile(path) as archive:
        pkl = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
        if pkl is None:
            raise CheckpointError(f"{path} has no data.pkl")
        with archive.open(pkl) as f:
            try:
                state = _TorchZipUnpickler(f, archive, pkl[: -len("/data.pkl")]).load()
            except (pickle.UnpicklingError, KeyError, ValueError, TypeError) as exc:
                raise CheckpointError(f"{path}: {exc}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    return state


def read_hf_dir(hf_dir: str | os.PathLike) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """An HF BERT directory → (config, HF-named tensors)."""
    hf_dir = Path(hf_dir)
    if not (hf_dir / HF_CONFIG).is_file():
        raise CheckpointError(f"{hf_dir} has no {HF_CONFIG}: not a Hugging Face model directory")
    try:
        config = BertConfig.from_hf_dict(json.loads((hf_dir / HF_CONFIG).read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ConfigError) as exc:
        raise CheckpointError(f"{hf_dir / HF_CONFIG}: {exc}") from None
    if (hf_dir / HF_SAFETENSORS).is_file():
        return config, load_state(hf_dir / HF_SAFETENSORS)
    if (hf_dir / HF_TORCH_BIN).is_file():
        return config, read_torch_bin(hf_dir / HF_TORCH_BIN)
    raise CheckpointError(f"{hf_dir} has neither {HF_SAFETENSORS} nor {HF_TORCH_BIN}")


def hf_config_dict(config: BertConfig, architecture: str, pad_token_id: int = 0) -> dict:
    return {"architectures": [architecture], "model_type": "bert", "pad_token_id": pad_token_id,
            "position_embedding_type": "absolute", **config.to_dict()}


# ---------------------------------------------------------------- Google TF checkpoints


def tf_name_to_hf(name: str) -> str | None:
    """`bert/encoder/layer_0/attention/self/query/kernel` → `bert.encoder.layer.0.attention.self.query.weight`."""
    if name.endswith(("adam_m", "adam_v")) or name == "global_step":
        return None
    name = re.sub(r"layer_(\d+)", r"layer.\1", name).replace("/", ".")
    name = re.sub(r"\.(kernel|gamma)$", ".weight", name)
    name = re.sub(r"\.beta$", ".bias", name)
    name = re.sub(r"_embeddings$", "_embeddings.weight", name)
    name = name.replace("cls.predictions.output_bias", "cls.predictions.bias")
    name = name.replace("cls.seq_relationship.output_weights", "cls.seq_relationship.weight")
    return name.replace("cls.seq_relationship.output_bias", "cls.seq_relationship.bias")


def tf_state_to_hf(tf_state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TF variables → HF names; dense kernels are [in, out] in TF, transposed to [out, in]."""
    out = {}
    for name, value in tf_state.items():
        hf = tf_name_to_hf(name)
        if hf is not None:
            out[hf] = value.T.copy() if name.endswith("/kernel") else value
    return out


def read_tf_checkpoint(prefix: str | os.PathLike) -> dict[str, np.ndarray]:
    """Variables of a Google TF checkpoint (`bert_model.ckpt` prefix); needs tensorflow."""
    try:
        import tensorflow as tf
    except ImportError:
        raise CheckpointError("reading Google TF checkpoints needs tensorflow: pip install tensorflow-cpu") from None
    if not Path(f"{prefix}.index").is_file():
        raise CheckpointError(f"{prefix}.index does not exist: pass the checkpoint prefix (…/bert_model.ckpt)")
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


# ---------------------------------------------------------------- loading into a model


def read_hf(hf_dir) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """An HF directory → (config, our-named tensors)."""
    config, hf_state = read_hf_dir(hf_dir)
    return config, hf_state_to_ms(hf_state)


def read_tf(prefix, config_file=None) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """A TF checkpoint prefix (+ its bert_config.json) → (config, our-named tensors)."""
    tf_state = read_tf_checkpoint(prefix)
    config = BertConfig.from_file(config_file or Path(prefix).parent / "bert_config.json")
    return config, hf_state_to_ms(tf_state_to_hf(tf_state))


def read_any(path: str | os.PathLike) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """Our model dir, an HF dir or a TF checkpoint prefix → (config, our-named tensors)."""
    path = Path(path)
    if is_model_dir(path):
        return read_model_dir(path)
    if (path / HF_CONFIG).is_file():
        return read_hf(path)
    if Path(f"{path}.index").is_file():
        return read_tf(path)
    raise CheckpointError(f"{path} is neither a model directory, a Hugging Face directory nor a TF checkpoint")


def load_pretrained(model, path: str | os.PathLike, missing_ok: tuple[str, ...] = (),
                    unexpected_ok: tuple[str, ...] = ()) -> list[str]:
    """Load any supported checkpoint into `model` in place; returns parameters left at init."""
    config, state = read_any(path)
    check_config_match(model.config, config, str(path))
    return assign_state(model, state, missing_ok, unexpected_ok, source=str(path))


def load_hf_weights(model, hf_dir: str | os.PathLike, missing_ok: tuple[str, ...] = (),
                    unexpected_ok: tuple[str, ...] = ()) -> list[str]:
    """Load an HF BERT directory into `model` in place (names, shapes and config checked)."""
    config, state = read_hf(hf_dir)
    check_config_match(model.config, config, str(hf_dir))
    return assign_state(model, state, missing_ok, unexpected_ok, source=str(hf_dir))


# ---------------------------------------------------------------- CLI


def import_checkpoint(source, output, kind: str, config_file=None) -> Path:
    """kind "hf" (directory) or "tf" (checkpoint prefix) → our model directory, vocab included."""
    config, state = read_hf(source) if kind == "hf" else read_tf(source, config_file)
    src = Path(source)
    vocab = next((v for v in (src / VOCAB_FILE, src.parent / VOCAB_FILE) if v.is_file()), None)
    return save_model_dir(output, config, state, vocab)


def export_hf(model_dir, output) -> Path:
    config, state = read_model_dir(model_dir)
    arch = "BertForPreTraining" if any(n.startswith("cls.") for n in state) else "BertModel"
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(output) as tmp:
        save_state(tmp / HF_SAFETENSORS, ms_state_to_hf(state))
        write_text_atomic(tmp / HF_CONFIG, json.dumps(hf_config_dict(config, arch), indent=2) + "\n")
        if (Path(model_dir) / VOCAB_FILE).is_file():
            shutil.copyfile(Path(model_dir) / VOCAB_FILE, tmp / VOCAB_FILE)
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("import-hf", help="HF directory (config.json + model.safetensors or pytorch_model.bin) → model dir")
    p.add_argument("--input", required=True, help="Hugging Face model directory")
    p.add_argument("--output", required=True, help="model directory to write")
    p = sub.add_parser("import-tf", help="Google TF checkpoint → model dir (needs tensorflow)")
    p.add_argument("--input", required=True, help="checkpoint prefix, e.g. uncased_L-4_H-256_A-4/bert_model.ckpt")
    p.add_argument("--config", help="bert_config.json (default: next to the checkpoint)")
    p.add_argument("--output", required=True, help="model directory to write")
    p = sub.add_parser("export-hf", help="model dir → HF directory (config.json + model.safetensors)")
    p.add_argument("--input", required=True, help="model directory (bert_config.json + model.safetensors)")
    p.add_argument("--output", required=True, help="Hugging Face directory to write")
    args = parser.parse_args(argv)
    try:
        if args.command == "export-hf":
            out = export_hf(args.input, args.output)
        else:
            kind = args.command.removeprefix("import-")
            out = import_checkpoint(args.input, args.output, kind, getattr(args, "config", None))
    except (CheckpointError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
