"""Google's compact-model GLUE table from a finetuning grid: GLUE tasks × batch sizes × learning
rates, each cell one bert.finetune run into <root>/<TASK>/<cell>/ (jobs/submit_glue.py submits the
cells as one job array and writes the plan, <root>/glue_plan.json, first). `summarize` reads every
cell's results.json, keeps each task's best dev cell by GLUE's own score, and writes

    <root>/<TASK>/grid_summary.{md,json}   the task's cells, best first (failed ones named)
    <root>/glue_table.{md,json}            Google's layout, dev numbers of each task's best cell
    <root>/glue_submission.zip             GLUE's submission files of the best cells (AX: MNLI's)

Score is GLUE's average of the nine task scores (a two-metric task counts their mean, MNLI the
mean of -m and -mm; AX is not in it), over the tasks present. A cell without results.json (failed,
cancelled, still running) is named in every table, never dropped.

    python -m bert.glue.grid summarize outputs/glue
"""
from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

from bert.atomic import write_text_atomic
from bert.config import BertConfig
from bert.glue import tasks as glue

BATCH_SIZES = (8, 16, 32, 64, 128)  # Google's compact-model README
LEARNING_RATES = (3e-4, 1e-4, 5e-5, 3e-5)
PLAN = "glue_plan.json"
COLUMNS = ("CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI-m", "MNLI-mm", "QNLI(v2)", "RTE", "WNLI", "AX")


class GridError(ValueError):
    """A grid that cannot be summarized; one line."""


def parse_tasks(text: str) -> list[str]:
    """'all' → GLUE's nine tasks; 'SST-2,STS-B' → those (unknown names refused)."""
    tasks = list(glue.TASKS) if text == "all" else [t for t in text.split(",") if t]
    unknown = [t for t in tasks if t not in glue.TASKS]
    if unknown or not tasks:
        raise GridError(f"unknown task {unknown[0] if unknown else text!r} (tasks: {', '.join(glue.TASKS)})")
    return tasks


def cell_name(batch_size: int, learning_rate: float) -> str:
    return f"bs{batch_size}_lr{learning_rate:g}"


def plan(tasks: list[str], batch_sizes, learning_rates) -> dict:
    """The cells of a grid, in submission order: task-major, then batch, then learning rate."""
    cells = [{"task": t, "cell": cell_name(b, lr), "train_batch_size": b, "learning_rate": lr}
             for t in tasks for b in batch_sizes for lr in learning_rates]
    return {"tasks": list(tasks), "batch_sizes": list(batch_sizes), "learning_rates": list(learning_rates),
            "cells": cells}


def cell_dir(root: Path, cell: dict) -> Path:
    return Path(root) / cell["task"] / cell["cell"]


def read_cells(root: Path, grid: dict) -> list[dict]:
    """The plan's cells, each with its results.json (`results`, None when the cell has none)."""
    out = []
    for cell in grid["cells"]:
        path = cell_dir(root, cell) / "results.json"
        try:
            results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except json.JSONDecodeError as exc:
            raise GridError(f"{path}: not JSON ({exc})") from None
        out.append({**cell, "results": results})
    return out


def task_grid(root: Path, task: str, cells: list[dict]) -> dict:
    """One task's cells, best first, written as <root>/<task>/grid_summary.{md,json}; returns the summary."""
    done = sorted((c for c in cells if c["results"]), key=lambda c: -c["results"]["best_score"])
    failed = [c for c in cells if not c["results"]]
    metric = glue.TASKS[task].metrics[0] if len(glue.TASKS[task].metrics) == 1 else "score"
    rows = [{"cell": c["cell"], "train_batch_size": c["train_batch_size"], "learning_rate": c["learning_rate"],
             "best_score": c["results"]["best_score"], "best_step": c["results"]["best_step"],
             "dev_score": c["results"]["dev_score"]} for c in done]
    missing = [{"cell": c["cell"], "directory": str(cell_dir(root, c))} for c in failed]
    summary = {"task": task, "metric": metric, "best": rows[0] if rows else None, "cells": rows, "missing": missing,
               "dataset": done[0]["results"]["dataset"] if done else None}
    lines = [f"# Finetuning grid: {task} ({summary['dataset'] or 'no finished cell'})", "",
             f"| batch | lr | best dev {metric} | at step | final dev {metric} |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['train_batch_size']} | {r['learning_rate']:g} | {r['best_score']:.4f} | {r['best_step']} "
              f"| {r['dev_score']:.4f} |" for r in rows]
    lines += [f"| {c['train_batch_size']} | {c['learning_rate']:g} | no results.json (failed or not run) | | |"
              for c in failed]
    if rows:
        best = rows[0]
        lines += ["", f"Best: batch {best['train_batch_size']}, lr {best['learning_rate']:g} → "
                      f"{best['best_score']:.4f} ({best['cell']})"]
    write_text_atomic(Path(root) / task / "grid_summary.json", json.dumps(summary, indent=2) + "\n")
    write_text_atomic(Path(root) / task / "grid_summary.md", "\n".join(lines) + "\n")
    return summary


def _numbers(task: str, dev: dict) -> dict[str, list[float]]:
    """A task's best dev metrics → table column → its numbers in Google's order (×100)."""
    names = glue.TASKS[task].metrics
    if task == "MNLI":
        return {"MNLI-m": [100 * dev["dev_matched"]["accuracy"]], "MNLI-mm": [100 * dev["dev_mismatched"]["accuracy"]]}
    column = "QNLI(v2)" if task == "QNLI" else task
    return {column: [100 * dev["dev"][n] for n in names]}


def glue_table(root: Path, grid: dict, cells: list[dict], model: str) -> dict:
    """The table's row (JSON) and markdown, from each task's best cell."""
    best, numbers, task_scores, missing = {}, {}, {}, []
    for task in grid["tasks"]:
        done = [c for c in cells if c["task"] == task and c["results"]]
        missing += [f"{task}/{c['cell']}" for c in cells if c["task"] == task and not c["results"]]
        if done:
            best[task] = max(done, key=lambda c: c["results"]["best_score"])  # the first of equals
            columns = _numbers(task, best[task]["results"]["best_dev"])
            numbers.update(columns)
            task_scores[task] = sum(sum(v) / len(v) for v in columns.values()) / len(columns)
    score = sum(task_scores.values()) / len(task_scores) if task_scores else None
    cells_text = {}
    for column in COLUMNS:
        task = "QNLI" if column == "QNLI(v2)" else "MNLI" if column.startswith("MNLI") else column
        if column == "AX":
            cells_text[column] = ("test only: AX.tsv" if "MNLI" in best and
                                  (cell_dir(root, best["MNLI"]) / "AX.tsv").is_file() else "—")
        elif column in numbers:
            cells_text[column] = "/".join(f"{v:.1f}" for v in numbers[column])
        elif task in grid["tasks"]:
            cells_text[column] = "failed"
        else:
            cells_text[column] = "—"
    partial = len(task_scores) < len(glue.TASKS)
    score_text = "—" if score is None else f"{score:.1f}" + ("*" if partial else "")
    datasets = sorted({c["results"]["dataset"] for c in best.values()})
    generated = [d for d in datasets if d.startswith("generated")]
    source = ", ".join([d for d in datasets if d not in generated] +
                       (["generated demo sets, not GLUE's"] if generated else [])) or "no finished cell"
    lines = [f"# GLUE dev table: {model} ({source})", "",
             "|Model|Score|" + "|".join(COLUMNS) + "|", "|---" * (len(COLUMNS) + 2) + "|",
             f"|{model}|{score_text}|" + "|".join(cells_text[c] for c in COLUMNS) + "|", ""]
    lines.append("Dev-set numbers of each task's best cell (GLUE's own metric: MRPC/QQP F1/accuracy, "
                 "STS-B Pearson/Spearman, CoLA Matthews corr ×100, accuracy elsewhere).")
    if partial:
        lines.append(f"* Score over the {len(task_scores)} of {len(glue.TASKS)} tasks with a finished cell.")
    lines += [f"- {t}: {c['cell']} ({cell_dir(root, c)})" for t, c in best.items()]
    if missing:
        lines += ["", f"Cells without results ({len(missing)} of {len(cells)}): " + ", ".join(missing)]
    table = {"model": model, "score": score, "task_scores": task_scores, "columns": cells_text,
             "numbers": numbers, "datasets": datasets, "missing": missing,
             "best": {t: {"cell": c["cell"], "directory": str(cell_dir(root, c)),
                          "train_batch_size": c["train_batch_size"], "learning_rate": c["learning_rate"],
                          "best_score": c["results"]["best_score"]} for t, c in best.items()}}
    write_text_atomic(Path(root) / "glue_table.json", json.dumps(table, indent=2) + "\n")
    write_text_atomic(Path(root) / "glue_table.md", "\n".join(lines) + "\n")
    return table


def submission_zip(root: Path, best: dict[str, dict]) -> Path:
    """GLUE's submission zip: the prediction files of each task's best cell, at the top level."""
    path = Path(root) / "glue_submission.zip"
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in best.values():
            directory = Path(entry["directory"])
            for name in json.loads((directory / "results.json").read_text(encoding="utf-8"))["predictions"]:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # same bytes, same zip
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, (directory / name).read_bytes())
    tmp.replace(path)
    return path


def model_name(cells: list[dict]) -> str:
    """L4-H256 (from a finished cell's best/bert_config.json), or "model" when none finished."""
    for c in cells:
        best = c["results"] and c["results"].get("best_checkpoint")
        if best and (Path(best) / "bert_config.json").is_file():
            return BertConfig.from_file(Path(best) / "bert_config.json").name
    return "model"


def summarize(root: str | Path) -> dict:
    """Every table of a grid (see the module doc); returns the GLUE table."""
    root = Path(root)
    path = root / PLAN
    if not path.is_file():
        raise GridError(f"{path} does not exist: not a grid folder (jobs/submit_glue.py writes it)")
    grid = json.loads(path.read_text(encoding="utf-8"))
    cells = read_cells(root, grid)
    for task in grid["tasks"]:
        task_grid(root, task, [c for c in cells if c["task"] == task])
    table = glue_table(root, grid, cells, model_name(cells))
    submission_zip(root, table["best"])
    return table


def folder_main(argv, prog: str, doc: str, commands: dict, what: str, errors=()) -> int:
    """`prog COMMAND ROOT`: commands maps a name to (help, function of ROOT, the file of ROOT it then
    prints or None); a bad folder is one line and exit code 2."""
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (text, _, _) in commands.items():
        sub.add_parser(name, help=text).add_argument("root", help=what)
    args = parser.parse_args(argv)
    _, function, table = commands[args.command]
    try:
        function(args.root)
    except (GridError, OSError, *errors) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if table:
        print(Path(args.root, table).read_text(encoding="utf-8"), end="")
    return 0


def main(argv=None) -> int:
    return folder_main(argv, "python -m bert.glue.grid", __doc__, {
        "summarize": ("write the tables and the submission zip of a grid folder", summarize, "glue_table.md")},
        "the grid folder (holds glue_plan.json)")


if __name__ == "__main__":
    sys.exit(main())
