"""bert.finetune on every GLUE task's generated set (tools/download_glue.py --demo layouts): an
L2-H128 from scratch learns each one clearly above chance, the dev metrics are GLUE's, and the
submission files have GLUE's names, headers, row counts and label vocabularies; bert.distill
works for regression (STS-B); classification distillation: tests/test_distill.py."""
import json

import numpy as np
import pytest

from bert.glue import tasks as glue
from conftest import glue_args, run_module

pytestmark = pytest.mark.slow  # trains models or runs whole stages (make test only)

# Chance and the bar each task must clear (measured, L2-H128 from scratch, 3 epochs: see the printed values)
CHANCE = {"CoLA": ("mcc", 0.0), "SST-2": ("accuracy", 0.5), "MRPC": ("f1", 0.5), "STS-B": ("pearson", 0.0),
          "QQP": ("accuracy", 0.5), "MNLI": ("accuracy", 1 / 3), "QNLI": ("accuracy", 0.5),
          "RTE": ("accuracy", 0.5), "WNLI": ("accuracy", 0.5)}
MARGIN = 0.25  # above chance, on the metric's own 0–1 scale


@pytest.mark.parametrize("name", list(glue.TASKS))
def test_each_task_is_learned_clearly_above_chance_with_glue_metrics(glue_runs, name):
    results = glue_runs[name]["results"]
    task = glue.TASKS[name]
    metric, chance = CHANCE[name]
    best = results["best_dev"][next(iter(task.dev))]
    print(f"{name}: best dev {', '.join(f'{k} {v:.3f}' for k, v in best.items())}")
    assert results["task"] == name and results["dataset"] == f"generated demo set (not {name})"
    assert set(best) == {*task.metrics, "score", "loss"}
    assert best["score"] == pytest.approx(np.mean([best[m] for m in task.metrics]))
    assert best[metric] >= chance + MARGIN
    if name == "MNLI":  # both dev sets evaluated every time
        assert set(results["best_dev"]) == {"dev_matched", "dev_mismatched"}
        assert results["best_dev"]["dev_mismatched"]["accuracy"] >= chance + MARGIN


@pytest.mark.parametrize("name", list(glue.TASKS))
def test_submission_files_have_glue_names_headers_rows_and_labels(glue_runs, name):
    out, data = glue_runs[name]["out"], glue_runs[name]["data"]
    task = glue.TASKS[name]
    expected = {stem: data / layout.file for stem, layout in task.test.items()}
    if name == "MNLI":
        expected["AX"] = data.parent / glue.DIAGNOSTIC_DIR / glue.DIAGNOSTIC.file
    assert sorted(glue_runs[name]["results"]["predictions"]) == sorted(f"{stem}.tsv" for stem in expected)
    for stem, source in expected.items():
        lines = (out / f"{stem}.tsv").read_text().splitlines()
        rows = source.read_text().splitlines()[1:]
        assert lines[0] == "index\tprediction" and len(lines) == len(rows) + 1, stem
        assert [line.split("\t")[0] for line in lines[1:]] == [r.split("\t")[0] for r in rows]
        values = [line.split("\t")[1] for line in lines[1:]]
        if task.labels is None:
            assert all(0.0 <= float(v) <= 5.0 for v in values)
        else:
            assert set(values) <= set(task.labels), stem


def test_best_model_dir_names_its_task_and_labels(glue_runs):
    for name in ("MNLI", "STS-B"):
        info = json.loads((glue_runs[name]["out"] / "best" / "task.json").read_text())
        assert info == {"task": name, "labels": list(glue.TASKS[name].labels) if glue.TASKS[name].labels else None}


def test_distillation_works_for_regression(glue_runs, tmp_path):
    """STS-B: the soft target is the teacher's score (classification: tests/test_distill.py)."""
    run = glue_runs["STS-B"]
    out = tmp_path / "distill"
    proc = run_module("bert.distill", *glue_args("STS-B", run["data"], out, "configs/distill_sst2.yaml",
                                                  f"teacher={run['out'] / 'best'}", "epochs=2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    metric, chance = CHANCE["STS-B"]
    teacher = run["results"]["best_score"]
    print(f"STS-B: teacher {teacher:.3f}, distilled {results['best_score']:.3f}")
    assert results["teacher_dev_score"] == pytest.approx(teacher, abs=1e-6)
    assert results["best_dev"]["dev"][metric] >= chance + MARGIN
    assert (out / "STS-B.tsv").is_file()
