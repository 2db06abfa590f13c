"""The memory: the agent's notebook across episodes of one task (memory_write / memory_read)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from aci import ToolContext, ToolRegistry, execute
from harness.errors import HarnessError
from harness.run.memory import Memory, MemoryEntryTooLarge, default_path
from harness.sandbox import WorkspaceFiles
from harness.tokens import count_tokens

REPO = Path(__file__).resolve().parent.parent


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def memory(tmp_path):
    with Memory(tmp_path / "memory.sqlite", task_id="house_price", metric="r2") as store:
        yield store


def test_read_returns_the_most_relevant_entries_first(memory):
    memory.write("Ridge regression with alpha 10 on one-hot features", step=1)
    memory.write("The learning rate matters: learning rate 0.05 beat learning rate 0.3", step=2)
    memory.write("Gradient boosting with a small learning rate and 600 trees", step=3)
    memory.write("Log-transforming SalePrice gives r2 0.91", step=4)
    found = memory.search("learning rate")
    assert [e.step for e in found] == [2, 3]  # most mentions first; unrelated entries left out
    text = memory.read("learning rate")
    assert text.index("beat learning rate") < text.index("600 trees")
    assert "Ridge" not in text and "SalePrice" not in text


def test_ties_are_broken_by_recency(memory):
    for step in (1, 2, 3):
        memory.add("feature engineering: total square footage helps", step=step)
    assert [e.step for e in memory.search("square footage")] == [3, 2, 1]


def test_read_is_capped_in_tokens(tmp_path):
    store = Memory(tmp_path / "m.sqlite", read_tokens=300, read_limit=50)
    for i in range(20):
        store.write(f"note {i}: the validation score improved with feature set {i}. " * 6)
    text = store.read("validation score")
    assert count_tokens(text) <= 300
    assert "more entries left out" in text
    assert "note 19" in text  # equally relevant: the newest first


def test_queries_in_fts_syntax_are_searched_as_words(memory):
    memory.write('use "quotes" AND col:umn NEAR(x) stars*')
    for query in ['AND OR NOT', '"NEAR( col:umn', 'stars*', "-- ; DROP TABLE entries"]:
        assert not memory.read(query).startswith("Error"), query
    assert "quotes" in memory.read('"quotes"')
    assert memory.count() == 1


def test_entries_record_episode_step_time_and_best_score(tmp_path):
    store = Memory.for_task("house_price", path=tmp_path / "m.sqlite")
    best = {"r2": None}
    episode = store.for_episode("run-7", best_score=lambda: best["r2"], metric="r2")
    before = time.time()
    episode.write("baseline reproduced", step=2)
    best["r2"] = 0.91
    observation = episode.write("log target helps", step=9)
    assert "Saved to memory as entry #2" in observation
    first, second = store.entries()
    assert (first.episode, first.step, first.best_score) == ("run-7", 2, None)
    assert (second.episode, second.step, second.best_score, second.metric) == ("run-7", 9, 0.91, "r2")
    assert before <= first.created <= second.created <= time.time()
    assert "episode run-7, step 9" in episode.read("log target") and "best r2 0.91" in episode.read("log")


def test_entries_over_the_size_limit_are_refused(memory):
    observation = memory.write("x" * (memory.max_chars + 1), step=3)
    assert observation.startswith("Error: ") and f"limited to {memory.max_chars}" in observation
    assert "shorter summary" in observation
    assert memory.count() == 0
    with pytest.raises(MemoryEntryTooLarge) as err:
        memory.add("y" * (memory.max_chars + 1))
    assert isinstance(err.value, HarnessError)
    assert memory.write("x" * memory.max_chars).startswith("Saved")


def test_memory_tools_go_through_the_aci(tmp_path, memory):
    ctx = ToolContext(files=WorkspaceFiles(tmp_path), memory=memory, step=4)
    registry = ToolRegistry.load()
    assert "Saved to memory" in execute(registry, "memory_write lightgbm beats xgboost here", ctx).observation
    assert "lightgbm beats xgboost" in execute(registry, "memory_read lightgbm", ctx).observation
    assert memory.entries()[0].step == 4


def test_entries_persist_across_processes(tmp_path):
    path = tmp_path / "m.sqlite"
    writer = _python("""
        import sys
        from harness.run.memory import Memory
        Memory(sys.argv[1], episode="other-process").write("written by another process", step=1)
    """, str(path))
    assert writer.wait(30) == 0, writer.stderr.read()
    store = Memory(path)
    assert store.entries()[0].episode == "other-process"
    store.write("written by the test")
    store.close()
    reader = _python("""
        import sys
        from harness.run.memory import Memory
        print(Memory(sys.argv[1]).read("written"))
    """, str(path))
    out, err = reader.communicate(timeout=30)
    assert "written by the test" in out and "written by another process" in out, err


def test_two_writers_at_once(tmp_path):
    path = tmp_path / "m.sqlite"
    code = """
        import sys
        from harness.run.memory import Memory
        memory = Memory(sys.argv[1], episode=sys.argv[2])
        for i in range(100):
            out = memory.write(f"finding {i} of {sys.argv[2]}", step=i)
            assert out.startswith("Saved"), out
    """
    writers = [_python(code, str(path), name) for name in ("alpha", "beta")]  # fresh file: both create it
    for writer in writers:
        assert writer.wait(60) == 0, writer.stderr.read()
    store = Memory(path)
    entries = store.entries()
    assert len(entries) == 200 and len({e.text for e in entries}) == 200
    assert {e.episode for e in entries} == {"alpha", "beta"}
    store.check()
    assert len(store.search("beta", limit=500)) == 100


def test_kill_9_mid_write_leaves_a_whole_database(tmp_path):
    path = tmp_path / "m.sqlite"
    writer = _python("""
        import sys
        from harness.run.memory import Memory
        memory = Memory(sys.argv[1])
        i = 0
        while True:
            memory.write(f"entry {i} " + "complete " * 50)
            i += 1
    """, str(path))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not path.exists() or Memory(path).count() < 20):
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(10)
    store = Memory(path)
    store.check()  # integrity and the search index
    entries = store.entries()
    assert len(entries) >= 20
    assert all(e.text.endswith("complete") and e.text.count("complete") == 50 for e in entries)
    assert len(store.search("complete", limit=10_000)) == len(entries)
    assert store.write("after the crash").startswith("Saved")


def test_memory_lives_under_the_data_directory_and_is_created_on_first_write(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    store = Memory.for_task("house_price")
    assert store.path == default_path("house_price") == tmp_path / "data" / "memory" / "house_price.sqlite"
    assert store.read("anything").startswith("No memory entries")
    assert not store.path.exists()
    store.write("first")
    assert store.path.exists()


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "m.sqlite"
    path.write_text("not sqlite " * 200)
    store = Memory(path)
    assert "not a usable memory database" in store.write("note")
    with pytest.raises(HarnessError, match="--memory"):
        store.add("note")


def test_cli_show_search_add_clear(tmp_path, monkeypatch):
    from harness.cli import main

    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(main, ["memory", "show", "house_price"])
    assert result.exit_code == 2 and "no memory for task house_price" in result.output
    store = Memory.for_task("house_price").for_episode("run-1", best_score=0.9, metric="r2")
    store.write("log target helps", step=3)
    store.write("ridge alpha 10", step=5)
    result = runner.invoke(main, ["memory", "show", str(REPO / "tasks" / "house_price")])
    assert result.exit_code == 0, result.output
    assert "log target helps" in result.output and "episode run-1, step 5" in result.output
    result = runner.invoke(main, ["memory", "search", "house_price", "ridge"])
    assert "ridge alpha 10" in result.output and "log target" not in result.output
    result = runner.invoke(main, ["memory", "add", "house_price", "x" * 5000])
    assert result.exit_code == 2 and "limited to 4000" in result.output
    assert runner.invoke(main, ["memory", "add", "house_price", "try", "lightgbm"]).exit_code == 0
    result = runner.invoke(main, ["memory", "clear", "house_price"], input="n\n")
    assert result.exit_code != 0 and Memory.for_task("house_price").count() == 3
    result = runner.invoke(main, ["memory", "clear", "house_price", "--yes"])
    assert "deleted 3 entries" in result.output
    assert Memory.for_task("house_price").count() == 0
