"""tools/build_vocab.py and tools/inspect_mindrecord.py, run as commands on data from the shipped enwiki sample."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bert import assets
from bert.tokenization import Tokenizer, read_vocab, vocab_is_cased

ROOT = Path(__file__).resolve().parents[1]
GOOGLE_SPECIALS = ["[PAD]", *(f"[unused{i}]" for i in range(99)), "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SENTENCE = "The city was founded in the early century by French settlers, and its river was used for trade."


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "GLOG_v": "3"})


def assert_one_line_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """extracted/ and text/ from the enwiki sample; examples/ from 8 of its documents (dupe_factor=1)."""
    root = tmp_path_factory.mktemp("tools_data")
    for stage, source, target in (("extract", assets.enwiki_sample(), "extracted"),
                                  ("sentences", root / "extracted", "text")):
        result = run("-m", f"bert.data.{stage}", "--input", source, "--output", root / target)
        assert result.returncode == 0, result.stderr
    documents = (root / "text" / "AA_wiki_02.txt").read_text(encoding="utf-8").split("\n\n")
    (root / "small.txt").write_text("\n\n".join(documents[:8]) + "\n\n", encoding="utf-8")
    result = run("-m", "bert.data.examples", "--input", root / "small.txt", "--vocab", assets.uncased_vocab(),
                 "--output", root / "examples", "dupe_factor=1")
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def vocab8k(data) -> tuple[Path, subprocess.CompletedProcess]:
    path = data / "vocab8k" / "vocab.txt"
    return path, run("tools/build_vocab.py", "--input", data / "text", "--output", path, "--vocab-size", 8000)


def test_vocab_has_googles_special_ids(vocab8k):
    path, result = vocab8k
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote ") and str(path) in result.stdout and result.stdout.count("\n") == 1
    tokens = read_vocab(path)
    assert tokens[:104] == GOOGLE_SPECIALS
    assert 5000 <= len(tokens) <= 8000 and len(set(tokens)) == len(tokens)
    assert not vocab_is_cased(tokens)  # lower-cased by default
    assert not any(c in "".join(tokens) for c in "éüñ")  # accents stripped
    assert not list(path.parent.glob(".*"))  # no temporary file left


def test_vocab_round_trips_through_tokenizer(vocab8k):
    tokenizer = Tokenizer(vocab8k[0])
    assert tokenizer.lowercase
    ids = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    assert ids == (0, 100, 101, 102, 103)
    pieces = tokenizer.tokenize(SENTENCE)
    assert "[UNK]" not in pieces and pieces[:2] == ["the", "city"]
    assert tokenizer.convert_ids_to_tokens(tokenizer.ids(SENTENCE)) == pieces


def test_cased_vocab_keeps_case(data, tmp_path):
    path = tmp_path / "vocab.txt"
    result = run("tools/build_vocab.py", "--input", data / "text" / "AA_wiki_02.txt", "--output", path,
                 "--vocab-size", 3000, "--cased")
    assert result.returncode == 0, result.stderr
    tokens = read_vocab(path)
    assert tokens[:104] == GOOGLE_SPECIALS and vocab_is_cased(tokens)
    tokenizer = Tokenizer(path)
    assert not tokenizer.lowercase and tokenizer.tokenize(SENTENCE)[0] == "The"


@pytest.mark.parametrize("case", ["empty folder", "missing", "vocab size below the alphabet"])
def test_build_vocab_bad_input(data, tmp_path, case):
    (tmp_path / "empty").mkdir()
    source, size = {"empty folder": (tmp_path / "empty", 8000), "missing": (tmp_path / "nope", 8000),
                    "vocab size below the alphabet": (data / "small.txt", 120)}[case]
    result = run("tools/build_vocab.py", "--input", source, "--output", tmp_path / "vocab.txt", "--vocab-size", size)
    assert_one_line_error(result)
    assert result.stdout == "" and not (tmp_path / "vocab.txt").exists()


def summary_table(stdout: str) -> dict[str, dict[str, float]]:
    """The summary lines under the `file rows …` header → {file: {column: value}}."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("file "))
    header = lines[start].split()[1:]
    table = {}
    for line in lines[start + 1:]:
        name, *values = line.split()
        if name == "manifest.json":
            break
        table[name] = dict(zip(header, map(float, values)))
    return table


def test_inspect_prints_instances_and_sane_summary(data):
    result = run("tools/inspect_mindrecord.py", data / "examples", "--vocab", assets.uncased_vocab(), "-n", 2)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("--- small.mindrecord row 0")
    assert lines[1].startswith("[CLS] ") and lines[1].endswith(" [SEP]") and lines[1].count("[SEP]") == 2
    assert lines[2].startswith("segments: 0×") and " 1×" in lines[2]
    assert lines[3].startswith("masked: ") and "→" in lines[3] and "([MASK])" in result.stdout
    assert lines[4] in ("next_sentence: random", "next_sentence: actual")
    assert sum(line.startswith("[CLS] ") for line in lines) == 2
    table = summary_table(result.stdout)
    assert list(table) == ["small.mindrecord", "total"]
    total = table["total"]
    instances = json.loads((data / "examples" / "manifest.json").read_text())["totals"]["instances"]
    assert 150 < instances < 300 and total["rows"] == instances  # what the manifest says, printed on the last line
    assert lines[-1].startswith("manifest.json totals:") and f"instances {instances}" in lines[-1]
    assert 64 < total["mean_len"] <= 128 and 0.5 < total["full"] <= 1
    assert 0.10 <= total["masked_frac"] <= 0.20 and 10 <= total["masked/row"] <= 20
    assert 0.7 <= total["[MASK]"] <= 0.9 and 0.03 <= total["random"] <= 0.2 and 0.03 <= total["original"] <= 0.2
    assert 0.3 <= total["nsp_random"] <= 0.7 and total["MiB"] > 0

    shard = run("tools/inspect_mindrecord.py", data / "examples" / "small.mindrecord", "--vocab",
                assets.uncased_vocab(), "--summary-only")
    assert shard.returncode == 0, shard.stderr
    assert "[CLS]" not in shard.stdout and "manifest.json" not in shard.stdout
    assert summary_table(shard.stdout) == table


@pytest.mark.parametrize("case", ["missing", "empty folder", "text file", "not a MindRecord", "vocab mismatch"])
def test_inspect_bad_input(data, vocab8k, tmp_path, case):
    (tmp_path / "empty").mkdir()
    fake = tmp_path / "fake.mindrecord"
    shutil.copy(data / "small.txt", fake)
    shutil.copy(data / "examples" / "small.mindrecord.db", tmp_path / "fake.mindrecord.db")
    shard, vocab = {"missing": (tmp_path / "nope.mindrecord", assets.uncased_vocab()),
                    "empty folder": (tmp_path / "empty", assets.uncased_vocab()),
                    "text file": (data / "small.txt", assets.uncased_vocab()),
                    "not a MindRecord": (fake, assets.uncased_vocab()),
                    "vocab mismatch": (data / "examples", vocab8k[0])}[case]
    assert_one_line_error(run("tools/inspect_mindrecord.py", shard, "--vocab", vocab))
