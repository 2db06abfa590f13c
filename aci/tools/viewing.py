"""``open``, ``goto``, ``scroll_up``, ``scroll_down``: the file viewer."""

from __future__ import annotations

from aci import viewer
from aci.context import ToolContext
from aci.registry import tool

NO_FILE = "No file open. Use the `open` command first."


def show(ctx: ToolContext, current: int) -> str:
    """Render the open file around ``current`` and remember the position."""
    relative, display = ctx.state["open_file"], ctx.state.get("open_display", "the file")
    if ctx.files.kind(relative) != "file":
        ctx.state.pop("open_file", None)
        return f"Error: {display} no longer exists. {NO_FILE}"
    with ctx.files.open_binary(relative) as handle:
        text, current = viewer.view(handle, display, current, ctx.window)
    ctx.state["current_line"] = current
    return text


def open_path(ctx: ToolContext, path: str, line_number: int | None = None) -> str:
    relative, display = ctx.resolve(path)
    kind = ctx.files.kind(relative)
    if kind == "dir":
        return (f"Error: {display} is a directory. You can only open files. "
                "Use cd or ls to navigate directories.")
    if kind is None:
        return f"File {display} not found"
    if kind != "file":
        return (f"Error: {display} is not a regular file (a FIFO, socket or device); "
                "the viewer opens regular files only.")
    with ctx.files.open_binary(relative) as handle:
        if viewer.looks_binary(handle.read(8192)):
            return f"Error: {display} is a binary file; the viewer shows text files only."
        total = viewer.count_lines(handle) if line_number is not None else 0
    ctx.state["open_file"] = relative
    ctx.state["open_display"] = display
    note = ""
    if line_number is None:
        current = ctx.window // 2
    else:
        if line_number < 1:
            return f"Error: <line_number> must be at least 1, got {line_number}"
        if line_number > total:
            note = (f"Warning: <line_number> ({line_number}) is greater than the number of "
                    f"lines in the file ({total})\nWarning: Setting <line_number> to {total}\n")
            line_number = max(total, 1)
        current = viewer.line_for_goto(line_number, ctx.window)
    return note + show(ctx, current)


@tool(name="open")
def open_file(ctx: ToolContext, path: str, line_number: int | None = None) -> str:
    """Open the file at the given path in the editor. If line_number is given, the window moves to show that line.

    Args:
        path: the path to the file to open
        line_number: the line number to move the window to (default: the top of the file)
    """
    return open_path(ctx, path, line_number)


@tool
def goto(ctx: ToolContext, line_number: int) -> str:
    """Move the window to show the given line of the open file.

    Args:
        line_number: the line number to move the window to
    """
    if "open_file" not in ctx.state:
        return NO_FILE
    with ctx.files.open_binary(ctx.state["open_file"]) as handle:
        total = viewer.count_lines(handle)
    if line_number > total:
        return f"Error: <line_number> must be less than or equal to {total}"
    if line_number < 1:
        return "Error: <line_number> must be at least 1"
    return show(ctx, viewer.line_for_goto(line_number, ctx.window))


@tool
def scroll_down(ctx: ToolContext) -> str:
    """Move the window down by one window of lines (minus a 2-line overlap)."""
    if "open_file" not in ctx.state:
        return NO_FILE
    return show(ctx, ctx.state["current_line"] + ctx.window - viewer.OVERLAP)


@tool
def scroll_up(ctx: ToolContext) -> str:
    """Move the window up by one window of lines (minus a 2-line overlap)."""
    if "open_file" not in ctx.state:
        return NO_FILE
    return show(ctx, ctx.state["current_line"] - ctx.window + viewer.OVERLAP)
