"""The seccomp filter every sandbox runs under.

The namespaces and the unprivileged uid already take most of the kernel's attack
surface away; the filter removes the system calls that are still reachable from an
unprivileged process and are the usual first step of an escape or of spying on
other processes, in the spirit of Flatpak's and Docker's default profiles: tracing
and reading other processes' memory, kernel keyrings, new user namespaces, mounts,
BPF, perf events, userfaultfd (a favourite of kernel exploits), io_uring (whose
operations bypass seccomp), kernel modules, kexec, handle-based opens (the
"shocker" escape) and faking terminal input (TIOCSTI, TIOCLINUX).

The filter is built with libseccomp (through ``pyseccomp``) and handed to bwrap as
compiled BPF (``--seccomp FD``); bwrap installs it as the last step before it runs
the shell, so the sandbox's setup is unaffected. A sandbox that must start a nested
sandbox (the scorer runs submitted code in one) gets the ``nesting`` profile, which
keeps namespaces and mounts; the nested sandbox applies the full filter itself.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

DENIED = (
    # other processes: tracing, memory, handles
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # kernel keyrings (the caller's session keyring holds tokens on many desktops)
    "add_key", "request_key", "keyctl",
    # kernel attack surface an ML workload never needs
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "open_by_handle_at", "name_to_handle_at", "acct", "swapon",
    "swapoff", "reboot", "syslog", "quotactl", "lookup_dcookie", "uselib", "ustat",
    "iopl", "ioperm", "vhangup", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "fanotify_init",
)
"""Refused with EPERM in every sandbox."""

NAMESPACE_CALLS = (
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick", "mount_setattr", "setns",
)
"""Refused unless the sandbox runs a nested sandbox."""

_CLONE_NEWUSER = 0x10000000
_TIOCSTI = 0x5412
_TIOCLINUX = 0x541C


class SeccompUnavailable(Exception):
    """libseccomp (or its Python binding) is missing: the filter cannot be built."""


@functools.lru_cache(maxsize=2)
def compiled(nesting: bool = False) -> bytes:
    """The filter as BPF for this machine's architecture (built once per process).

    Raises SeccompUnavailable with one line naming what to install.
    """
    try:
        import pyseccomp as sc
    except ImportError:
        raise SeccompUnavailable("the pyseccomp package is missing: pip install pyseccomp") from None
    try:
        flt = sc.SyscallFilter(defaction=sc.ALLOW)
    except Exception as err:  # noqa: BLE001 - pyseccomp raises plain errors when libseccomp is absent
        raise SeccompUnavailable(
            f"libseccomp could not be loaded ({err}): install libseccomp2 (apt-get install libseccomp2)"
        ) from None
    refuse = sc.ERRNO(errno.EPERM)
    for name in DENIED + (() if nesting else NAMESPACE_CALLS):
        _add(flt, refuse, name)
    if not nesting:
        for name in ("unshare", "clone"):  # the flags are the first argument of both
            _add(flt, refuse, name, sc.Arg(0, sc.MASKED_EQ, _CLONE_NEWUSER, _CLONE_NEWUSER))
        # clone3 passes its flags in memory, out of a filter's reach: make the C library
        # fall back to clone, whose flags the rules above can see.
        _add(flt, sc.ERRNO(errno.ENOSYS), "clone3")
    for request in (_TIOCSTI, _TIOCLINUX):
        _add(flt, refuse, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    with tempfile.TemporaryFile() as handle:
        flt.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def _add(flt, action: int, name: str, *args) -> None:
    try:
        flt.add_rule(action, name, *args)
    except Exception:  # noqa: BLE001 - a call this kernel/arch does not have needs no rule
        pass


def filter_fd(nesting: bool = False) -> int:
    """A fresh descriptor holding the compiled filter, for bwrap's ``--seccomp``.

    The caller passes it to bwrap and closes it afterwards.
    """
    data = compiled(nesting)
    fd = os.memfd_create("harness-seccomp", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def problem() -> str | None:
    """Why the filter cannot be applied on this machine (one line), or None."""
    try:
        compiled(False)
    except SeccompUnavailable as err:
        return str(err)
    return None
