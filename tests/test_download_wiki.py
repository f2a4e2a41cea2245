"""tools/download_wiki.py against a local Range-capable HTTP server serving gensim's real enwiki sample."""
import hashlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bert import assets

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "download_wiki.py"
DATE = "20990101"
NAME = f"enwiki-{DATE}-pages-articles1.xml-p1p30302.bz2"

_spec = importlib.util.spec_from_file_location("download_wiki", TOOL)
dw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dw)


class RangeHandler(BaseHTTPRequestHandler):
    """GET files under server.root with `Range: bytes=N-` support (206 + Content-Range, 416 past the end).

    Server switches: ignore_range (answer 200 with the whole file), cut_after (send that many body
    bytes of the dump file once, then drop the connection). bytes_served counts dump-file body bytes.
    """

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        srv = self.server
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        rng = self.headers.get("Range")
        srv.requests.append((rel, rng))
        path = (srv.root / rel).resolve()
        if srv.root not in path.parents or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if match and not srv.ignore_range:
            start = int(match[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after is not None and rel == srv.data_path:  # drop the connection once, mid-body
            body, srv.cut_after = body[:srv.cut_after], None
            self.wfile.write(body)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.wfile.write(body)
        if rel == srv.data_path:
            srv.bytes_served += len(body)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local dump mirror: /enwiki/<DATE>/<NAME> (the gensim sample) + its sha1sums and md5sums."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "mirror"
    folder = root / "enwiki" / DATE
    folder.mkdir(parents=True)
    shutil.copyfile(assets.enwiki_sample(), folder / NAME)
    data = (folder / NAME).read_bytes()
    other = "0" * 40 + f"  enwiki-{DATE}-pages-articles2.xml-p30303p88444.bz2\n"
    (folder / f"enwiki-{DATE}-sha1sums.txt").write_text(other + f"{hashlib.sha1(data).hexdigest()}  {NAME}\n")
    (folder / f"enwiki-{DATE}-md5sums.txt").write_text(f"{hashlib.md5(data).hexdigest()}  {NAME}\n")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    srv.daemon_threads = True
    srv.root, srv.data = root.resolve(), data
    srv.requests, srv.bytes_served = [], 0
    srv.ignore_range, srv.cut_after, srv.data_path = False, None, f"enwiki/{DATE}/{NAME}"
    srv.mirror = f"http://127.0.0.1:{srv.server_address[1]}"
    srv.url = f"{srv.mirror}/enwiki/{DATE}/{NAME}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def fetch(srv, out, **kw):
    kw.setdefault("timeout", 5)
    kw.setdefault("backoff", 0)
    kw.setdefault("progress", False)
    return dw.download(srv.url, out, **kw)


def data_requests(srv):
    return [rng for rel, rng in srv.requests if rel == srv.data_path]


def test_full_download_verifies_and_lands_under_final_name(server, tmp_path):
    out = tmp_path / "out"
    path = fetch(server, out)
    assert path == out / NAME
    assert path.read_bytes() == server.data
    assert sorted(p.name for p in out.iterdir()) == [NAME]
    assert data_requests(server) == [None]
    assert (f"enwiki/{DATE}/enwiki-{DATE}-sha1sums.txt", None) in server.requests


def test_interrupted_download_leaves_part_and_rerun_resumes(server, tmp_path):
    out = tmp_path / "out"
    server.cut_after = 600_000
    with pytest.raises(dw.DownloadError, match="rerun to resume"):
        fetch(server, out, retries=0)
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}.part"]
    have = (out / f"{NAME}.part").stat().st_size
    assert 0 < have < len(server.data)

    path = fetch(server, out, retries=0)
    assert data_requests(server) == [None, f"bytes={have}-"]
    assert server.bytes_served < 2 * len(server.data)
    assert path.read_bytes() == server.data
    assert sorted(p.name for p in out.iterdir()) == [NAME]


def test_retry_within_one_call_continues_where_it_stopped(server, tmp_path):
    server.cut_after = 400_000
    path = fetch(server, tmp_path, retries=2)
    assert data_requests(server) == [None, "bytes=400000-"]
    assert path.read_bytes() == server.data


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    (tmp_path / f"{NAME}.part").write_bytes(b"x" * 300_000)  # junk: must be thrown away, not appended to
    server.ignore_range = True
    path = fetch(server, tmp_path)
    assert data_requests(server) == ["bytes=300000-"]
    assert path.read_bytes() == server.data
    assert not (tmp_path / f"{NAME}.part").exists()


def test_complete_part_answered_416_is_verified_and_renamed(server, tmp_path):
    (tmp_path / f"{NAME}.part").write_bytes(server.data)
    path = fetch(server, tmp_path)
    assert data_requests(server) == [f"bytes={len(server.data)}-"]
    assert server.bytes_served == 0 and path.read_bytes() == server.data


def test_md5sums_used_when_sha1sums_is_missing(server, tmp_path):
    (server.root / "enwiki" / DATE / f"enwiki-{DATE}-sha1sums.txt").unlink()
    assert dw.expected_checksum(server.url)[:2] == ("md5", hashlib.md5(server.data).hexdigest())
    assert fetch(server, tmp_path).read_bytes() == server.data


def test_file_not_in_sums_list_is_a_clear_error(server, tmp_path):
    sums = server.root / "enwiki" / DATE / f"enwiki-{DATE}-sha1sums.txt"
    sums.write_text("\n".join(line for line in sums.read_text().splitlines() if NAME not in line) + "\n")
    with pytest.raises(dw.DownloadError, match=rf"{re.escape(NAME)} is not listed in .*sha1sums\.txt"):
        fetch(server, tmp_path / "out")
    assert data_requests(server) == [] and not (tmp_path / "out").exists()


def test_existing_verified_file_is_not_downloaded_again(server, tmp_path, capsys):
    (tmp_path / NAME).write_bytes(server.data)
    assert fetch(server, tmp_path) == tmp_path / NAME
    assert data_requests(server) == []
    assert "already exists and its sha1 matches" in capsys.readouterr().err


def test_existing_corrupt_file_is_refused_not_overwritten(server, tmp_path):
    (tmp_path / NAME).write_bytes(server.data[:-1])
    with pytest.raises(dw.DownloadError, match="already exists but its sha1 is"):
        fetch(server, tmp_path)
    assert (tmp_path / NAME).stat().st_size == len(server.data) - 1 and data_requests(server) == []


def test_dump_url_and_checksum_urls():
    url = dw.dump_url("20261101", "pages-articles1.xml-p1p41242.bz2")
    assert url == "https://dumps.wikimedia.org/enwiki/20261101/enwiki-20261101-pages-articles1.xml-p1p41242.bz2"
    assert dw.dump_url("20261101", "enwiki-20261101-pages-articles.xml.bz2", "http://m/x/") == \
        "http://m/x/enwiki/20261101/enwiki-20261101-pages-articles.xml.bz2"
    assert dw.checksum_urls(url) == ["https://dumps.wikimedia.org/enwiki/20261101/enwiki-20261101-sha1sums.txt",
                                     "https://dumps.wikimedia.org/enwiki/20261101/enwiki-20261101-md5sums.txt"]
    with pytest.raises(dw.DownloadError, match="YYYYMMDD"):
        dw.dump_url("2026-11-01", "pages-articles.xml.bz2")


def run_cli(*args):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_cli_success_checksum_mismatch_and_bad_input(server, tmp_path):
    out = tmp_path / "out"
    ok = run_cli("--dump-date", DATE, "--part", NAME.removeprefix(f"enwiki-{DATE}-"), "--mirror", server.mirror,
                 "--output", str(out), "--timeout", "5")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == str(out / NAME) and (out / NAME).read_bytes() == server.data

    bad = tmp_path / "bad-sha1sums.txt"
    bad.write_text(f"{'ab' * 20}  {NAME}\n")
    out2 = tmp_path / "out2"
    res = run_cli("--url", server.url, "--output", str(out2), "--checksum-url", str(bad), "--retries", "0")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "ab" * 20 in lines[0] and hashlib.sha1(server.data).hexdigest() in lines[0]
    assert list(out2.iterdir()) == []

    res = run_cli("--url", server.url, "--dump-date", DATE, "--output", str(out2))
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: ")
