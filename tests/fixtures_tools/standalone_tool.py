"""A custom tool, the built-ins and fakes of aci's protocols: nothing but aci imported.

Run as a script by tests/test_aci_registry.py; prints the observations, then the
harness modules that got imported (none).
"""

import contextlib
import io
import sys
from pathlib import Path, PurePosixPath
from typing import Literal

from aci import Action, ToolContext, ToolError, ToolRegistry, execute, tool


class MemoryFiles:
    """An in-memory workspace with the methods of aci.protocols.Files."""

    root = Path("/nowhere/host/ws")
    display_root = PurePosixPath("/home/agent/workspace")

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def display(self, rel: str) -> str:
        return str(self.display_root) if rel == "." else str(self.display_root / rel)

    def locate(self, path: str) -> str:
        return str(PurePosixPath(path).relative_to(self.display_root))

    def kind(self, path: str) -> str | None:
        return "dir" if path == "." else "file" if path in self.files else None

    def exists(self, path: str) -> bool:
        return self.kind(path) is not None

    def is_dir(self, path: str) -> bool:
        return path == "."

    def is_file(self, path: str) -> bool:
        return path in self.files

    def read_bytes(self, path: str, limit: int = 1 << 20) -> bytes:
        return self.files[path].encode()

    def read_text(self, path: str) -> str:
        return self.files[path]

    def open_binary(self, path: str, limit: int = 1 << 20):
        return contextlib.nullcontext(io.BytesIO(self.read_bytes(path)))

    def listdir(self, path: str = ".") -> list[str]:
        return sorted(self.files)

    def walk(self, path: str = ".") -> list[str]:
        return sorted(self.files)

    def write_text(self, path: str, text: str) -> None:
        self.files[path] = text


@tool
def head(ctx, path: str, lines: int = 1, case: Literal["upper", "lower"] = "lower") -> str:
    """The first lines of a file.

    Args:
        path: the file
        lines: how many lines
        case: the case to show them in
    """
    if lines < 1:
        raise ToolError("lines must be at least 1")
    text = " | ".join(ctx.files.read_text(path).splitlines()[:lines])
    return text.upper() if case == "upper" else text.lower()


def main() -> None:
    ctx = ToolContext(files=MemoryFiles({"a.txt": "One\nTwo\nThree\n"}))
    registry = ToolRegistry.load(entry_points=False)
    registry.add(head)
    for command in ("head a.txt 2 upper", "head a.txt 0", "search_file Two a.txt"):
        print(execute(registry, Action(command), ctx).observation.splitlines()[0])
    print(sorted(m for m in sys.modules if m == "harness" or m.startswith("harness.")))


if __name__ == "__main__":
    main()
