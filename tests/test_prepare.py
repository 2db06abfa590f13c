"""`harness task prepare`: downloads checked by sha256, resumed after a cut, `--from`,
nothing half-installed, one line when offline; `harness tasks` status; the answers
of prepared data reach the scorer but never the agent's workspace.

A real HTTP server on 127.0.0.1 serves the files; the task is a small one written
into a temporary directory.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import socket
import tarfile
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.errors import DataError
from harness.task.prepare import data_root, find_prepared, prepare, require_prepared
from harness.task.spec import Task
from harness.task.status import task_status

# 400 000 lines "i,label": about 3.5 MB, so a download takes many chunks.
FULL = "".join(f"{i},{i % 3}\n" for i in range(400_000)).encode()
TINY = "".join(f"{i},{i % 3}\n" for i in range(40)).encode()

PREPARE = '''\
"""Split numbers.txt: train.txt (labelled), test.txt (no labels), answers.txt (hidden)."""
import os
import sys
from pathlib import Path

source, out = Path(sys.argv[1]), Path(sys.argv[2])
if os.environ.get("FAIL_PREPARE"):
    sys.exit("cannot parse numbers.txt")
rows = source.joinpath("numbers.txt").read_text().split()
half = len(rows) // 2
out.joinpath("train.txt").write_text("\\n".join(rows[:half]) + "\\n")
out.joinpath("public").mkdir()
out.joinpath("public/test.txt").write_text("\\n".join(r.split(",")[0] for r in rows[half:]) + "\\n")
out.joinpath("answers.txt").write_text("\\n".join(rows[half:]) + "\\n")
print("set", os.environ["HARNESS_DATA_SET"])
'''

BASELINE = '''\
rows = open("data/public/test.txt").read().split()
with open("submission.txt", "w") as out:
    out.write("\\n".join(f"{r},0" for r in rows) + "\\n")
'''

SCORE = '''\
from harness_scoring import SubmissionError, run, task_data

def score(submission_dir):
    answers = (task_data() / "answers.txt").read_text().split()
    path = submission_dir / "submission.txt"
    if not path.exists():
        raise SubmissionError("submission.txt not found")
    guessed = path.read_text().split()
    right = sum(a == g for a, g in zip(answers, guessed))
    return {"accuracy": right / len(answers)}

if __name__ == "__main__":
    run(score)
'''


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileServer:
    """http.server in a thread: serves ``files``, honours ``Range: bytes=N-``, and
    cuts the first ``cut`` responses after half their body."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut = 0
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                start = int(rng.split("=")[1].rstrip("-")) if rng else 0
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                part = body[start:]
                if server.cut > 0:
                    server.cut -= 1
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FileServer()
    srv.files["numbers.txt"] = FULL
    yield srv
    srv.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_task(root: Path, url: str, *, task_id: str = "toy") -> Task:
    """A task whose data is numbers.txt, served at ``url``; tiny is a stand-in set."""
    directory = root / task_id
    (directory / "workspace").mkdir(parents=True)
    (directory / "scoring").mkdir()
    (directory / "workspace" / "baseline.py").write_text(BASELINE)
    (directory / "scoring" / "score.py").write_text(SCORE)
    (directory / "prepare.py").write_text(PREPARE)
    spec = {
        "id": task_id,
        "name": "Toy",
        "description": "Guess the labels of data/public/test.txt.",
        "metrics": [{"name": "accuracy", "direction": "maximize"}],
        "baseline": {"accuracy": 0.5},
        "baseline_source": "published",
        "submission": ["submission.txt"],
        "readonly": ["data"],
        "data": {
            "prepare": "prepare.py",
            "public": ["train.txt", "public"],
            "sets": [
                {
                    "name": "full",
                    "files": [
                        {"name": "numbers.txt", "sha256": _sha(FULL), "size": len(FULL),
                         "urls": [url]}
                    ],
                },
                {
                    "name": "tiny",
                    "about": "40 lines for tests",
                    "files": [{"name": "numbers.txt", "sha256": _sha(TINY), "size": len(TINY)}],
                    "baseline": {"accuracy": 0.35},
                },
            ],
        },
    }
    (directory / "task.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return Task.load(directory)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "harness-data"
    monkeypatch.setenv("HARNESS_DATA_DIR", str(path))
    return path


def _installed(task) -> list[str]:
    root = data_root(task)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".lock")


# -- downloading ------------------------------------------------------------------------------


def test_download_verifies_and_installs_where_the_workspace_sees_only_public_data(
    tmp_path, data_dir, server
):
    task = make_task(tmp_path / "tasks", f"{server.url}/numbers.txt")
    assert task_status(task, gpus=0).state == "needs prepare"
    prepared = prepare(task)
    assert prepared.set_name == "full"
    assert prepared.path == data_dir / "tasks" / "toy" / "prepared"
    assert (data_root(task) / "downloads" / "numbers.txt").read_bytes() == FULL
    assert not list(data_root(task).rglob("*.part"))
    assert task_status(task, gpus=0).state == "ready"

    ws = tmp_path / "ws"
    task.make_workspace(ws)
    assert (ws / "data" / "train.txt").is_file() and (ws / "data" / "public" / "test.txt").is_file()
    assert not list(ws.rglob("answers.txt"))

    again = prepare(task)  # already there: no network needed
    assert again.info == prepared.info and len(server.requests) == 1


def test_a_cut_connection_resumes_with_a_range_request(tmp_path, data_dir, server):
    server.cut = 1
    task = make_task(tmp_path / "tasks", f"{server.url}/numbers.txt")
    prepare(task)
    assert (data_root(task) / "downloads" / "numbers.txt").read_bytes() == FULL
    (first, no_range), (_, resumed) = server.requests
    assert no_range is None
    assert resumed.startswith("bytes=") and int(resumed[6:-1]) > 0


def test_an_interrupted_prepare_keeps_its_bytes_and_the_next_run_resumes(
    tmp_path, data_dir, server
):
    server.cut = 100
    task = make_task(tmp_path / "tasks", f"{server.url}/numbers.txt")
    with pytest.raises(DataError, match="connection dropped.*next attempt resumes"):
        prepare(task)
    part = data_root(task) / "downloads" / "numbers.txt.part"
    kept = part.stat().st_size
    assert 0 < kept < len(FULL) and find_prepared(task) is None
    server.cut, server.requests = 0, []
    prepare(task)
    assert server.requests == [("/numbers.txt", f"bytes={kept}-")]
    assert (data_root(task) / "downloads" / "numbers.txt").read_bytes() == FULL


def test_a_bad_checksum_is_one_clear_error_and_installs_nothing(tmp_path, data_dir, server):
    server.files["numbers.txt"] = FULL.replace(b"7,1", b"7,2", 1)
    task = make_task(tmp_path / "tasks", f"{server.url}/numbers.txt")
    result = CliRunner().invoke(main, ["task", "prepare", str(task.dir)])
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: could not download numbers.txt from http://127.0.0.1:")
    assert "sha256" in line and "is not the expected" in line and "--from PATH" in line
    assert _installed(task) == ["downloads"]  # no .part, no file, nothing prepared
    assert task_status(task, gpus=0).state == "needs prepare"


def test_offline_is_one_line_naming_the_url_and_from(tmp_path, data_dir):
    url = f"http://127.0.0.1:{_free_port()}/numbers.txt"
    task = make_task(tmp_path / "tasks", url)
    result = CliRunner().invoke(main, ["task", "prepare", str(task.dir)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"error: cannot download numbers.txt from {url}: ")
    assert "refused" in result.output.lower()
    assert "harness task prepare toy --from PATH" in result.output


# -- --from PATH --------------------------------------------------------------------------------


def test_from_a_directory_an_archive_or_the_file_itself(tmp_path, data_dir):
    task = make_task(tmp_path / "tasks", "http://127.0.0.1:9/never-used")
    have = tmp_path / "have" / "nested"
    have.mkdir(parents=True)
    (have / "numbers.txt").write_bytes(FULL)
    assert prepare(task, tmp_path / "have").set_name == "full"

    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("somewhere/numbers.txt")
        info.size = len(TINY)
        tar.addfile(info, io.BytesIO(TINY))
    prepared = prepare(task, archive)  # matched by checksum: the tiny set
    assert prepared.set_name == "tiny" and prepared.info["source"] == str(archive)
    assert task_status(task, gpus=0).notes == ["tiny data"]

    single = tmp_path / "numbers.txt"
    single.write_bytes(FULL)
    assert prepare(task, single).set_name == "full"
    assert not [p for p in data_root(task).iterdir() if p.name.startswith(".tmp-")]


def test_from_with_the_wrong_files_names_them_and_keeps_what_was_prepared(tmp_path, data_dir):
    task = make_task(tmp_path / "tasks", "http://127.0.0.1:9/never-used")
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "numbers.txt").write_bytes(TINY)
    prepare(task, tmp_path / "tiny")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "numbers.txt").write_bytes(b"1,2\n")
    runner = CliRunner()
    result = runner.invoke(main, ["task", "prepare", str(task.dir), "--from", str(tmp_path / "bad")])
    assert result.exit_code == 2
    assert "does not hold the files of task toy's data set" in result.output
    assert "numbers.txt has sha256" in result.output and "nothing was installed" in result.output
    result = runner.invoke(main, ["task", "prepare", str(task.dir), "--from", str(tmp_path / "no")])
    assert result.output.strip().endswith("no: no such file or directory")
    archive = tmp_path / "cut.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "tiny" / "numbers.txt", "numbers.txt")
    archive.write_bytes(archive.read_bytes()[:40])
    result = runner.invoke(main, ["task", "prepare", str(task.dir), "--from", str(archive)])
    assert result.exit_code == 2 and "cut.tar.gz: cannot read the archive" in result.output
    assert find_prepared(task).set_name == "tiny"  # untouched


def test_a_failing_prepare_script_installs_nothing(tmp_path, data_dir, monkeypatch):
    task = make_task(tmp_path / "tasks", "http://127.0.0.1:9/never-used")
    (tmp_path / "numbers.txt").write_bytes(TINY)
    monkeypatch.setenv("FAIL_PREPARE", "1")
    with pytest.raises(DataError, match="prepare.py failed .*cannot parse numbers.txt.*nothing"):
        prepare(task, tmp_path / "numbers.txt")
    assert find_prepared(task) is None
    assert [p.name for p in data_root(task).iterdir()] == [".lock"]


def test_changing_the_prepare_script_asks_for_a_new_prepare(tmp_path, data_dir):
    task = make_task(tmp_path / "tasks", "http://127.0.0.1:9/never-used")
    (tmp_path / "numbers.txt").write_bytes(TINY)
    prepare(task, tmp_path / "numbers.txt")
    (task.dir / "prepare.py").write_text(PREPARE + "\n# changed\n")
    status = task_status(task, gpus=0)
    assert status.state == "needs prepare" and "older version" in status.notes[0]
    with pytest.raises(DataError, match="prepared for an older version.*harness task prepare toy"):
        require_prepared(task)


# -- status, workspaces, checks -------------------------------------------------------------------


def test_tasks_lists_each_tasks_status(tmp_path, data_dir, monkeypatch):
    make_task(tmp_path / "tasks", "http://127.0.0.1:9/x")
    gpu = make_task(tmp_path / "tasks", "http://127.0.0.1:9/x", task_id="big")
    spec = yaml.safe_load((gpu.dir / "task.yaml").read_text())
    spec["needs"] = {"gpus": 8}
    (gpu.dir / "task.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    rows = {
        r["id"]: r
        for r in map(json.loads, runner.invoke(main, ["tasks", "--json"]).output.splitlines())
    }
    assert rows["toy"]["status"] == "needs prepare" and rows["big"]["status"] == "needs GPU"
    assert rows["house_price"]["status"] == "ready" and rows["house_price"]["data_set"] is None
    assert rows["toy"]["status_notes"] == ["download 3.5 MB"]
    (tmp_path / "numbers.txt").write_bytes(TINY)
    assert runner.invoke(main, ["task", "prepare", "toy", "--from", "numbers.txt"]).exit_code == 0
    table = runner.invoke(main, ["tasks"]).output
    toy = next(line for line in table.splitlines() if line.startswith("toy "))
    assert toy.split()[-3:] == ["ready", "(tiny", "data)"]
    assert "0.5*" in toy and "* published baseline" in table


def test_check_says_how_to_prepare_and_passes_on_prepared_data(tmp_path, data_dir):
    task = make_task(tmp_path / "tasks", "http://127.0.0.1:9/x")
    runner = CliRunner()
    result = runner.invoke(main, ["task", "check", str(task.dir)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: task toy: its data is not prepared: run `harness task prepare toy`, downloads "
        "3.5 MB (or `--from PATH` if you already have the files)"
    )
    (tmp_path / "numbers.txt").write_bytes(TINY)
    prepare(task, tmp_path / "numbers.txt")
    result = runner.invoke(main, ["task", "check", str(task.dir)])
    assert result.exit_code == 0, result.output
    assert "data set: tiny" in result.output
    assert "runs on its 'tiny' data set, not the benchmark's 'full'" in result.output
    assert "accuracy: 0.35 (recorded 0.35) ok" in result.output  # the tiny set's baseline

    shutil.rmtree(data_root(task) / "prepared")
    with pytest.raises(DataError, match="run `harness task prepare toy`"):
        task.make_workspace(tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_a_data_section_is_validated(tmp_path):
    task = make_task(tmp_path / "tasks", "http://127.0.0.1:9/x")
    spec = task.dir / "task.yaml"
    text = spec.read_text()
    spec.write_text(text.replace("prepare: prepare.py", "prepare: missing.py"))
    with pytest.raises(Exception, match="'data.prepare': 'missing.py' is not in"):
        Task.load(task.dir)
    spec.write_text(text.replace(_sha(TINY), "abc"))
    with pytest.raises(Exception, match=r"data.sets\[1\].files\[0\].sha256"):
        Task.load(task.dir)
    spec.write_text(text)
    (task.dir / "data").mkdir()
    with pytest.raises(Exception, match="both data/ and a 'data:' section"):
        Task.load(task.dir)


def test_read_only_prepared_data_is_linked_into_workspaces_not_copied(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    repo = Path(__file__).resolve().parent.parent
    task = Task.load(repo / "tasks" / "fashion_mnist")
    prepared = prepare(task, repo / "tasks" / "fashion_mnist" / "tiny")
    task.make_workspace(tmp_path / "ws")
    linked = [p for p in (tmp_path / "ws" / "data").rglob("*") if p.is_file()]
    assert linked and all(p.stat().st_nlink >= 2 and not p.is_symlink() for p in linked)
    modes = {p: p.stat().st_mode for p in (repo / "tasks" / "fashion_mnist" / "tiny").iterdir()}
    task.make_workspace(tmp_path / "ws2")  # the shared files' modes are left alone
    assert modes == {p: p.stat().st_mode for p in modes}
    assert not (tmp_path / "ws" / "data" / "test_labels.npy").exists()
    assert prepared.path.is_dir()


def test_a_file_without_a_published_checksum_is_trusted_once_and_its_sha256_recorded(
    tmp_path, data_dir, server
):
    task_dir = make_task(tmp_path / "tasks", f"{server.url}/numbers.txt").dir
    spec = yaml.safe_load((task_dir / "task.yaml").read_text())
    del spec["data"]["sets"][0]["files"][0]["sha256"]
    (task_dir / "task.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    task = Task.load(task_dir)
    said: list[str] = []
    prepared = prepare(task, say=said.append)
    assert prepared.info["files"] == {"numbers.txt": _sha(FULL)}
    assert prepared.info["unverified"] == ["numbers.txt"]
    assert any(_sha(FULL) in line and "no published sha256" in line for line in said)
    source = tmp_path / "mine"
    source.mkdir()
    (source / "numbers.txt").write_bytes(FULL)
    assert prepare(task, source, say=said.append).info["files"] == {"numbers.txt": _sha(FULL)}
