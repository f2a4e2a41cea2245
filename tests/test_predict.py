"""bert.predict on the models the GLUE task tests finetuned (conftest's glue_runs): what it answers
for the whole dev set is what the run measured on it."""
import json

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score

from bert.glue import tasks as glue
from conftest import run_module


def dev_examples(run, task_name):
    task = glue.TASKS[task_name]
    return glue.read_examples(task, task.dev["dev"], run["data"] / "dev.tsv")


def predict(run, *args, stdin=None):
    return run_module("bert.predict", "--model", run["out"] / "best", "--max-length", "64", *args, input=stdin)


def stdin_of(examples):
    pairs = examples.text_b is not None
    return "".join(f"{a}\t{b}\n" if pairs else f"{a}\n"
                   for a, b in zip(examples.text_a, examples.text_b or examples.text_a))


def test_single_sentences_on_stdin_give_the_runs_dev_accuracy(glue_runs):
    run = glue_runs["SST-2"]
    examples = dev_examples(run, "SST-2")
    proc = predict(run, "--json", "--batch-size", "24", stdin=stdin_of(examples))
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["text_a"] for a in answers] == examples.text_a
    for a in answers:
        assert set(a["probabilities"]) == {"0", "1"} and a["label"] == max(a["probabilities"], key=a["probabilities"].get)
        assert sum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    predicted = [int(a["label"]) for a in answers]
    assert accuracy_score(examples.labels, predicted) == run["results"]["best_dev"]["dev"]["accuracy"]


def test_one_sentence_on_the_command_line_is_one_plain_line(glue_runs):
    run = glue_runs["SST-2"]
    sentence = dev_examples(run, "SST-2").text_a[0]
    proc = predict(run, sentence)
    assert proc.returncode == 0, proc.stderr
    label, probs, text = proc.stdout.rstrip("\n").split("\t")
    assert label in ("0", "1") and text == sentence
    assert probs.startswith(f"p=") and "(0: " in probs and ", 1: " in probs


def test_pairs_on_the_command_line_and_on_stdin(glue_runs):
    run = glue_runs["MRPC"]
    examples = dev_examples(run, "MRPC")
    one = predict(run, examples.text_a[0], examples.text_b[0])
    assert one.returncode == 0, one.stderr
    assert one.stdout.rstrip("\n").endswith(f"\t{examples.text_a[0]} ||| {examples.text_b[0]}")
    many = predict(run, "--json", stdin=stdin_of(examples))
    assert many.returncode == 0, many.stderr
    answers = [json.loads(line) for line in many.stdout.splitlines()]
    assert [(a["text_a"], a["text_b"]) for a in answers] == list(zip(examples.text_a, examples.text_b))
    assert one.stdout.split("\t")[0] == answers[0]["label"]
    predicted = [int(a["label"]) for a in answers]
    assert f1_score(examples.labels, predicted) == pytest.approx(run["results"]["best_dev"]["dev"]["f1"], abs=1e-12)


def test_stsb_prints_the_score_and_stdin_gives_the_runs_pearson(glue_runs):
    run = glue_runs["STS-B"]
    examples = dev_examples(run, "STS-B")
    one = predict(run, examples.text_a[0], examples.text_b[0])
    assert one.returncode == 0 and one.stdout.startswith("score "), one.stderr
    many = predict(run, "--json", stdin=stdin_of(examples))
    scores = np.array([json.loads(line)["score"] for line in many.stdout.splitlines()])
    assert float(one.stdout.split()[1]) == pytest.approx(scores[0], abs=5e-4)  # printed to 3 decimals
    # bert.predict runs the model op by op (PyNative), the run evaluated it as a compiled graph: the
    # float32 scores differ in their last bits (measured: Pearson 0.97897031 vs 0.97897030, 6e-9)
    assert pearsonr(scores, examples.labels)[0] == pytest.approx(run["results"]["best_dev"]["dev"]["pearson"],
                                                                 abs=1e-6)


@pytest.mark.parametrize("case, problem", [
    ("missing", "is not a model directory"),
    ("pretrained", "has no task.json: not a finetuned model"),
    ("one of a pair", "MRPC takes 2 sentence(s), got 1"),
    ("bad stdin", "stdin line 2: MRPC takes two tab-separated sentences"),
])
def test_bad_input_is_one_line(glue_runs, tmp_path, case, problem):
    mrpc = glue_runs["MRPC"]["out"] / "best"
    if case == "missing":
        args, stdin = ["--model", tmp_path / "nothing", "a sentence"], None
    elif case == "pretrained":
        pretrained = tmp_path / "pretrained"
        pretrained.mkdir()
        for name in ("bert_config.json", "model.safetensors", "vocab.txt"):
            (pretrained / name).write_bytes((mrpc / name).read_bytes())
        args, stdin = ["--model", pretrained, "a sentence"], None
    elif case == "one of a pair":
        args, stdin = ["--model", mrpc, "only one"], None
    else:
        args, stdin = ["--model", mrpc], "first\tsecond\nno tab here\n"
    proc = run_module("bert.predict", *args, input=stdin)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and problem in proc.stderr
