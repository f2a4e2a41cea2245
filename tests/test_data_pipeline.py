"""The data chain on the real enwiki sample (gensim's wheel) with Google's uncased vocab:
counts and the statistics of Google's algorithm, determinism, restart, bad input."""
import bz2
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bert import assets
from bert.data.config import DataConfig
from bert.data.examples import examples_stage
from bert.data.mindrecord import COLUMNS, read_rows, shard_files
from bert.data.prepare import prepare
from bert.tokenization import Tokenizer

VOCAB = assets.uncased_vocab()


def run_cli(module, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def all_rows(directory):
    rows = [r for f in shard_files(directory) for r in read_rows(f)]
    return {k: np.stack([r[k] for r in rows]) for k in COLUMNS}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    out = tmp_path_factory.mktemp("chain")
    cfg = DataConfig(dupe_factor=2, shard_bytes=400_000)
    prepare(assets.enwiki_sample(), VOCAB, out, cfg, workers=2)
    return out, cfg


def test_chain_counts_on_the_real_dump(chain):
    out, _ = chain
    text = json.loads((out / "text" / "manifest.json").read_text())["totals"]
    examples = json.loads((out / "examples" / "manifest.json").read_text())
    assert text["documents"] + text["dropped_documents"] == 106  # every article of the dump
    assert text["documents"] >= 100 and text["sentences"] > 15_000
    assert len(examples["shards"]) == len(list((out / "text").glob("*.txt"))) >= 6
    assert examples["totals"]["documents"] == text["documents"]
    assert 10_000 < examples["totals"]["instances"] < 13_000
    assert examples["params"]["vocab_size"] == 30522 and examples["params"]["do_lower_case"] is True
    first = (out / "text" / "AA_wiki_00.txt").read_text().split("\n")
    assert first[0].startswith("Anarchism is a political philosophy")
    assert "History." not in first  # section headings are dropped


def test_shard_tokenization_equals_tokenizers_line_by_line(chain):
    out, _ = chain
    lines = [line.strip() for line in (out / "text" / "AA_wiki_00.txt").read_text().split("\n")]
    lines = [line for line in lines if line]
    tok = Tokenizer(VOCAB)
    ids, counts = tok.ids_flat(lines)
    expected = tok.ids_batch(lines)
    assert counts.tolist() == [len(e) for e in expected] and ids.tolist() == [i for e in expected for i in e]


def test_instances_have_googles_layout(chain):
    out, cfg = chain
    rows = all_rows(out / "examples")
    tok = Tokenizer(VOCAB)
    ids, mask, seg = rows["input_ids"], rows["input_mask"], rows["segment_ids"]
    assert ids.shape[1] == cfg.max_seq_length and rows["masked_lm_ids"].shape[1] == cfg.max_predictions_per_seq
    lengths = mask.sum(1)
    assert (ids[:, 0] == tok.cls_id).all()
    assert (ids[np.arange(len(ids)), lengths - 1] == tok.sep_id).all()
    assert (ids[mask == 0] == tok.pad_id).all() and (seg[mask == 0] == 0).all()
    assert (mask[np.arange(len(ids)), lengths - 1] == 1).all() and (np.diff(mask, axis=1) <= 0).all()
    for row_ids, row_seg, n in zip(ids[:2000], seg[:2000], lengths[:2000]):
        first_sep = int(np.argmax(row_ids == tok.sep_id))
        assert (row_seg[: first_sep + 1] == 0).all() and (row_seg[first_sep + 1: n] == 1).all()
        assert (row_seg[n:] == 0).all() and n - first_sep - 1 >= 2  # segment B has a token and [SEP]
    assert set(np.unique(rows["next_sentence_labels"])) == {0, 1}


def test_masking_statistics_follow_google(chain):
    out, cfg = chain
    rows = all_rows(out / "examples")
    tok = Tokenizer(VOCAB)
    weights, positions, labels = rows["masked_lm_weights"], rows["masked_lm_positions"], rows["masked_lm_ids"]
    lengths = rows["input_mask"].sum(1)
    n_masked = weights.sum(1)
    expected = np.minimum(cfg.max_predictions_per_seq, np.maximum(1, np.round(lengths * cfg.masked_lm_prob)))
    assert (n_masked == expected).mean() > 0.99  # Google's num_to_predict, nearly always reached
    assert 0.14 < n_masked.sum() / lengths.sum() < 0.16
    shown = np.take_along_axis(rows["input_ids"], positions, 1)[weights > 0]
    original = labels[weights > 0]
    as_mask = (shown == tok.mask_id).mean()
    kept = (shown == original).mean()
    print(f"[MASK] {as_mask:.3f} kept {kept:.3f} random {1 - as_mask - kept:.3f}")
    assert abs(as_mask - 0.8) < 0.01 and abs(kept - 0.1) < 0.01 and abs(1 - as_mask - kept - 0.1) < 0.01
    valid = positions[weights > 0]
    assert valid.min() >= 1 and not np.isin(original, [tok.cls_id, tok.sep_id]).any()
    for row in range(200):  # positions strictly increasing within a row
        p = positions[row][weights[row] > 0]
        assert (np.diff(p) > 0).all()
    random_share = rows["next_sentence_labels"].mean()
    print(f"NSP random share {random_share:.3f}")
    assert 0.48 < random_share < 0.58  # 50 %, plus one-segment chunks that must take a random next


def test_short_seq_prob_shortens_instances(tmp_path, chain):
    out, _ = chain
    shard = out / "text" / "AA_wiki_01.txt"
    means = {}
    for prob in (0.0, 0.5):
        dest = tmp_path / f"p{prob}"
        examples_stage(shard, VOCAB, dest, DataConfig(dupe_factor=1, short_seq_prob=prob))
        rows = all_rows(dest)
        means[prob] = rows["input_mask"].sum(1)
    # Google draws one target per document: with 0.5, half the documents aim at uniform [2, 125],
    # so about a quarter of the instances end up under 64 tokens; without, almost none.
    assert (means[0.0] > 100).mean() > 0.9 and (means[0.0] < 64).mean() < 0.05
    assert 0.15 < (means[0.5] < 64).mean() < 0.35


def test_whole_word_masking_masks_every_piece_of_a_word(tmp_path, chain):
    out, _ = chain
    tok = Tokenizer(VOCAB)
    examples_stage(out / "text" / "AA_wiki_01.txt", VOCAB, tmp_path, DataConfig(dupe_factor=1, do_whole_word_mask=True))
    rows = all_rows(tmp_path)
    is_piece = np.array([t.startswith("##") for t in tok.vocab])
    pieces_checked = 0
    for labels, positions, weights, ids in zip(rows["masked_lm_ids"], rows["masked_lm_positions"],
                                               rows["masked_lm_weights"], rows["input_ids"]):
        masked = set(positions[weights > 0].tolist())
        originals = dict(zip(positions[weights > 0].tolist(), labels[weights > 0].tolist()))
        for p, label in originals.items():
            if is_piece[label] and ids[p - 1] not in (tok.cls_id, tok.sep_id):
                assert p - 1 in masked  # the piece before belongs to the same word
                pieces_checked += 1
            nxt = p + 1
            if nxt not in masked and nxt < len(ids):
                assert not (is_piece[ids[nxt]] and ids[nxt] != tok.mask_id)  # no unmasked tail piece
    assert pieces_checked > 500


def test_phase_two_settings_by_override(tmp_path, chain):
    out, _ = chain
    result = run_cli("bert.data.examples", "--input", out / "text" / "AA_wiki_02.txt", "--vocab", VOCAB,
                     "--output", tmp_path, "--config", "configs/data.yaml",
                     "max_seq_length=512", "max_predictions_per_seq=80", "dupe_factor=1")
    assert result.returncode == 0, result.stderr
    rows = all_rows(tmp_path)
    assert rows["input_ids"].shape[1] == 512 and rows["masked_lm_positions"].shape[1] == 80
    assert rows["input_mask"].sum(1).max() == 512


def md5s(directory):
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(directory).glob("*.mindrecord*"))}


def test_same_bytes_whatever_the_number_of_workers_and_tasks(tmp_path, chain):
    out, _ = chain
    cfg = DataConfig(dupe_factor=1)
    examples_stage(out / "text", VOCAB, tmp_path / "one", cfg, workers=1)
    examples_stage(out / "text", VOCAB, tmp_path / "two", cfg, workers=2)
    for task in range(3):  # a three-task Slurm array
        examples_stage(out / "text", VOCAB, tmp_path / "array", cfg, shard_index=task, num_shards=3)
    assert md5s(tmp_path / "one") == md5s(tmp_path / "two") == md5s(tmp_path / "array")
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("one", "two", "array")]
    assert manifests[0] == manifests[1] == manifests[2]


def test_restart_after_kill_skips_complete_shards_and_redoes_partial_ones(tmp_path, chain):
    out, _ = chain
    dest = tmp_path / "ex"
    args = ["--input", out / "text", "--vocab", VOCAB, "--output", dest, "--workers", "1", "dupe_factor=1"]
    proc = subprocess.Popen([sys.executable, "-m", "bert.data.examples", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not list(dest.glob("*.mindrecord.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in dest.glob("*.mindrecord")}
    assert done and not (dest / "manifest.json").exists()
    assert len(done) < len(list((out / "text").glob("*.txt")))
    result = run_cli("bert.data.examples", *args)
    assert result.returncode == 0, result.stderr
    for name, mtime in done.items():
        if (dest / (name + ".json")).exists() and name in done:
            assert (dest / name).stat().st_mtime_ns == mtime  # not redone
    examples_stage(out / "text", VOCAB, tmp_path / "clean", DataConfig(dupe_factor=1))
    assert md5s(dest) == md5s(tmp_path / "clean")
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]  # no temporary leftovers


@pytest.mark.parametrize("make, problem", [
    (lambda d: d / "missing.xml.bz2", "does not exist"),
    (lambda d: (d / "cut.xml.bz2").write_bytes(assets.enwiki_sample().read_bytes()[:600_000]) and d / "cut.xml.bz2",
     "wikiextractor failed"),
    (lambda d: (d / "plain.xml.bz2").write_bytes(b"<html>not bz2</html>") and d / "plain.xml.bz2",
     "not a MediaWiki XML export, plain or bz2"),
    (lambda d: subprocess.run(["bash", "-c", f"echo hello | bzip2 > {d}/hello.xml.bz2"]) and d / "hello.xml.bz2",
     "not a MediaWiki XML export"),
])
def test_bad_dumps_fail_with_one_line_and_leave_nothing_complete(tmp_path, make, problem):
    dump = make(tmp_path)
    result = run_cli("bert.data.prepare", "--input", dump, "--vocab", VOCAB, "--output", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and problem in result.stderr, result.stderr
    assert not (tmp_path / "out" / "extracted").exists()
    assert not list((tmp_path / "out").rglob("manifest.json"))


def test_a_decompressed_xml_dump_is_extracted_like_the_bz2(tmp_path):
    xml = tmp_path / "enwiki.xml"
    xml.write_bytes(bz2.decompress(assets.enwiki_sample().read_bytes()))
    for name, dump in (("plain", xml), ("bz2", assets.enwiki_sample())):
        result = run_cli("bert.data.prepare", "--input", dump, "--vocab", VOCAB, "--output", tmp_path / name,
                         "--stages", "extract,sentences")
        assert result.returncode == 0, result.stderr
    shards = {name: {p.name: p.read_text() for p in (tmp_path / name / "text").glob("*.txt")} for name in ("plain", "bz2")}
    assert shards["plain"] and shards["plain"] == shards["bz2"]
    text = "".join(shards["plain"].values())
    assert "Anarchism is a political philosophy" in text and "[[" not in text and "&quot;" not in text


def test_bad_text_vocab_and_parameters_fail_with_one_line(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the"]) + "\n")
    text = tmp_path / "t.txt"
    text.write_text("The cat sat.\nIt sat.\n\nA dog ran.\n")
    cases = [
        (["--input", tmp_path / "empty.txt", "--vocab", VOCAB], "holds no sentences"),
        (["--input", text, "--vocab", vocab], "lacks the special tokens [MASK]"),
        (["--input", text, "--vocab", VOCAB, "max_predictions_per_seq=200"], "max_predictions_per_seq must be in"),
        (["--input", text, "--vocab", VOCAB, "dupe_factor=zero"], "dupe_factor must be an integer"),
        (["--input", text, "--vocab", VOCAB, "max_seq_length=600"], "max_seq_length 600 exceeds max_position_embeddings 512"),
        (["--input", tmp_path / "nothing", "--vocab", VOCAB], "does not exist"),
    ]
    for args, problem in cases:
        out = tmp_path / "out"
        result = run_cli("bert.data.prepare", *args, "--output", out)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and problem in result.stderr, result.stderr
        assert not list(out.rglob("*.mindrecord")) and not list(out.rglob("manifest.json"))
