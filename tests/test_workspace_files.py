"""Host-side file access to a workspace: symlinks, races, FIFOs and huge files."""

from __future__ import annotations

import os
import threading
import time

import pytest

from harness.errors import PathEscapeError
from harness.sandbox.files import (
    MAX_READ_BYTES,
    FileTooLargeError,
    NotRegularFileError,
    WorkspaceFiles,
)


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "secret.txt").write_text("host secret")
    return WorkspaceFiles(tmp_path / "ws")


def test_symlinks_out_of_the_workspace_are_refused(files, tmp_path):
    (files.root / "out").symlink_to(tmp_path / "secret.txt")
    (files.root / "up").symlink_to(tmp_path)
    (files.root / "fine").symlink_to("data.txt")
    (files.root / "data.txt").write_text("inside")
    for path in ("out", "up/secret.txt", "../secret.txt", "/etc/passwd"):
        with pytest.raises(PathEscapeError):
            files.read_text(path)
    with pytest.raises(PathEscapeError):
        files.write_text("up/secret.txt", "overwritten")
    assert files.read_text("fine") == "inside"  # a symlink inside the workspace is followed
    assert (tmp_path / "secret.txt").read_text() == "host secret"


def test_a_symlink_swapped_in_after_the_check_is_not_followed(files, tmp_path):
    (files.root / "victim.txt").write_text("inside")
    assert files.locate("victim.txt") == "victim.txt"
    (files.root / "victim.txt").unlink()
    (files.root / "victim.txt").symlink_to(tmp_path / "secret.txt")  # the race, won
    with pytest.raises(PathEscapeError):
        files.read_text("victim.txt")
    (files.root / "sub").mkdir()
    assert files.locate("sub/x.txt") == "sub/x.txt"
    (files.root / "sub").rmdir()
    (files.root / "sub").symlink_to(tmp_path)  # a parent directory swapped for a symlink
    with pytest.raises(PathEscapeError):
        files.write_text("sub/x.txt", "escaped")
    assert not (tmp_path / "x.txt").exists()


def test_a_racing_swapper_never_leaks_the_host_file(files, tmp_path):
    """A background process flips a checked directory with a symlink to the host."""
    real, parked = files.root / "dir", files.root / "parked"
    real.mkdir()
    (real / "secret.txt").write_text("inside")
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            real.rename(parked)
            real.symlink_to(tmp_path)
            real.unlink()
            parked.rename(real)

    swapper = threading.Thread(target=swap)
    swapper.start()
    seen, trials, deadline = set(), 0, time.monotonic() + 20
    try:  # on a loaded machine the swapper can starve the reader of the real directory
        while trials < 3000 or ("inside" not in seen and time.monotonic() < deadline):
            trials += 1
            try:
                seen.add(files.read_text("dir/secret.txt"))
            except (PathEscapeError, OSError) as err:
                seen.add(type(err).__name__)
    finally:
        stop.set()
        swapper.join()
    assert "inside" in seen and "host secret" not in seen


def test_fifos_and_huge_files_are_refused_without_hanging(files):
    os.mkfifo(files.root / "pipe")
    with pytest.raises(NotRegularFileError, match="is a FIFO"):
        files.read_text("pipe")
    with open(files.root / "huge.bin", "wb") as handle:
        handle.truncate(MAX_READ_BYTES + 1)
    with pytest.raises(FileTooLargeError, match="too large"):
        files.read_text("huge.bin")


def test_symlinks_inside_are_resolved_by_the_walker_and_a_missing_tail_kept(files):
    (files.root / "a" / "b").mkdir(parents=True)
    (files.root / "lnk").symlink_to("a/b")
    (files.root / "abs").symlink_to("/home/agent/workspace/a")  # as made inside the sandbox
    (files.root / "loop").symlink_to("loop")
    assert files.locate("lnk/new.txt") == "a/b/new.txt"
    assert files.locate("/home/agent/workspace/abs/b/../x") == "a/x"
    assert files.locate("missing/../y") == "y"
    with pytest.raises(PathEscapeError, match="too many symlinks"):
        files.locate("loop/x")
    files.write_text("lnk/new.txt", "hi")
    assert (files.root / "a" / "b" / "new.txt").read_text() == "hi"
    assert files.kind("abs") == "dir" and files.kind("lnk/new.txt") == "file"


def test_copy_out_copies_a_tree_and_refuses_what_is_not_a_regular_file(files, tmp_path):
    tree = files.root / "sub"
    (tree / "deep").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "deep" / "b.txt").write_text("bb")
    assert files.copy_out("sub", tmp_path / "out", 10) == 3
    assert (tmp_path / "out" / "deep" / "b.txt").read_text() == "bb"
    with pytest.raises(FileTooLargeError):
        files.copy_out("sub", tmp_path / "small", 2)
    (tree / "deep" / "link").symlink_to("../a.txt")
    with pytest.raises(NotRegularFileError, match="symlink"):
        files.copy_out("sub", tmp_path / "linked", 10)
    assert not (tmp_path / "small").exists() and not (tmp_path / "linked").exists()
