"""The errors of the agent–computer interface.

``aci`` is a library the harness stands on, not the other way round, so the error
classes its ``except`` clauses name live here. The harness's concrete errors
subclass these (``harness.errors.HarnessError`` is an :class:`AciError`, the
workspace file API's errors subclass :class:`WorkspaceFileError` and its kin), and a
tool that calls the harness's file API is understood without ``aci`` importing it.

Two families matter to a tool author:

* :class:`ToolError`: raise it to tell the model something (``raise
  ToolError("the column 'price' does not exist; the columns are: ...")``). Its
  message is the observation, word for word.
* :class:`ToolDefinitionError`: a tool that cannot be used at all (no docstring, an
  argument type no model can send, two tools with one name). It is raised when the
  tool is decorated or loaded, so the operator sees it before an episode starts.
"""

from __future__ import annotations


class AciError(Exception):
    """A problem a person can act on; ``str(err)`` is the one line to show.

    Inside a tool call the person is the agent (the line becomes its observation);
    while tools are loaded it is the operator (the command line prints it).
    """


class ToolError(AciError):
    """Raised by a tool to tell the model something: the message is the observation.

    Use it for a mistake the model can fix (a missing column, an empty result);
    any other exception is treated as a bug in the tool.
    """


class ToolUsageError(ToolError):
    """The model called a tool with wrong arguments; the message says how to call it."""


class ToolDefinitionError(AciError):
    """A tool definition or tool source that cannot be used; the message says why."""


class ToolClashError(ToolDefinitionError):
    """Two tools share a name."""


class PathEscapeError(AciError):
    """A workspace path that would lead outside the workspace."""


class WorkspaceFileError(AciError):
    """A workspace file that will not be read, written or copied; the message says why."""


class NotRegularFileError(WorkspaceFileError):
    """A FIFO, socket, device, directory or symlink where a regular file was needed."""


class FileTooLargeError(WorkspaceFileError):
    """A file (or tree) above the size cap of the operation."""
