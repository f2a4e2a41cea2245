"""GLUE as distributed (the nine task folders + the AX diagnostic): each file's exact layout, its
label vocabulary and GLUE's metrics per task — the table every GLUE reader, writer and metric
here goes by — and, below it, the reader (`read_examples`), the batched tokenizer (`encode`) and
the submission-file writer (`submission`) built on it.

Layouts follow the files of GLUE's own download (gluebenchmark.com / dl.fbaipublicfiles.com,
as google-research/bert's run_classifier.py and HF's glue processors read them): UTF-8 (MRPC's
train/dev start with a byte-order mark), tab-separated, no quoting (MRPC and QQP lines hold
literal quotes), one header line except CoLA's train/dev.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bert.config import ConfigError
from bert.data import DataError

if TYPE_CHECKING:
    from bert.tokenization import Tokenizer


DEMO_MARKER = "DEMO.txt"  # in a task folder: its files were generated (bert.glue.demo), not GLUE's


def is_demo(data_dir: Path) -> bool:
    """True for a folder of generated examples (it holds DEMO_MARKER)."""
    return (Path(data_dir) / DEMO_MARKER).is_file()


@dataclasses.dataclass(frozen=True)
class Layout:
    """One file of a task as GLUE distributes it; columns are 0-based field positions."""

    file: str  # file name inside the task folder, e.g. "dev_matched.tsv"
    header: tuple[str, ...] | None  # the exact header line's fields; None: no header line (CoLA train/dev)
    width: int  # fields per line
    text_a: int  # first sentence
    text_b: int | None = None  # second sentence of a pair task
    label: int | None = None  # label string or score (train/dev)
    index: int | None = None  # the row id GLUE's submission files repeat (test)


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """A GLUE task: its files, labels and metrics."""

    name: str  # GLUE's name, also the folder name: "MNLI"
    labels: tuple[str, ...] | None  # label strings in class-id order; None: regression (STS-B scores 0–5)
    train: Layout
    dev: dict[str, Layout]  # dev set name → layout; MNLI has dev_matched and dev_mismatched
    test: dict[str, Layout]  # submission file stem (SST-2 → SST-2.tsv; MNLI-m, MNLI-mm) → layout
    metrics: tuple[str, ...]  # GLUE's: mcc | f1, accuracy | pearson, spearman | accuracy
    skip_malformed: bool = False  # QQP: lines of the wrong width or with an empty sentence are skipped and counted

    @property
    def num_labels(self) -> int:
        """Model outputs: classes, or 1 for a regression task."""
        return len(self.labels) if self.labels else 1

    @property
    def is_pair(self) -> bool:
        return self.train.text_b is not None


def _single(header: tuple[str, ...] | None, file: str, width: int, text: int, label: int | None = None,
            index: int | None = None) -> Layout:
    return Layout(file, header, width, text, None, label, index)


NLI3 = ("contradiction", "entailment", "neutral")  # google-research/bert MnliProcessor's order
NLI2 = ("entailment", "not_entailment")
BINARY = ("0", "1")

_MNLI_COMMON = ("index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
                "sentence1_parse", "sentence2_parse", "sentence1", "sentence2")
_MNLI_TRAIN = _MNLI_COMMON + ("label1", "gold_label")
_MNLI_DEV = _MNLI_COMMON + ("label1", "label2", "label3", "label4", "label5", "gold_label")
_STSB = ("index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2")
_MRPC = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")
_QQP = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")


def _nli_like(name: str, labels: tuple[str, ...], a: str, b: str) -> GlueTask:
    """QNLI, RTE, WNLI: `index <a> <b> label`, test `index <a> <b>`."""
    pair = ("index", a, b, "label")
    return GlueTask(name, labels, Layout("train.tsv", pair, 4, 1, 2, 3), {"dev": Layout("dev.tsv", pair, 4, 1, 2, 3)},
                    {name: Layout("test.tsv", pair[:3], 3, 1, 2, index=0)}, ("accuracy",))


TASKS: dict[str, GlueTask] = {t.name: t for t in (
    GlueTask("CoLA", BINARY, _single(None, "train.tsv", 4, 3, 1), {"dev": _single(None, "dev.tsv", 4, 3, 1)},
             {"CoLA": _single(("index", "sentence"), "test.tsv", 2, 1, index=0)}, ("mcc",)),
    GlueTask("SST-2", BINARY, _single(("sentence", "label"), "train.tsv", 2, 0, 1),
             {"dev": _single(("sentence", "label"), "dev.tsv", 2, 0, 1)},
             {"SST-2": _single(("index", "sentence"), "test.tsv", 2, 1, index=0)}, ("accuracy",)),
    GlueTask("MRPC", BINARY, Layout("train.tsv", _MRPC, 5, 3, 4, 0), {"dev": Layout("dev.tsv", _MRPC, 5, 3, 4, 0)},
             {"MRPC": Layout("test.tsv", ("index",) + _MRPC[1:], 5, 3, 4, index=0)}, ("f1", "accuracy")),
    GlueTask("STS-B", None, Layout("train.tsv", _STSB + ("score",), 10, 7, 8, 9),
             {"dev": Layout("dev.tsv", _STSB + ("score",), 10, 7, 8, 9)},
             {"STS-B": Layout("test.tsv", _STSB, 9, 7, 8, index=0)}, ("pearson", "spearman")),
    GlueTask("QQP", BINARY, Layout("train.tsv", _QQP, 6, 3, 4, 5), {"dev": Layout("dev.tsv", _QQP, 6, 3, 4, 5)},
             {"QQP": Layout("test.tsv", ("id", "question1", "question2"), 3, 1, 2, index=0)}, ("f1", "accuracy"),
             skip_malformed=True),
    GlueTask("MNLI", NLI3, Layout("train.tsv", _MNLI_TRAIN, 12, 8, 9, 11),
             {"dev_matched": Layout("dev_matched.tsv", _MNLI_DEV, 16, 8, 9, 15),
              "dev_mismatched": Layout("dev_mismatched.tsv", _MNLI_DEV, 16, 8, 9, 15)},
             {"MNLI-m": Layout("test_matched.tsv", _MNLI_COMMON, 10, 8, 9, index=0),
              "MNLI-mm": Layout("test_mismatched.tsv", _MNLI_COMMON, 10, 8, 9, index=0)}, ("accuracy",)),
    _nli_like("QNLI", NLI2, "question", "sentence"),
    _nli_like("RTE", NLI2, "sentence1", "sentence2"),
    _nli_like("WNLI", BINARY, "sentence1", "sentence2"),
)}

# AX, GLUE's diagnostic set: MNLI pairs predicted by the MNLI model (→ AX.tsv with MNLI's labels).
# GLUE's download puts it in glue_data/diagnostic/, next to the MNLI folder.
DIAGNOSTIC_DIR = "diagnostic"
DIAGNOSTIC = Layout("diagnostic.tsv", ("index", "sentence1", "sentence2"), 3, 1, 2, index=0)
DIAGNOSTIC_STEM = "AX"


def load_task(name: str) -> GlueTask:
    """The task called `name` (GLUE's spelling, any case: "MNLI", "sst-2")."""
    task = {t.lower(): TASKS[t] for t in TASKS}.get(name.lower())
    if task is None:
        raise ConfigError(f"task: unknown GLUE task {name!r}; known: {', '.join(TASKS)}")
    return task


@dataclasses.dataclass
class Examples:
    """The rows of one GLUE file."""

    text_a: list[str]
    text_b: list[str] | None  # None for single-sentence tasks
    labels: np.ndarray | None  # int32 class ids into task.labels, float32 scores (STS-B); None for test files
    index: np.ndarray | None  # int64 row ids of test files; None otherwise
    skipped: int = 0  # malformed lines skipped (QQP only)

    def __len__(self) -> int:
        return len(self.text_a)


def read_examples(task: GlueTask, layout: Layout, path: Path) -> Examples:
    """Every row of a GLUE file in `layout`; a malformed line is a one-line DataError `path:line: problem`.

    Lines end at "\n" (a trailing "\r" is dropped), fields at every tab — there is no quoting. With
    `task.skip_malformed` (QQP) lines of the wrong width or with an empty sentence are skipped and
    counted instead; a bad label or index still raises.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # -sig: MRPC's train/dev start with a byte-order mark
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    first = 0
    if layout.header is not None:
        expected, got = "\t".join(layout.header), lines[0].removesuffix("\r") if lines else ""
        if got != expected:
            raise DataError(f"{path}:1: expected the header {expected!r}, got {got!r}")
        first = 1
    width, ia, ib, il, ix = layout.width, layout.text_a, layout.text_b, layout.label, layout.index
    class_ids = {label: i for i, label in enumerate(task.labels)} if task.labels else None
    text_a: list[str] = []
    text_b: list[str] = []
    values: list = []
    indices: list[int] = []
    skipped = 0
    for number, line in enumerate(lines[first:], first + 1):
        if line.endswith("\r"):
            line = line[:-1]
        fields = line.split("\t")
        if len(fields) != width or not fields[ia].strip() or (ib is not None and not fields[ib].strip()):
            if task.skip_malformed:
                skipped += 1
                continue
            if len(fields) != width:
                raise DataError(f"{path}:{number}: expected {width} tab-separated fields, got {len(fields)}")
            raise DataError(f"{path}:{number}: empty sentence")
        if il is not None:
            value = fields[il]
            if class_ids is not None:
                if value not in class_ids:
                    raise DataError(f"{path}:{number}: label {value!r} is not one of {', '.join(task.labels)}")
                values.append(class_ids[value])
            else:
                try:
                    score = float(value)
                except ValueError:
                    score = None
                if score is None or not 0.0 <= score <= 5.0:
                    raise DataError(f"{path}:{number}: score {value!r} is not a number in [0, 5]")
                values.append(score)
        if ix is not None:
            value = fields[ix]
            if not (value.isascii() and value.isdigit()):
                raise DataError(f"{path}:{number}: index {value!r} is not a non-negative integer")
            indices.append(int(value))
        text_a.append(fields[ia])
        if ib is not None:
            text_b.append(fields[ib])
    if not text_a:
        raise DataError(f"{path} has no examples" + (f" ({skipped} malformed lines skipped)" if skipped else ""))
    labels = None
    if il is not None:
        labels = np.array(values, np.int32 if class_ids is not None else np.float32)
    return Examples(text_a, text_b if ib is not None else None, labels,
                    np.array(indices, np.int64) if ix is not None else None, skipped)


def _kept_lengths(len_a: np.ndarray, len_b: np.ndarray, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """What `truncate_pair` (pop from the longer side, from b on a tie) leaves of each side, for many pairs."""
    over = len_a + len_b > max_tokens
    short = np.minimum(len_a, len_b)
    # The longer side alone shrinks to max_tokens - short, unless that would make it the shorter:
    # then both end at half, a keeping the odd token.
    alone = 2 * short <= max_tokens
    a_short = len_a < len_b
    kept_a = np.where(alone, np.where(a_short, len_a, max_tokens - short), (max_tokens + 1) // 2)
    kept_b = np.where(alone, np.where(a_short, max_tokens - short, len_b), max_tokens // 2)
    return np.where(over, kept_a, len_a), np.where(over, kept_b, len_b)


def _flat(ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged id lists → (concatenated ids, each list's length)."""
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    return np.fromiter((i for row in ids for i in row), np.int32, int(lengths.sum())), lengths


def _place(out: np.ndarray, flat: np.ndarray, lengths: np.ndarray, kept: np.ndarray, column: np.ndarray) -> None:
    """Write the first kept[r] of row r's ids into out[r] from column[r] on."""
    rows = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    keep = position < kept[rows]
    out[rows[keep], column[rows[keep]] + position[keep]] = flat[keep]


def encode(tokenizer: Tokenizer, examples: Examples, max_length: int) -> dict[str, np.ndarray]:
    """Model inputs of every row: exactly `tokenizer.encode(a, b, max_length)`, tokenized in one batch.

    `input_ids`, `token_type_ids`, `attention_mask` are int32 [N, max_length]; `labels` (int32 or
    float32) and `index` (int64) come along when the examples have them.
    """
    pair = examples.text_b is not None
    if max_length < 2 + pair:
        raise ValueError(f"max_length {max_length} leaves no room for [CLS]/[SEP]")
    n = len(examples)
    flat_a, len_a = _flat(tokenizer.ids_batch(examples.text_a))
    if pair:
        flat_b, len_b = _flat(tokenizer.ids_batch(examples.text_b))
        kept_a, kept_b = _kept_lengths(len_a, len_b, max_length - 3)
    else:
        kept_a = np.minimum(len_a, max_length - 2)
    ids = np.full((n, max_length), tokenizer.pad_id, np.int32)
    types = np.zeros((n, max_length), np.int32)
    rows = np.arange(n)
    ids[:, 0] = tokenizer.cls_id
    _place(ids, flat_a, len_a, kept_a, np.ones(n, np.int64))
    ids[rows, 1 + kept_a] = tokenizer.sep_id
    length = 2 + kept_a
    if pair:
        _place(ids, flat_b, len_b, kept_b, length)
        ids[rows, length + kept_b] = tokenizer.sep_id
        types[np.arange(max_length) >= length[:, None]] = 1
        length = length + kept_b + 1
    mask = np.arange(max_length) < length[:, None]
    types[~mask] = 0
    columns = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask.astype(np.int32)}
    if examples.labels is not None:
        columns["labels"] = examples.labels.astype(np.float32 if examples.labels.dtype.kind == "f" else np.int32)
    if examples.index is not None:
        columns["index"] = examples.index.astype(np.int64)
    return columns


def submission(task: GlueTask, index: np.ndarray, predictions: np.ndarray) -> str:
    """GLUE's submission file text: `index<TAB>prediction`, then one row per example.

    Predictions are class ids (written as task.labels strings) or, for STS-B, scores (clipped to
    [0, 5], 3 decimals). AX is written with the MNLI task.
    """
    index, predictions = np.asarray(index), np.asarray(predictions)
    if index.shape != predictions.shape or index.ndim != 1:
        raise ValueError(f"index {index.shape} and predictions {predictions.shape} must be equal-length vectors")
    if task.labels is None:
        rows = [f"{i}\t{p:.3f}" for i, p in zip(index.tolist(), np.clip(predictions, 0.0, 5.0).tolist())]
    else:
        if predictions.dtype.kind not in "iu" or (predictions.size and not
                                                  0 <= predictions.min() <= predictions.max() < len(task.labels)):
            raise ValueError(f"{task.name} predictions must be class ids in [0, {len(task.labels)})")
        rows = [f"{i}\t{task.labels[p]}" for i, p in zip(index.tolist(), predictions.tolist())]
    return "\n".join(["index\tprediction", *rows]) + "\n"
