"""The trajectory file: durable lines, torn-line tolerance, a clear error on a full disk."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness.errors import HarnessError
from harness.run.trajectory import Recorder, read_records


def test_lines_are_readable_while_and_after_writing(tmp_path):
    path = tmp_path / "trajectory.jsonl"
    with Recorder(path) as recorder:
        recorder.write("start", task="t")
        recorder.write("step", n=1, observation="é\x00\udcff")  # odd text survives as JSON
        assert [r["kind"] for r in read_records(path)] == ["start", "step"]
        recorder.flush()
    assert [r["kind"] for r in read_records(tmp_path)] == ["start", "step"]


def test_a_torn_last_line_is_skipped_but_a_torn_middle_is_an_error(tmp_path):
    path = tmp_path / "trajectory.jsonl"
    with Recorder(path) as recorder:
        recorder.write("start")
        recorder.write("step", n=1)
    with open(path, "a") as handle:
        handle.write('{"kind": "step", "n": 2, "obse')
    assert [r.get("n") for r in read_records(path)] == [None, 1]
    with open(path, "a") as handle:
        handle.write("\n" + '{"kind": "end"}\n')
    with pytest.raises(HarnessError, match="corrupted"):
        list(read_records(path))


def test_disk_full_gives_a_clear_error_and_keeps_the_file_readable(tmp_path):
    # A file-size limit makes the kernel refuse writes past 20 kB, as a full disk would.
    script = textwrap.dedent(f"""
        import resource, signal
        from harness.run.trajectory import Recorder, RecordError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        recorder = Recorder({str(tmp_path / "trajectory.jsonl")!r})
        try:
            for n in range(100):
                recorder.write("step", n=n, observation="x" * 3000)
        except RecordError as err:
            print(err)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stderr == ""
    assert "cannot write" in out.stdout and "intact" in out.stdout
    steps = [r["n"] for r in read_records(tmp_path)]
    assert steps == list(range(len(steps))) and 3 <= len(steps) < 10
    assert (tmp_path / "trajectory.jsonl").read_bytes().endswith(b"\n")
