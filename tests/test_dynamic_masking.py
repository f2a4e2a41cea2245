"""Dynamic masking (masking=dynamic): the data stage writes each instance once, unmasked and compact
(uint16 ids, the length of segment A, the NSP label), and the pretraining feed masks it by Google's
rules as a pure function of (seed, epoch, corpus row, position) — the statistics, the independence
from batching, the round trip through MindRecord, and pretraining on it: the same command, exact
resume after kill -9, two ranks equal to one process, bad input."""
import hashlib
import json
import re

import numpy as np
import pytest

from bert import assets
from bert.data.config import DataConfig
from bert.data.examples import examples_stage, load_vocab, read_documents
from bert.data.mindrecord import read_rows, shard_files
from bert.data.pretraining import dupe_passes, dynamic_features, features, id_dtype, shard_seed, unmasked
from conftest import REPO, kill_after_checkpoint, run_module, run_msrun
from test_pretrain import STEPS, assert_same_run, losses

SEQ = 128


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    """One text shard of the real enwiki sample through both writers' algorithms (dupe 1): the
    spans, the static columns, the dynamic rows — same seed, so the same instances."""
    text = tmp_path_factory.mktemp("text")
    run = run_module("bert.data.prepare", "--input", assets.enwiki_sample(), "--vocab", assets.uncased_vocab(),
                     "--output", text, "--stages", "extract,sentences", "shard_bytes=600000")
    assert run.returncode == 0, run.stderr
    shard = sorted((text / "text").glob("*.txt"))[0]
    cfg = DataConfig(max_seq_length=SEQ, dupe_factor=1)
    tokenizer, vocab = load_vocab(assets.uncased_vocab(), None)
    docs = read_documents(shard, tokenizer)
    seed = shard_seed(cfg.random_seed, shard.name)
    spans = next(dupe_passes(docs, cfg, seed))
    static = features(docs.tokens, spans, cfg, vocab, np.random.default_rng([seed, 1]))
    return {"cfg": cfg, "vocab": vocab, "spans": spans, "static": static, "text": text / "text",
            "rows": unmasked(docs.tokens, spans, cfg, vocab)}


def masked(instances, rows=None, epoch=0, seed=7, **changes):
    cfg = DataConfig(**{**instances["cfg"].to_dict(), **changes})
    dyn = instances["rows"]
    rows = np.arange(len(dyn["tokens"])) if rows is None else np.asarray(rows)
    tokens = [dyn["tokens"][r] for r in rows]
    return dynamic_features(b"".join(tokens), [len(t) // 2 for t in tokens], dyn["a_length"][rows],
                            dyn["next_sentence_labels"][rows], rows, epoch, seed, cfg, instances["vocab"])


def originals(columns):
    """The ids before masking: input_ids with each masked position's label put back."""
    ids = columns["input_ids"].copy()
    r, k = np.nonzero(columns["masked_lm_weights"])
    ids[r, columns["masked_lm_positions"][r, k]] = columns["masked_lm_ids"][r, k]
    return ids


def test_the_compact_rows_hold_the_static_corpus_instances(instances):
    """Unmasked, the two formats are the same instances: ids, segments, padding and NSP labels."""
    ours, static = masked(instances), instances["static"]
    np.testing.assert_array_equal(originals(ours), originals(static))
    for name in ("input_mask", "segment_ids", "next_sentence_labels"):
        np.testing.assert_array_equal(ours[name], static[name], err_msg=name)
    assert id_dtype(30522) == np.dtype("<u2") and id_dtype(65536) == np.dtype("<u2")
    assert id_dtype(65537) == np.dtype("<i4")  # a vocab beyond uint16 keeps int32 ids
    lengths = instances["static"]["input_mask"].sum(1)
    assert [len(t) for t in instances["rows"]["tokens"]] == list(2 * lengths)  # 2 bytes per token, no padding


@pytest.mark.parametrize("whole_words, md5", [(False, "5130f8eca00945b5f30d95739e3d4938"),
                                               (True, "573a424d4aa47c7d966a245805ba39aa")])
def test_a_static_corpus_is_byte_for_byte_what_it_was_before_dynamic_masking(instances, tmp_path, whole_words, md5):
    """The md5s were taken from the code before this change (commit 4a0b15b): static corpora made
    then and now are the same files."""
    cfg = DataConfig(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2, do_whole_word_mask=whole_words)
    examples_stage(instances["text"] / "AA_wiki_02.txt", assets.uncased_vocab(), tmp_path, cfg)
    assert hashlib.md5((tmp_path / "AA_wiki_02.mindrecord").read_bytes()).hexdigest() == md5


def test_dynamic_masks_follow_googles_rules(instances):
    cfg, vocab = instances["cfg"], instances["vocab"]
    cols = masked(instances)
    ids, weights = originals(cols), cols["masked_lm_weights"]
    length = cols["input_mask"].sum(1)
    target = np.minimum(cfg.max_predictions_per_seq, np.maximum(1, np.rint(length * cfg.masked_lm_prob)))
    np.testing.assert_array_equal(weights.sum(1), target)  # exactly num_to_predict per instance
    r, k = np.nonzero(weights)
    position = cols["masked_lm_positions"][r, k]
    steps = np.diff(cols["masked_lm_positions"], axis=1)
    assert (steps[weights[:, 1:] > 0] > 0).all()  # ascending within an instance
    label = ids[r, position]
    assert not np.isin(label, [vocab.cls_id, vocab.sep_id, vocab.pad_id]).any() and (position < length[r]).all()
    np.testing.assert_array_equal(cols["masked_lm_ids"][r, k], label)
    shown = cols["input_ids"][r, position]
    n = len(shown)
    share = {"[MASK]": np.mean(shown == vocab.mask_id), "kept": np.mean(shown == label)}
    # 80 % [MASK]; 10 % kept + 10 % random (a random token equals the label once in ~30k)
    for name, p in (("[MASK]", 0.8), ("kept", 0.1)):
        assert abs(share[name] - p) < 4 * np.sqrt(p * (1 - p) / n), (name, share[name], n)
    unmasked_positions = np.ones_like(ids, bool)
    unmasked_positions[r, position] = False
    np.testing.assert_array_equal(cols["input_ids"][unmasked_positions], ids[unmasked_positions])
    assert n > 20_000  # the sampling error above is for this many draws


def test_whole_word_masking_takes_every_piece_of_a_word(instances):
    vocab = instances["vocab"]
    cols = masked(instances, do_whole_word_mask=True)
    ids, weights = originals(cols), cols["masked_lm_weights"]
    chosen = np.zeros_like(ids, bool)
    r, k = np.nonzero(weights)
    chosen[r, cols["masked_lm_positions"][r, k]] = True
    # Google's rule: a "##" piece belongs to the candidate before it ([CLS]/[SEP] skipped), and a
    # word's pieces are chosen together
    pieces = 0
    for row in range(len(ids)):
        cand = np.flatnonzero((cols["input_mask"][row] > 0) & ~np.isin(ids[row], [vocab.cls_id, vocab.sep_id]))
        joins = vocab.is_subword[ids[row, cand[1:]]]
        pieces += joins.sum()
        assert (chosen[row, cand[1:]][joins] == chosen[row, cand[:-1]][joins]).all(), row
    assert pieces > 1000 and chosen.sum() > 1000
    length = cols["input_mask"].sum(1)
    assert (weights.sum(1) <= np.minimum(20, np.maximum(1, np.rint(length * 0.15)))).all()


def test_masks_are_a_function_of_seed_epoch_and_row_only(instances):
    whole = masked(instances, epoch=3)
    some = np.array([17, 5, 400, 3, 99])  # other rows beside them, another order: the same masks
    part = masked(instances, rows=some, epoch=3)
    for name in ("input_ids", "masked_lm_positions", "masked_lm_ids", "masked_lm_weights"):
        np.testing.assert_array_equal(part[name], whole[name][some], err_msg=name)
    other_epoch, other_seed = masked(instances, epoch=4), masked(instances, epoch=3, seed=8)
    for other in (other_epoch, other_seed):
        same = (other["masked_lm_positions"] == whole["masked_lm_positions"]).all(1).mean()
        assert same < 0.01  # an instance's masks differ between epochs (and seeds)
        np.testing.assert_array_equal(originals(other), originals(whole))


def test_a_dynamic_corpus_is_the_same_bytes_for_any_split_of_the_work(instances, tmp_path):
    cfg = DataConfig(max_seq_length=SEQ, masking="dynamic")
    examples_stage(instances["text"], assets.uncased_vocab(), tmp_path / "one", cfg, workers=1)
    examples_stage(instances["text"], assets.uncased_vocab(), tmp_path / "two", cfg, workers=2)
    for task in range(2):  # a two-task Slurm array
        examples_stage(instances["text"], assets.uncased_vocab(), tmp_path / "array", cfg, shard_index=task,
                       num_shards=2)
    files = {d: {p.name: p.read_bytes() for p in (tmp_path / d).glob("*.mindrecord*")} for d in ("one", "two", "array")}
    assert len(files["one"]) >= 4 and files["one"] == files["two"] == files["array"]
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["params"]["masking"] == "dynamic" and manifest["params"]["id_dtype"] == "uint16"
    assert manifest["params"]["dupe_factor"] == 1  # a dynamic corpus's default: its masks change every epoch
    rows = [r for f in shard_files(tmp_path / "one") for r in read_rows(f, ("tokens", "a_length"))]
    first = instances["rows"]
    assert bytes(rows[0]["tokens"]) == first["tokens"][0] and rows[0]["a_length"][0] == first["a_length"][0, 0]


# ---------------------------------------------------------------- pretraining on a dynamic corpus


def dynamic_args(wiki, out, *extra):
    return ["--config", REPO / "configs" / "pretrain.yaml", f"data={wiki['examples']}", f"vocab={wiki['vocab']}",
            "model.name=L2-H128", "max_seq_length=64", "max_predictions_per_seq=10", "masking=dynamic",
            f"total_steps={STEPS}", "log_interval=1", "save_steps=2", "train_batch_size=8",
            "optim.learning_rate=5e-4", "optim.warmup_steps=2", f"output_dir={out}", f"log_dir={out}/logs", *extra]


@pytest.fixture(scope="module")
def dynamic_baseline(wiki_8k_dynamic, tmp_path_factory):
    out = tmp_path_factory.mktemp("dynamic")
    run = run_module("bert.pretrain", *dynamic_args(wiki_8k_dynamic, out))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "examples (dynamic masks)" in run.stdout
    found = losses(run.stdout)
    assert sorted(found) == list(range(1, STEPS + 1))
    return out, found


def test_dynamic_pretraining_the_same_command_gives_the_same_run(wiki_8k_dynamic, dynamic_baseline, tmp_path):
    run = run_module("bert.pretrain", *dynamic_args(wiki_8k_dynamic, tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    assert_same_run(tmp_path, dynamic_baseline[0], losses(run.stdout), dynamic_baseline[1])


def test_dynamic_pretraining_resumes_exactly_after_kill(wiki_8k_dynamic, dynamic_baseline, tmp_path):
    kill_after_checkpoint(["-m", "bert.pretrain", *dynamic_args(wiki_8k_dynamic, tmp_path)],
                          tmp_path / "checkpoints" / "step_00000004")
    run = run_module("bert.pretrain", *dynamic_args(wiki_8k_dynamic, tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(re.search(r"resumed from .* at step (\d+)", run.stdout)[1]) >= 4
    assert_same_run(tmp_path, dynamic_baseline[0], losses(run.stdout), dynamic_baseline[1])


def test_dynamic_pretraining_two_processes_give_the_losses_of_one(wiki_8k_dynamic, dynamic_baseline, tmp_path):
    log = run_msrun("bert.pretrain", *dynamic_args(wiki_8k_dynamic, tmp_path, "train_batch_size=4"),
                    log_dir=tmp_path / "msrun")
    assert "2 worker(s) × 4 × 1 = 8 per step" in log
    two = losses(log)
    assert sorted(two) == list(range(1, STEPS + 1))
    for step, values in two.items():
        assert np.allclose(values, dynamic_baseline[1][step], atol=1e-5, rtol=0), (step, values)


@pytest.mark.parametrize("case, problem", [
    ("static corpus, masking=dynamic", "masking=dynamic was asked of"),
    ("dynamic corpus, masking=static", "masking=static was asked of"),
    ("dynamic corpus, no vocab", "is a dynamic corpus: pass vocab=PATH"),
    ("dynamic corpus, another vocab", "is not the vocab"),
])
def test_bad_masking_input_is_one_line(wiki_8k, wiki_8k_dynamic, tmp_path, case, problem):
    corpus = wiki_8k_dynamic if case.startswith("dynamic") else wiki_8k
    args = [a for a in dynamic_args(corpus, tmp_path) if not str(a).startswith(("masking=", "vocab="))]
    size = f"model.vocab_size={len(wiki_8k['vocab'].read_text().splitlines())}"
    extra = {"static corpus, masking=dynamic": ["masking=dynamic", f"vocab={wiki_8k['vocab']}"],
             "dynamic corpus, masking=static": ["masking=static", f"vocab={wiki_8k['vocab']}"],
             "dynamic corpus, no vocab": [size],
             "dynamic corpus, another vocab": [f"vocab={assets.uncased_vocab()}"]}[case]
    run = run_module("bert.pretrain", *args, *extra)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_any_masking_rate_in_0_1_is_drawn_exactly(instances):
    cols = masked(instances, masked_lm_prob=0.3, max_predictions_per_seq=40)
    length = cols["input_mask"].sum(1)
    np.testing.assert_array_equal(cols["masked_lm_weights"].sum(1), np.minimum(40, np.maximum(1, np.rint(length * 0.3))))


# ---------------------------------------------------------------- MLM only (next_sentence=false)


def test_mlm_only_instances_are_whole_sentences_of_one_document(instances):
    from bert.data.pretraining import pack_single

    cfg = DataConfig(max_seq_length=SEQ, next_sentence=False)
    tokenizer, vocab = load_vocab(assets.uncased_vocab(), None)
    docs = read_documents(sorted(instances["text"].glob("*.txt"))[0], tokenizer)
    spans = pack_single(docs, list(range(len(docs))), cfg)
    assert (spans.a_len <= SEQ - 2).all() and (spans.b_len == 0).all() and not spans.random_next.any()
    starts = np.array(docs.starts)
    doc_end = {starts[docs.first[d + 1]] for d in range(len(docs))}
    ends = spans.a + spans.a_len
    whole = np.isin(spans.a, starts) & (np.isin(ends, starts) | (spans.a_len == SEQ - 2))
    assert whole.all()  # segments start and end at sentence boundaries (an over-long sentence is cut)
    for a, end in zip(spans.a, ends):  # never across a document boundary
        assert not any(a < e < end for e in doc_end)
    covered = spans.a_len.sum()
    assert covered >= 0.98 * len(docs.tokens)  # every token once per pass, but for cut sentences
    columns = features(docs.tokens, spans, cfg, vocab, np.random.default_rng(0))
    assert (columns["segment_ids"] == 0).all() and (columns["next_sentence_labels"] == 0).all()
    length = columns["input_mask"].sum(1)
    assert (columns["input_ids"][np.arange(len(length)), length - 1] == vocab.sep_id).all()
    assert (originals(columns) == vocab.sep_id).sum(1).tolist() == [1] * len(length)  # [CLS] X [SEP]


@pytest.fixture(scope="module")
def mlm_only(wiki_8k, tmp_path_factory):
    out = tmp_path_factory.mktemp("mlm-only")
    run = run_module("bert.data.examples", "--input", wiki_8k["text"], "--vocab", wiki_8k["vocab"], "--output", out,
                     "max_seq_length=64", "max_predictions_per_seq=10", "masking=dynamic", "next_sentence=false")
    assert run.returncode == 0, run.stderr
    return {"examples": out, "vocab": wiki_8k["vocab"]}


def test_mlm_only_pretrains_without_an_nsp_head_and_its_checkpoint_finetunes(mlm_only, tmp_path):
    from safetensors.numpy import load_file

    from bert.glue.sst2_demo import write_demo

    run = run_module("bert.pretrain", *dynamic_args(mlm_only, tmp_path / "pre", "next_sentence=false"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "next_sentence_loss" not in run.stdout and "masked_lm_loss" in run.stdout
    weights = load_file(str(tmp_path / "pre" / "checkpoints" / f"step_{STEPS:08d}" / "model.safetensors"))
    assert "cls.predictions.bias" in weights and not [k for k in weights if "seq_relationship" in k]
    data = write_demo(tmp_path / "sst2", train=64, dev=32, test=8)
    tuned = run_module("bert.finetune", "--config", REPO / "configs" / "finetune_sst2.yaml",
                       f"init={tmp_path / 'pre' / 'checkpoints'}", f"vocab={mlm_only['vocab']}", f"data_dir={data}",
                       "model.name=L2-H128", "model.vocab_size=null", "epochs=1", "max_length=64",
                       f"output_dir={tmp_path / 'ft'}", f"log_dir={tmp_path / 'logs'}")
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    assert f"initialised encoder from {tmp_path / 'pre' / 'checkpoints'}" in tuned.stdout
    assert json.loads((tmp_path / "ft" / "results.json").read_text())["best_step"] > 0


def test_sentence_pairs_asked_of_an_mlm_only_corpus_is_one_line(mlm_only, tmp_path):
    run = run_module("bert.pretrain", *dynamic_args(mlm_only, tmp_path))
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "next_sentence=true was asked of" in run.stderr and "an MLM-only corpus" in run.stderr
