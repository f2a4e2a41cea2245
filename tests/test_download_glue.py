"""tools/download_glue.py against the local Range-capable HTTP server of tests/test_sst2_tools.py (serving
zips made of bert.glue.demo's files, laid out as GLUE's are), and the generated demo sets themselves."""
import hashlib
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_sst2_tools import one_error_line, server  # noqa: F401 (server is a fixture)

from bert import assets
from bert.glue import demo as glue_demo, sst2_demo, tasks as glue
from bert.tokenization import Tokenizer

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "download_glue.py"
SMALL = (12, 6, 4)

_spec = importlib.util.spec_from_file_location("download_glue", TOOL)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Small demo files of every task: the contents the test server's zips are made of."""
    return glue_demo.write_demo(tmp_path_factory.mktemp("demo"), sizes=SMALL)


def put(srv, rel: str, data: bytes) -> str:
    """Serve `data` at /rel → its sha256."""
    path = srv.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def serve_zip(srv, demo, task: str, **replace: bytes | None) -> str:
    """Serve the task's demo files (no DEMO.txt) as GLUE does, in <TASK>/ of <zip name>; `replace` swaps
    (or, with None, drops) files by name → the zip's sha256."""
    zip_path = srv.root / "zip.tmp"
    with zipfile.ZipFile(zip_path, "w") as z:
        for layout in glue_demo.files(task).values():
            data = replace.get(layout.file, (demo / task / layout.file).read_bytes())
            if data is not None:
                z.writestr(f"{task}/{layout.file}", data)
        z.writestr(f"{task}/original/README.txt", "the original files\n")
    return put(srv, tool.ZIPS[task], zip_path.read_bytes())


def run(srv, out, *args):
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    return tool.main(["--output", str(out), "--base-url", base, "--timeout", "5", "--retries", "0", *args])


def requests(srv, rel: str) -> list:
    return [rng for path, rng in srv.requests if path == rel]


def zip_name(task: str) -> str:
    return tool.ZIPS[task].rsplit("/", 1)[1]


def same_files(got: Path, want: Path) -> bool:
    names = sorted(p.name for p in want.iterdir() if p.name != "DEMO.txt")
    return names == sorted(p.name for p in got.iterdir() if p.name != "original") and all(
        (got / n).read_bytes() == (want / n).read_bytes() for n in names)


def test_two_tasks_verify_unpack_and_reuse_the_zips(server, demo, tmp_path, capsys):
    shas = {task: serve_zip(server, demo, task) for task in ("CoLA", "MNLI")}
    out = tmp_path / "glue"
    args = ["--tasks", "mnli,CoLA", "--sha256", f"CoLA={shas['CoLA']}", "--sha256", f"MNLI={shas['MNLI'].upper()}"]
    assert run(server, out, *args) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["CoLA", "CoLA.zip", "MNLI", "MNLI.zip"]  # no temporaries
    assert same_files(out / "CoLA", demo / "CoLA") and same_files(out / "MNLI", demo / "MNLI")
    assert (out / "MNLI" / "original" / "README.txt").is_file()

    (out / "MNLI" / "stale.txt").write_text("x")  # a rerun replaces the folders and downloads nothing
    assert run(server, out, *args) == 0
    assert not (out / "MNLI" / "stale.txt").exists() and same_files(out / "MNLI", demo / "MNLI")
    assert requests(server, tool.ZIPS["CoLA"]) == requests(server, tool.ZIPS["MNLI"]) == [None]


def test_mrpc_and_ax_without_checksums_print_the_flags_then_build_like_glue(server, demo, tmp_path, capsys):
    # SentEval's files hold train and dev pairs together (with a BOM) and label the test pairs
    train = (demo / "MRPC" / "train.tsv").read_text().splitlines()
    dev = (demo / "MRPC" / "dev.tsv").read_text().splitlines()
    mixed = [train[0], *train[1:4], *dev[1:], *train[4:]]
    put(server, tool.MRPC_FILES[tool.MRPC_TRAIN], ("\ufeff" + "\n".join(mixed) + "\n").encode())
    test = [line.split("\t") for line in (demo / "MRPC" / "test.tsv").read_text().splitlines()]
    put(server, tool.MRPC_FILES[tool.MRPC_TEST],
        "".join("\t".join(["Quality" if i == 0 else "1", *row[1:]]) + "\n" for i, row in enumerate(test)).encode())
    put(server, tool.MRPC_FILES[tool.MRPC_DEV_IDS],
        "".join("\t".join(line.split("\t")[1:3]) + "\n" for line in dev[1:]).encode())
    put(server, tool.AX_FILE, (demo / "diagnostic" / "diagnostic.tsv").read_bytes())

    out = tmp_path / "glue"
    assert run(server, out, "--tasks", "MRPC,diagnostic") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: no --sha256 given for 4 files; ")
    flags = re.findall(r"--sha256 (\S+=[0-9a-f]{64})", err)
    assert sorted(f.split("=")[0] for f in flags) == ["AX", *sorted(tool.MRPC_FILES)]
    assert sorted(p.name for p in out.iterdir()) == sorted(["AX.tsv", *tool.MRPC_FILES])  # nothing unpacked

    assert run(server, out, "--tasks", "MRPC,AX", *(a for f in flags for a in ("--sha256", f))) == 0
    assert same_files(out / "MRPC", demo / "MRPC") and same_files(out / "diagnostic", demo / "diagnostic")
    assert all(requests(server, rel) == [None] for rel in [*tool.MRPC_FILES.values(), tool.AX_FILE])


def test_checksum_mismatch_is_one_error_and_leaves_nothing(server, demo, tmp_path, capsys):
    sha = serve_zip(server, demo, "CoLA")
    out = tmp_path / "glue"
    assert run(server, out, "--tasks", "CoLA", "--sha256", "CoLA=" + "ab" * 32) == 2
    line = one_error_line(capsys)
    assert "mismatch" in line and "ab" * 32 in line and sha in line
    assert not out.exists()


def test_cut_download_is_not_unpacked_and_rerun_resumes(server, demo, tmp_path, capsys):
    for task in ("CoLA", "MNLI"):
        serve_zip(server, demo, task)
    server.data_path, server.cut_after = tool.ZIPS["MNLI"], 100
    out = tmp_path / "glue"
    assert run(server, out, "--tasks", "CoLA,MNLI", "--no-verify") == 2
    assert "rerun to resume" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["CoLA.zip", "MNLI.zip.part"]  # CoLA not unpacked either

    assert run(server, out, "--tasks", "CoLA,MNLI", "--no-verify") == 0
    assert requests(server, tool.ZIPS["MNLI"]) == [None, "bytes=100-"] and requests(server, tool.ZIPS["CoLA"]) == [None]
    assert same_files(out / "MNLI", demo / "MNLI") and same_files(out / "CoLA", demo / "CoLA")


@pytest.mark.parametrize("task, replace, reason", [
    ("MNLI", {"dev_mismatched.tsv": b"index\tpromptID\n"}, "dev_mismatched.tsv starts with 'index\\tpromptID'"),
    ("CoLA", {"train.tsv": b"sentence\tlabel\nit works\t1\n"}, "train.tsv starts with 'sentence\\tlabel', which has 2"),
    ("QNLI", {"test.tsv": None}, "it has no test.tsv"),
])
def test_not_the_table_layout_is_one_error_naming_the_file(server, demo, tmp_path, capsys, task, replace, reason):
    sha = serve_zip(server, demo, task, **replace)
    out = tmp_path / "glue"
    (out / task).mkdir(parents=True)
    (out / task / "keep.txt").write_text("old")
    assert run(server, out, "--tasks", task, "--sha256", f"{task}={sha}") == 2
    line = one_error_line(capsys)
    assert f"{zip_name(task)} is not GLUE {task}: " in line and reason in line, line
    assert [p.name for p in (out / task).iterdir()] == ["keep.txt"]  # the old folder is left as it was
    assert sorted(p.name for p in out.iterdir()) == sorted([task, zip_name(task)])


def test_demo_writes_every_file_of_the_table_the_same_twice(tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert tool.main(["--output", str(one), "--demo"]) == 0 and tool.main(["--output", str(two), "--demo"]) == 0
    assert sorted(p.name for p in one.iterdir()) == sorted(map(glue_demo.folder, glue_demo.ALL))
    sst2 = sst2_demo.write_demo(tmp_path / "sst2", *glue_demo.SIZES)  # SST-2 is bert.glue.sst2_demo's set
    assert all((one / "SST-2" / p.name).read_bytes() == p.read_bytes() for p in sst2.iterdir())
    texts = []
    for task in glue_demo.ALL:
        folder = one / glue_demo.folder(task)
        layouts = glue_demo.files(task)
        names = [glue.DEMO_MARKER, *(layout.file for layout in layouts.values())]
        assert sorted(p.name for p in folder.iterdir()) == sorted(names)
        assert (folder / "DEMO.txt").read_text().startswith("generated demo set, not ")
        spec = glue.TASKS.get(task)
        for stem, layout in layouts.items():
            data = (folder / layout.file).read_bytes()
            assert data == (two / glue_demo.folder(task) / layout.file).read_bytes()
            lines = data.decode().split("\n")
            assert lines.pop() == ""
            if layout.header:
                assert lines.pop(0) == "\t".join(layout.header)
            rows = [line.split("\t") for line in lines]
            want = 400 if stem == "train" else 100 if stem.startswith("dev") else 40
            assert len(rows) == want and {len(r) for r in rows} == {layout.width}, (task, stem)
            if layout.index is not None:
                assert [r[layout.index] for r in rows] == [str(i) for i in range(want)]
            if layout.label is not None:
                labels = [r[layout.label] for r in rows]
                classes = spec.labels or [f"{k:.3f}" for k in range(6)]  # STS-B: 0–5 as GLUE writes them
                assert max(labels.count(c) for c in classes) - min(labels.count(c) for c in classes) <= 1, (task, stem)
            texts += [r[c] for r in rows for c in (layout.text_a, layout.text_b) if c is not None]
            examples = glue.read_examples(spec or glue.TASKS["MNLI"], layout, folder / layout.file)  # AX: MNLI pairs
            assert len(examples) == want and examples.skipped == 0
            assert (examples.labels is None, examples.index is None) == (layout.label is None, layout.index is None)
        if task in ("MRPC", "QQP"):  # literal quotes, as the real files have
            assert '"' in (folder / "train.tsv").read_text()
    tokenizer = Tokenizer(assets.uncased_vocab())
    words = sorted({w for t in texts for w in t.split()})
    bad = [w for w in words if any(p == "[UNK]" or p.startswith("##") for p in tokenizer.tokenize(w))]
    assert bad == []  # whole words of the uncased vocab, no pieces


def test_cli_help_and_bad_input_fail_before_any_download(tmp_path, capsys):
    ok = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and all(flag in ok.stdout for flag in ("--tasks", "--sha256", "--base-url", "--demo"))
    hex64 = "a" * 64
    for args, reason in (
            (["--tasks", "CoLA,XNLI"], "unknown task 'XNLI'"),
            (["--sha256", "CoLA=12"], "64 hex digits"),
            (["--tasks", "CoLA", "--sha256", f"MNLI={hex64}"], "no download of --tasks CoLA"),
            (["--tasks", "MRPC", "--sha256", f"MRPC={hex64}"], "MRPC downloads three files"),
            (["--sha256", f"CoLA={hex64}", "--sha256", f"cola.zip={hex64}"], "given twice"),
            (["--demo", "--no-verify"], "--demo downloads nothing"),
            (["--sha256", f"CoLA={hex64}", "--no-verify"], "contradict"),
            (["--base-url", "ftp://example.org"], "--base-url must be an http(s) URL"),
            (["--retries", "-1"], "argument --retries: must be >= 0, got -1"),
            (["--timeout", "0"], "argument --timeout: must be > 0, got 0")):
        with pytest.raises(SystemExit) as exit_:
            tool.main(["--output", str(tmp_path / "out"), *args])
        assert exit_.value.code == 2
        captured = capsys.readouterr()
        assert captured.out == "" and reason in one_error_line_of(captured.err), (args, captured.err)
    assert list(tmp_path.iterdir()) == []


def one_error_line_of(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]
