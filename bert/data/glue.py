"""GLUE as distributed (the nine task folders + the AX diagnostic): each file's exact layout, its
label vocabulary and GLUE's metrics per task — the table every GLUE reader, writer and metric
here goes by.

Layouts follow the files of GLUE's own download (gluebenchmark.com / dl.fbaipublicfiles.com,
as google-research/bert's run_classifier.py and HF's glue processors read them): tab-separated,
no quoting (MRPC and QQP lines hold literal quotes), one header line except CoLA's train/dev.
"""
from __future__ import annotations

import dataclasses


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
    skip_malformed: bool = False  # QQP: lines of the wrong width are skipped and counted, not an error

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
