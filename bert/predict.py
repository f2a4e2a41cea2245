"""Ask a finetuned model about sentences: the `best/` folder bert.finetune or bert.distill keeps
(weights + vocab.txt + task.json naming the GLUE task and its labels) in, one prediction per example
out — the label and the class probabilities, or the score for STS-B.

    python -m bert.predict --model outputs/finetune/best "a gripping , funny film"
    python -m bert.predict --model outputs/mrpc/best "He said hi ." "He greeted us ."
    printf 'first\tsecond\n…' | python -m bert.predict --model outputs/mrpc/best --json

Without sentences on the command line it reads stdin, one example per line (a pair task's two
sentences tab-separated), and predicts in batches of --batch-size.
"""
# MindSpore (and bert.model, which imports it) is imported inside predict(): bad input is reported in one
# line before MindSpore loads.
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bert.config import ConfigError
from bert.data import DataError
from bert.glue import tasks as glue
from bert.model_dir import VOCAB_FILE, CheckpointError, assign_state, is_model_dir, read_model_dir
from bert.tokenization import Tokenizer
from bert.train.classifier import TASK_FILE, outputs_of


def read_task(model_dir: Path) -> glue.GlueTask:
    """The GLUE task a finetuned model directory was trained on (its task.json)."""
    if not is_model_dir(model_dir):
        raise CheckpointError(f"{model_dir} is not a model directory (needs bert_config.json and model.safetensors)")
    path = model_dir / TASK_FILE
    if not path.is_file():
        raise CheckpointError(f"{model_dir} has no {TASK_FILE}: not a finetuned model (bert.finetune's best/ folder)")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        task = glue.load_task(saved["task"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a task file ({exc})") from None
    if tuple(saved.get("labels") or ()) != tuple(task.labels or ()):
        raise CheckpointError(f"{path}: labels {saved['labels']} are not {saved['task']}'s {task.labels}")
    return task


def parse_examples(task: glue.GlueTask, lines: list[str], source: str) -> glue.Examples:
    """Lines (a pair task: two tab-separated sentences each) → examples; a bad line is one error."""
    width = 2 if task.is_pair else 1
    rows = []
    for number, line in enumerate(lines, 1):
        fields = line.split("\t")
        if len(fields) != width or not all(f.strip() for f in fields):
            kind = "two tab-separated sentences" if task.is_pair else "one sentence (no tab)"
            raise DataError(f"{source} {number}: {task.name} takes {kind}, got {line!r}")
        rows.append(fields)
    if not rows:
        raise DataError(f"{source}: no examples")
    return glue.Examples([r[0] for r in rows], [r[1] for r in rows] if task.is_pair else None, None, None)


def predict(model_dir: Path, examples: glue.Examples, max_length: int, batch_size: int) -> np.ndarray:
    """The model's outputs [N, num_labels]: logits, or the score [N, 1] for STS-B."""
    import mindspore as ms

    from bert.model import BertForSequenceClassification

    task = read_task(model_dir)
    config, state = read_model_dir(model_dir)
    if max_length > config.max_position_embeddings:
        raise ConfigError(f"--max-length {max_length} exceeds the model's max_position_embeddings "
                          f"{config.max_position_embeddings}")
    columns = glue.encode(Tokenizer(model_dir / VOCAB_FILE), examples, max_length)
    model = BertForSequenceClassification(config, task.num_labels)
    assign_state(model, state, source=str(model_dir))
    ms.set_seed(0)
    return outputs_of(model.construct, model, columns, min(batch_size, len(examples)))


def answers(task: glue.GlueTask, examples: glue.Examples, outputs: np.ndarray) -> list[dict]:
    """One dict per example: its text(s) and the label + probabilities, or the score."""
    out = []
    for i, row in enumerate(outputs):
        answer = {"text_a": examples.text_a[i]}
        if examples.text_b is not None:
            answer["text_b"] = examples.text_b[i]
        if task.labels is None:
            answer["score"] = float(row[0])
        else:
            p = np.exp(row - row.max())
            p /= p.sum()
            answer["label"] = task.labels[int(p.argmax())]
            answer["probabilities"] = {label: round(float(v), 6) for label, v in zip(task.labels, p)}
        out.append(answer)
    return out


def plain(answer: dict) -> str:
    """`label  p=0.973 (0: 0.027, 1: 0.973)  text` or `score 3.214  text_a ||| text_b`."""
    text = answer["text_a"] + (f" ||| {answer['text_b']}" if "text_b" in answer else "")
    if "score" in answer:
        return f"score {answer['score']:.3f}\t{text}"
    probs = answer["probabilities"]
    spread = ", ".join(f"{label}: {p:.3f}" for label, p in probs.items())
    return f"{answer['label']}\tp={probs[answer['label']]:.3f} ({spread})\t{text}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path,
                        help="a finetuned model directory (the run's best/: weights, vocab.txt, task.json)")
    parser.add_argument("sentences", nargs="*",
                        help="one example: a sentence, or a pair task's two sentences; none: read stdin")
    parser.add_argument("--json", action="store_true", help="one JSON object per example instead of text")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per example, [CLS]/[SEP] included")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per forward pass")
    args = parser.parse_args(argv)
    try:
        if args.max_length < 4 or args.batch_size < 1:
            raise ConfigError("--max-length must be >= 4 and --batch-size >= 1")
        task = read_task(args.model)
        if args.sentences:
            if len(args.sentences) != 1 + task.is_pair:
                raise DataError(f"{task.name} takes {1 + task.is_pair} sentence(s), got {len(args.sentences)}")
            examples = parse_examples(task, ["\t".join(args.sentences)], "command line example")
        else:
            examples = parse_examples(task, sys.stdin.read().splitlines(), "stdin line")
        outputs = predict(args.model, examples, args.max_length, args.batch_size)
    except (CheckpointError, ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for answer in answers(task, examples, outputs):
        print(json.dumps(answer, ensure_ascii=False) if args.json else plain(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
