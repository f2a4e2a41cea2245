"""tools/download_sst2.py against a local Range-capable HTTP server, and the generated demo set."""
import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
import zipfile
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from test_download_wiki import RangeHandler

from bert import assets
from bert.glue import sst2_demo
from bert.tokenization import Tokenizer

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "download_sst2.py"
GLUE = {"SST-2/train.tsv": "sentence\tlabel\nit 's a charming journey \t1\na dull , lifeless mess \t0\n",
        "SST-2/dev.tsv": "sentence\tlabel\nan utterly gripping film \t1\n",
        "SST-2/test.tsv": "index\tsentence\n0\tsome film\n1\tanother film\n",
        "SST-2/original/README.txt": "the Stanford Sentiment Treebank\n"}

_spec = importlib.util.spec_from_file_location("download_sst2", TOOL)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local server for /SST-2.zip; `serve(members)` puts a zip of {name: text} there → its sha256."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "srv"
    root.mkdir()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    srv.daemon_threads = True
    srv.root, srv.requests, srv.bytes_served = root.resolve(), [], 0
    srv.ignore_range, srv.cut_after, srv.data_path = False, None, "SST-2.zip"
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/SST-2.zip"

    def serve(members: dict[str, str]) -> str:
        with zipfile.ZipFile(root / "SST-2.zip", "w") as z:
            for name, text in members.items():
                z.writestr(name, text)
        return hashlib.sha256((root / "SST-2.zip").read_bytes()).hexdigest()

    srv.serve = serve
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def run(srv, out, *args):
    return tool.main(["--output", str(out), "--url", srv.url, "--timeout", "5", "--retries", "0", *args])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_download_verifies_unpacks_and_reuses_the_zip(server, tmp_path, capsys):
    sha = server.serve(GLUE)
    out = tmp_path / "data" / "SST-2"
    assert run(server, out, "--sha256", sha.upper()) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["dev.tsv", "original", "test.tsv", "train.tsv"]
    for name, text in GLUE.items():
        assert (out / name.removeprefix("SST-2/")).read_text() == text
    assert sorted(p.name for p in out.parent.iterdir()) == ["SST-2", "SST-2.zip"]  # no temporaries left

    (out / "stale.txt").write_text("x")  # a rerun replaces the folder and does not download again
    assert run(server, out, "--sha256", sha) == 0
    assert not (out / "stale.txt").exists() and (out / "train.tsv").read_text() == GLUE["SST-2/train.tsv"]
    assert [rng for rel, rng in server.requests if rel == "SST-2.zip"] == [None]


def test_wrong_sha256_deletes_the_download_and_unpacks_nothing(server, tmp_path, capsys):
    sha = server.serve(GLUE)
    assert run(server, tmp_path / "SST-2", "--sha256", "ab" * 32) == 2
    line = one_error_line(capsys)
    assert "mismatch" in line and "ab" * 32 in line and sha in line
    assert list(tmp_path.iterdir()) == [tmp_path / "srv"]


@pytest.mark.parametrize("evil", ["../evil.txt", "SST-2/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt"])
def test_members_outside_the_folder_are_refused(server, tmp_path, capsys, evil):
    sha = server.serve({**GLUE, evil: "pwned\n"})
    assert run(server, tmp_path / "out" / "SST-2", "--sha256", sha) == 2
    assert repr(evil) in one_error_line(capsys)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["SST-2.zip"]
    assert not list(tmp_path.rglob("evil.txt"))


@pytest.mark.parametrize("members, reason", [
    ({k: v for k, v in GLUE.items() if k != "SST-2/dev.tsv"}, "it has no dev.tsv"),
    ({**GLUE, "SST-2/test.tsv": "sentence\n"}, "test.tsv starts with 'sentence'"),
])
def test_not_glue_layout_is_one_line_error(server, tmp_path, capsys, members, reason):
    sha = server.serve(members)
    out = tmp_path / "out" / "SST-2"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("old")
    assert run(server, out, "--sha256", sha) == 2
    assert reason in one_error_line(capsys)
    assert sorted(p.name for p in out.parent.iterdir()) == ["SST-2", "SST-2.zip"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]  # the old folder is left as it was


def test_no_checksum_prints_sha256_and_stops_then_sha256_reuses_the_zip(server, tmp_path, capsys):
    sha = server.serve(GLUE)
    out = tmp_path / "out" / "SST-2"
    assert run(server, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no --sha256 given") and f"--sha256 {sha}" in err[-1]
    assert sorted(p.name for p in out.parent.iterdir()) == ["SST-2.zip"]

    assert run(server, out, "--sha256", sha) == 0
    assert (out / "dev.tsv").read_text() == GLUE["SST-2/dev.tsv"]
    assert [rng for rel, rng in server.requests if rel == "SST-2.zip"] == [None]


def test_partial_download_is_not_unpacked_and_rerun_resumes(server, tmp_path, capsys):
    sha = server.serve(GLUE)
    server.cut_after = 100
    out = tmp_path / "out" / "SST-2"
    assert run(server, out, "--sha256", sha) == 2
    assert "rerun to resume" in capsys.readouterr().err
    assert sorted(p.name for p in out.parent.iterdir()) == ["SST-2.zip.part"]

    assert run(server, out, "--sha256", sha) == 0
    assert [rng for rel, rng in server.requests if rel == "SST-2.zip"] == [None, "bytes=100-"]
    assert (out / "test.tsv").read_text() == GLUE["SST-2/test.tsv"]


def rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()[1:]]


def test_demo_set_is_balanced_disjoint_deterministic_and_in_vocab(tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert tool.main(["--output", str(one), "--demo"]) == 0 and tool.main(["--output", str(two), "--demo"]) == 0
    names = ["DEMO.txt", "dev.tsv", "test.tsv", "train.tsv"]
    assert sorted(p.name for p in one.iterdir()) == names
    assert all((one / n).read_bytes() == (two / n).read_bytes() for n in names)
    assert (one / "DEMO.txt").read_text().startswith("generated demo set, not SST-2: ")
    assert (one / "train.tsv").read_text().startswith("sentence\tlabel\n")
    assert (one / "test.tsv").read_text().startswith("index\tsentence\n")

    train, dev, test = rows(one / "train.tsv"), rows(one / "dev.tsv"), rows(one / "test.tsv")
    assert (len(train), len(dev), len(test)) == (800, 200, 100)
    for split in (train, dev):
        assert [label for _, label in split].count("1") == len(split) // 2
    assert [int(i) for i, _ in test] == list(range(100))
    sentences = [s for s, _ in train] + [s for s, _ in dev] + [s for _, s in test]
    assert len(set(sentences)) == len(sentences)  # train, dev and test are disjoint

    positive, negative = set(sst2_demo.POSITIVE), set(sst2_demo.NEGATIVE)
    for text, label in train + dev:
        polar = set(text.split()) & (positive | negative)
        assert polar and polar <= (positive if label == "1" else negative), text
    assert sum(len(set(s.split()) & (positive | negative)) == 2 for s in sentences) > 100

    tokenizer = Tokenizer(assets.uncased_vocab())
    words = sorted({w for s in sentences for w in s.split()})
    assert [w for w, ids in zip(words, tokenizer.ids_batch(words)) if tokenizer.unk_id in ids] == []
    assert all(len(ids) == 1 for ids in tokenizer.ids_batch(list(positive | negative)))  # whole words

    other = sst2_demo.write_demo(tmp_path / "seed1", train=9, dev=3, test=2, seed=1)
    assert [len(rows(other / f"{split}.tsv")) for split in ("train", "dev", "test")] == [9, 3, 2]
    assert [label for _, label in rows(other / "train.tsv")].count("1") == 4


def test_cli_help_and_bad_input():
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    ok = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0 and "--sha256" in ok.stdout
    for args in (["--demo", "--no-verify"], ["--sha256", "12"], ["--sha256", "a" * 64, "--no-verify"], []):
        res = subprocess.run([sys.executable, str(TOOL), *args, *(["--output", "x"] if args else [])],
                             capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
        assert res.returncode == 2 and res.stdout == ""
        assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: "), res.stderr
