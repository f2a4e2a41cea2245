"""Google's compact-model study (Turc et al. 2019) as one folder: every size pretrained, finetuned on
GLUE over a batch × learning-rate grid and, with distillation, taught by a teacher finetuned once
per task — then one table across sizes. jobs/submit_study.py plans and submits it (writing
<root>/study_plan.json first); `summarize` writes the table:

    <root>/pretrain/<SIZE>/           bert.pretrain (checkpoints/, results.json when it reached its last step)
    <root>/finetune/<SIZE>/           a GLUE grid of the size (bert.glue.grid: cells, glue_table.*)
    <root>/teacher/<TASK>/            the task's teacher (best/: by default a link to the largest size's best
                                      cell, `teachers`), and its outputs (teacher_logits.npy), computed once
                                      and read by every size's student
    <root>/distill/<SIZE>/            a grid of one distillation cell per task
    <root>/study_table.{md,json}      one "finetuned" and one "pre-trained distillation" row per size
                                      (dev numbers of each task's best cell), Google's published test
                                      rows beside the sizes they released, every cell's run folder, and
                                      every missing or failed run named

    python -m bert.study summarize outputs/study
    python -m bert.study teachers outputs/study     (the default teachers; the submission runs it)
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bert.atomic import write_text_atomic
from bert.config import HIDDENS, LAYERS, BertConfig, ConfigError
from bert.data.shards import MANIFEST
from bert.flops import classifier_step_flops, pretraining_step_flops
from bert.glue import grid
from bert.glue import tasks as glue
from bert.train.checkpoints import CheckpointManager

PLAN = "study_plan.json"
RESULTS = "results.json"
SIZES = tuple(f"L{layers}-H{hidden}" for layers in LAYERS for hidden in HIDDENS)  # Google's 24, smallest first
KINDS = {"finetune": "finetuned", "distill": "pre-trained distillation"}

# GLUE test-set scores of Google's compact-model README (google-research/bert, "Smaller BERT Models"):
# best of batch 8–128 × lr 3e-4–3e-5, 4 epochs, finetuned without a teacher.
GOOGLE_TEST = {
    "L2-H128": ("BERT-Tiny", "64.2|0.0|83.2|81.1/71.1|74.3/73.6|62.2/83.4|70.2|70.3|81.5|57.2|62.3|21.0"),
    "L4-H256": ("BERT-Mini", "65.8|0.0|85.9|81.1/71.8|75.4/73.3|66.4/86.2|74.8|74.3|84.1|57.9|62.3|26.1"),
    "L4-H512": ("BERT-Small", "71.2|27.8|89.7|83.4/76.2|78.8/77.0|68.1/87.0|77.6|77.0|86.4|61.8|62.3|28.6"),
    "L8-H512": ("BERT-Medium", "73.5|38.0|89.6|86.6/81.6|80.4/78.4|69.6/87.9|80.0|79.1|87.7|62.2|62.3|30.5"),
}


class StudyError(ValueError):
    """A study that cannot be planned or summarized; one line."""


def parse_sizes(text: str) -> list[str]:
    """'all' → Google's 24 sizes; 'L2-H128,mini' → ['L2-H128', 'L4-H256'] (bert.config's names and aliases)."""
    if text == "all":
        return list(SIZES)
    sizes = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        try:
            sizes.append(BertConfig.from_name(item).name)
        except ConfigError as exc:
            raise StudyError(f"--sizes: {exc}") from None
    if not sizes or len(set(sizes)) != len(sizes):
        raise StudyError(f"--sizes: {text!r} names no size, or one twice")
    return sizes


def largest(sizes: list[str]) -> str:
    """The size with the most parameters (the default teacher)."""
    return max(sizes, key=lambda s: BertConfig.from_name(s).parameter_count())


def pretrain_dir(root: Path, size: str) -> Path:
    return Path(root) / "pretrain" / size


def grid_root(root: Path, kind: str, size: str) -> Path:
    """<root>/finetune/<SIZE> or <root>/distill/<SIZE>: a bert.glue.grid folder."""
    return Path(root) / kind / size


def teacher_dir(root: Path, task: str) -> Path:
    return Path(root) / "teacher" / task


def pretrained(root: Path, size: str, total_steps: int) -> dict:
    """How far the size's pretraining got: {"step", "complete"} — complete when it wrote its
    results.json at a step ≥ `total_steps` (any step when `total_steps` is 0, i.e. set by epochs)."""
    directory = pretrain_dir(root, size)
    results = directory / RESULTS
    if results.is_file():
        step = json.loads(results.read_text(encoding="utf-8"))["step"]
        if step >= total_steps:
            return {"step": step, "complete": True}
    try:
        latest = CheckpointManager(directory / "checkpoints").latest()
    except Exception:  # noqa: BLE001 — a broken folder is an unfinished run here; the run itself says why
        latest = None
    step = json.loads((latest / "state.json").read_text())["step"] if latest else 0
    return {"step": step, "complete": False}


def finished(run_dir: Path) -> bool:
    """A finetuning or distillation run (a cell, a teacher) is done when its results.json exists."""
    return (Path(run_dir) / RESULTS).is_file()


def train_rows(glue_dir: Path, task: str) -> int:
    """Examples in a task's train file (its lines less the header): what a cell reads per epoch."""
    layout = glue.TASKS[task].train
    with open(Path(glue_dir) / task / layout.file, "rb") as f:
        return sum(1 for _ in f) - (layout.header is not None)


def pretraining_steps(cfg, world: int) -> int | None:
    """A pretraining's steps: total_steps, or epochs over the corpus's instances (its manifest);
    None when neither is known."""
    if cfg.total_steps:
        return cfg.total_steps
    manifest = Path(cfg.data) / MANIFEST
    if not manifest.is_file():
        return None
    instances = json.loads(manifest.read_text(encoding="utf-8"))["totals"]["instances"]
    return cfg.epochs * instances // (cfg.train_batch_size * cfg.accumulation_steps * world)


def cost(pretrain: dict, world: int, cells: dict, rows: dict[str, int], teacher=()) -> dict:
    """Training FLOPs of a study: `pretrain` size → its pretraining config, on `world` devices;
    `cells` size → [(finetune or distill config, task, how many such cells)]; `teacher` the same,
    finetuned once per task (plus one forward over its train set for the students). A cell's epochs
    read its train set's `rows` (transfer examples not counted).
    → {"sizes": {size: {"steps", "pretrain", "cells"}}, "teacher", "total"}"""
    def cell_flops(cfg, task):
        labels = glue.TASKS[task].num_labels
        per_example = classifier_step_flops(cfg.bert_config(), cfg.max_length, labels, 1)
        return (cfg.total_steps * cfg.train_batch_size * cfg.accumulation_steps if cfg.total_steps
                else cfg.epochs * rows[task]) * per_example

    out = {"sizes": {}, "teacher": 0.0}
    for size, cfg in pretrain.items():
        steps = pretraining_steps(cfg, world)
        global_batch = cfg.train_batch_size * cfg.accumulation_steps * world
        flops = (steps * pretraining_step_flops(cfg.bert_config(), cfg.max_seq_length, cfg.max_predictions_per_seq,
                                                global_batch) if steps is not None else None)
        out["sizes"][size] = {"steps": steps, "pretrain": flops,
                              "cells": sum(n * cell_flops(c, t) for c, t, n in cells[size])}
    for cfg, task, n in teacher:
        out["teacher"] += n * cell_flops(cfg, task) * (1 + 1 / (3 * cfg.epochs))  # + the students' one forward
    known = [v["pretrain"] for v in out["sizes"].values()]
    out["total"] = None if None in known else sum(known) + sum(v["cells"] for v in out["sizes"].values()) + out["teacher"]
    return out


def _row(root: Path, size: str, kind: str) -> dict | None:
    """One size's row of one kind from its grid folder (summarized here), None when not planned."""
    folder = grid_root(root, kind, size)
    if not (folder / grid.PLAN).is_file():
        return None
    table = grid.summarize(folder)
    runs = {task: str(Path(best["directory"]).relative_to(root)) for task, best in table["best"].items()}
    missing = [f"{size} {KINDS[kind]} {cell}: no results.json ({Path(kind) / size / cell})" for cell in table["missing"]]
    row = {"model": size, "kind": KINDS[kind], "score": table["score"], "task_scores": table["task_scores"],
           "columns": table["columns"], "numbers": table["numbers"], "runs": runs, "missing": missing,
           "datasets": table["datasets"]}
    if kind == "distill":
        row["teachers"] = {task: json.loads((root / run / RESULTS).read_text(encoding="utf-8"))["teacher_dev_score"]
                           for task, run in runs.items()}
    return row


def google_row(size: str) -> dict:
    name, text = GOOGLE_TEST[size]
    score, *cells = text.split("|")
    return {"model": f"{name} ({size})", "kind": "Google, test set", "score": float(score),
            "columns": dict(zip(grid.COLUMNS, cells))}


def read_plan(root: Path) -> dict:
    path = Path(root) / PLAN
    if not path.is_file():
        raise StudyError(f"{path} does not exist: not a study folder (jobs/submit_study.py writes it)")
    return json.loads(path.read_text(encoding="utf-8"))


def pick_teachers(root: str | Path) -> dict[str, dict]:
    """The default teacher of each task, the teacher size's best finished cell (the study's largest
    size, finetuned over the grid already): teacher/<TASK>/best becomes a relative symlink to that
    cell's best/ (replaced atomically) and teacher/<TASK>/teacher.json names the cell. A task
    without a finished cell gets no teacher, said here; its students then fail, named in the table."""
    root = Path(root).resolve()
    plan = read_plan(root)
    size = plan["teacher_size"]
    folder = grid_root(root, "finetune", size)
    cells = grid.read_cells(folder, json.loads((folder / grid.PLAN).read_text(encoding="utf-8")))
    picked = {}
    for task in plan["tasks"]:
        done = [c for c in cells if c["task"] == task and c["results"] and c["results"].get("best_checkpoint")]
        if not done:
            print(f"no teacher for {task}: no cell of {size} finished", flush=True)
            continue
        best = max(done, key=lambda c: c["results"]["best_score"])
        link = teacher_dir(root, task) / "best"
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(".best.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.path.relpath(best["results"]["best_checkpoint"], link.parent))
        os.replace(tmp, link)
        picked[task] = {"size": size, "cell": best["cell"], "directory": str(grid.cell_dir(folder, best)),
                        "best_score": best["results"]["best_score"]}
        write_text_atomic(teacher_dir(root, task) / "teacher.json", json.dumps(picked[task], indent=2) + "\n")
        print(f"teacher {task}: {size} {best['cell']}, dev score {best['results']['best_score']:.4f}", flush=True)
    return picked


def summarize(root: str | Path) -> dict:
    """study_table.{md,json} from the plan and every run folder; returns the table."""
    root = Path(root).resolve()
    plan = read_plan(root)
    rows, missing = [], []
    for size in plan["sizes"]:
        progress = pretrained(root, size, plan["pretrain_steps"][size])
        if not progress["complete"]:
            missing.append(f"{size} pretraining: not finished (step {progress['step']}, "
                           f"{Path('pretrain') / size}): its cells had no checkpoint to start from")
        for kind in KINDS:
            row = _row(root, size, kind)
            if row is not None:
                row["pretraining_step"] = progress["step"]
                rows.append(row)
                missing += row["missing"]
        if size in GOOGLE_TEST:
            rows.append(google_row(size))
    ours = [r for r in rows if "runs" in r]
    datasets = sorted({d for r in ours for d in r["datasets"]})
    table = {"root": str(root), "sizes": plan["sizes"], "tasks": plan["tasks"], "rows": rows, "missing": missing,
             "datasets": datasets}
    write_text_atomic(root / "study_table.json", json.dumps(table, indent=2) + "\n")
    write_text_atomic(root / "study_table.md", markdown(table, plan) + "\n")
    return table


def markdown(table: dict, plan: dict) -> str:
    generated = [d for d in table["datasets"] if d.startswith("generated")]
    source = ", ".join([d for d in table["datasets"] if d not in generated] +
                       (["generated demo sets, not GLUE's"] if generated else [])) or "no finished cell"
    lines = [f"# Compact-model study: GLUE dev ({source})", "",
             "|Model|Score|" + "|".join(grid.COLUMNS) + "|", "|---" * (len(grid.COLUMNS) + 2) + "|"]
    partial = False
    for row in table["rows"]:
        score = "—" if row["score"] is None else f"{row['score']:.1f}"
        if "runs" in row and row["score"] is not None and len(row["task_scores"]) < len(glue.TASKS):
            score, partial = score + "*", True
        lines.append(f"|{row['model']} {row['kind']}|{score}|" + "|".join(row["columns"][c] for c in grid.COLUMNS) + "|")
    lines += ["", "Our rows: dev-set numbers (GLUE's metric ×100: MRPC/QQP F1/accuracy, STS-B Pearson/Spearman, "
                  "CoLA Matthews corr., accuracy elsewhere) of each task's best cell — finetuned over the grid "
                  f"(batch {', '.join(map(str, plan['batch_sizes']))} × lr "
                  f"{', '.join(f'{x:g}' for x in plan['learning_rates'])}); pre-trained distillation: one cell per "
                  "task, taught by the task's teacher (dev score under Runs). Google's rows: the test-set scores of "
                  "its compact-model README, beside the sizes it released (test and dev sets differ)."]
    if partial:
        lines.append("* Score over the tasks with a finished cell, not all nine.")
    lines += ["", "## Runs (under " + table["root"] + ")"]
    for row in table["rows"]:
        if "runs" in row:
            runs = ", ".join(f"{t} {d}" for t, d in row["runs"].items()) or "none finished"
            teachers = ("; teacher dev score " + ", ".join(f"{t} {100 * s:.1f}" for t, s in row["teachers"].items())
                        if row.get("teachers") else "")
            lines.append(f"- {row['model']} {row['kind']} (pretrained {row['pretraining_step']} steps): {runs}{teachers}")
    lines += ["", f"## Missing or failed ({len(table['missing'])})"] + [f"- {m}" for m in table["missing"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    return grid.folder_main(argv, "python -m bert.study", __doc__, {
        "summarize": ("write study_table.{md,json}", summarize, "study_table.md"),
        "teachers": ("link each task's teacher: the teacher size's best finished cell", pick_teachers, None)},
        "the study folder (holds study_plan.json)", (StudyError,))


if __name__ == "__main__":
    sys.exit(main())
