"""User-facing error types.

Every mistake a user can make (a bad task.yaml, an unreachable model server, a
path escaping the workspace) raises a subclass of :class:`HarnessError` whose
message names the problem and the fix. The CLI prints it as one line and exits
non-zero; anything else is a bug and shows a traceback only with ``--debug``.

``HarnessError`` is an :class:`aci.errors.AciError`, and the errors a tool may meet
subclass ``aci``'s own, so ``aci`` understands them without importing the harness:
the dependency points from the harness to ``aci``, never back. The CLI catches
``AciError`` (a broken ``--tools`` file is one of those, not a HarnessError).
"""

from __future__ import annotations

from aci import errors as aci_errors


class HarnessError(aci_errors.AciError):
    """A problem the user can fix; ``str(err)`` is the one line to show."""

    exit_code = 2


class SandboxUnavailable(HarnessError):
    """bwrap is missing or user namespaces are disabled on this machine."""


class PathEscapeError(HarnessError, aci_errors.PathEscapeError):
    """A workspace path that would lead outside the workspace."""


class TaskError(HarnessError):
    """A task directory or task.yaml that is missing or malformed."""


class ModelError(HarnessError):
    """The model server failed, timed out or answered garbage."""


class ModelUnavailable(ModelError):
    """The model server could not be reached at all."""


class DataError(HarnessError):
    """A task's data is not prepared, cannot be downloaded or fails its checksum."""
