"""The two private APIs this project relies on, each behind one module that checks the installed
version (bert.pins): MindSpore's C++ MindRecord writer (bert.data.mindrecord_writer) — its bytes
are FileWriter's and read back through mindspore.dataset — and submitit's sbatch writer
(bert.cluster.sbatch) — its text is the golden file, as submitit's own tests pin theirs."""
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from bert.cluster import sbatch
from bert.cluster.profiles import load_profile
from bert.cluster.submit import Plan
from bert.data import mindrecord, mindrecord_writer
from bert.data.examples import main as examples_main
from bert.data.mindrecord import COLUMNS, read_rows
from conftest import REPO

GOLDEN = Path(__file__).parent / "golden"


def untested(monkeypatch, distribution: str, version: str = "99.0.0") -> None:
    """Make `distribution` look installed at another version."""
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: version if name == distribution else real(name))


def test_rows_written_in_bulk_are_the_filewriters_own(tmp_path):
    from mindspore.mindrecord import FileWriter

    rng = np.random.default_rng(0)
    widths = {"input_ids": 16, "input_mask": 16, "segment_ids": 16, "masked_lm_positions": 4, "masked_lm_ids": 4,
              "masked_lm_weights": 4, "next_sentence_labels": 1}
    batches = [{k: rng.integers(0, 30522, (rows, w)).astype(np.float32 if k == "masked_lm_weights" else np.int32)
                for k, w in widths.items()} for rows in (5, 1, 7)]
    (tmp_path / "bulk").mkdir(), (tmp_path / "public").mkdir()  # the header holds the file's name
    assert mindrecord_writer.write_shard(tmp_path / "bulk" / "x.mindrecord", batches) == 13
    writer = FileWriter(str(tmp_path / "public" / "x.mindrecord"))  # MindSpore's public way, same settings
    writer.set_page_size(1 << 20)
    writer.set_header_size(1 << 20)
    writer.add_schema(mindrecord.SCHEMA, "bert_pretraining")
    for columns in batches:
        writer.write_raw_data([{k: columns[k][i] for k in COLUMNS} for i in range(len(columns["input_ids"]))])
    writer.commit()
    for name in ("x.mindrecord", "x.mindrecord.db"):
        assert (tmp_path / "bulk" / name).read_bytes() == (tmp_path / "public" / name).read_bytes()
    rows = list(read_rows(tmp_path / "bulk" / "x.mindrecord"))
    for k in COLUMNS:
        assert np.array_equal(np.stack([r[k] for r in rows]), np.concatenate([b[k] for b in batches]))


def test_a_dynamic_corpus_shard_is_the_filewriters_own_too(tmp_path):
    """Variable-length bytes (uint16 ids, a last byte of 0 included) beside int32 columns."""
    from mindspore.mindrecord import FileWriter

    rng = np.random.default_rng(1)
    tokens = [rng.integers(0, 30522, n).astype("<u2").tobytes() + np.array([102], "<u2").tobytes()
              for n in (3, 60, 1, 126, 17)]
    batch = {"tokens": tokens, "a_length": np.array([[1], [20], [0], [50], [8]], np.int32),
             "next_sentence_labels": np.array([[0], [1], [1], [0], [1]], np.int32)}
    (tmp_path / "bulk").mkdir(), (tmp_path / "public").mkdir()
    assert mindrecord_writer.write_shard(tmp_path / "bulk" / "x.mindrecord", [batch], mindrecord.DYNAMIC) == 5
    writer = FileWriter(str(tmp_path / "public" / "x.mindrecord"))
    writer.set_page_size(mindrecord.DYNAMIC.page_size)  # 64 KB
    writer.set_header_size(mindrecord.DYNAMIC.header_size(0))  # 64 KB, the least
    writer.add_schema(mindrecord.DYNAMIC.schema, mindrecord.DYNAMIC.name)
    writer.write_raw_data([{k: batch[k][i] for k in batch} for i in range(5)])
    writer.commit()
    for name in ("x.mindrecord", "x.mindrecord.db"):
        assert (tmp_path / "bulk" / name).read_bytes() == (tmp_path / "public" / name).read_bytes()
    import mindspore.dataset as ds

    rows = list(ds.MindDataset(str(tmp_path / "bulk" / "x.mindrecord"), columns_list=list(mindrecord.DYNAMIC.columns),
                               shuffle=False).create_tuple_iterator(output_numpy=True))
    assert [r[0].tobytes() for r in rows] == tokens  # the bytes the feed decodes, trailing zero bytes kept
    assert [int(r[1][0]) for r in rows] == [1, 20, 0, 50, 8]


def test_shard_written_without_importing_mindspore_reads_back_in_mindspore(tmp_path):
    script = f"""
import sys
import numpy as np
from bert.data.mindrecord import COLUMNS
from bert.data.mindrecord_writer import write_shard
columns = {{k: np.arange(6).reshape(3, 2).astype(np.float32 if k == "masked_lm_weights" else np.int32) for k in COLUMNS}}
write_shard({str(tmp_path / "x.mindrecord")!r}, [columns])
assert "mindspore" not in sys.modules
import mindspore.dataset as ds
rows = list(ds.MindDataset({str(tmp_path / "x.mindrecord")!r}, columns_list=list(COLUMNS), shuffle=False)
            .create_dict_iterator(output_numpy=True))
assert len(rows) == 3
for i, row in enumerate(rows):
    for k in COLUMNS:
        assert row[k].tolist() == [2 * i, 2 * i + 1], (k, row[k])
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_another_mindspore_stops_the_examples_stage_in_one_line_before_any_work(monkeypatch, tmp_path, capsys):
    untested(monkeypatch, "mindspore", "2.11.0")
    text = tmp_path / "text"
    text.mkdir()
    (text / "a.txt").write_text("One sentence.\nAnother one.\n")
    with pytest.raises(SystemExit) as stop:
        examples_main(["--input", str(text), "--vocab", str(tmp_path / "no-vocab.txt"), "--output", str(tmp_path / "out")])
    message = str(stop.value.code)
    assert message.count("\n") == 0 and message.startswith("error: ") and stop.value.code != 0
    assert "mindspore 2.10.0" in message and "2.11.0 is installed" in message
    assert not (tmp_path / "out").exists()  # checked before the vocab, before any output


@pytest.mark.parametrize("golden, array, extra", [
    ("submitit_slurm_gpu.sbatch", None, {}),
    ("submitit_slurm_gpu_array.sbatch", 18, {"dependency": "afterok:41", "max_parallel": 4}),
])
def test_the_dry_runs_sbatch_script_is_submitits_golden_text(golden, array, extra, monkeypatch):
    monkeypatch.chdir(REPO)  # the profiles are read from configs/cluster
    plan = Plan("slurm", load_profile("slurm-gpu"), 2, 8, "golden", Path("/jobs/logs"), True)
    params = plan.slurm_parameters(dependency=extra.get("dependency"))
    if "max_parallel" in extra:
        params["array_parallelism"] = extra["max_parallel"]
    text = sbatch.script(plan.folder, params, array).replace(sys.executable, "PYTHON")
    assert text == (GOLDEN / golden).read_text()


def test_another_submitit_stops_the_dry_run_in_one_line(monkeypatch):
    untested(monkeypatch, "submitit")
    with pytest.raises(SystemExit) as stop:
        sbatch.script(Path("/jobs/logs/x/submitit"), {"job_name": "x", "time": 5, "nodes": 1})
    message = str(stop.value.code)
    assert message.count("\n") == 0 and message.startswith("error: ")
    assert "submitit 1.5.4" in message and "99.0.0 is installed" in message
