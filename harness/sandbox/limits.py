"""Resource limits for everything that runs inside a sandbox."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-sandbox resource limits, applied as rlimits to the sandbox's processes.

    Each bounds one way a runaway command could hurt the machine: a memory bomb, a
    fork bomb, a disk-filling loop, a descriptor leak, an output flood.
    """

    memory_mb: int = 8192
    """Address-space limit per process (RLIMIT_AS), in MiB, and the memory cgroup's
    limit for the whole sandbox where cgroups are writable. 0 disables both. GPU
    sandboxes get no RLIMIT_AS (the CUDA driver reserves more address space than
    that at start): only the cgroup bounds their memory."""
    processes: int = 512
    """Processes the sandbox may run: the pids cgroup's limit, else RLIMIT_NPROC on
    top of those its user already runs."""
    file_size_mb: int = 2048
    """Largest file a command may write (RLIMIT_FSIZE), in MiB."""
    disk_mb: int = 20480
    """Disk the workspace may grow by over the sandbox's life, in MiB; a command that
    passes it is killed. Checked 20 times a second while a command runs. 0 disables it."""
    max_files: int = 50_000
    """Files and directories the workspace may gain over the sandbox's life; a command
    that passes it is killed (an inode flood fills a disk as surely as bytes do).
    0 disables it."""
    min_free_mb: int = 1024
    """A command that brings the disk's free space below this is killed, whoever's
    files filled it: the machine stays usable. 0 disables it."""
    open_files: int = 1024
    """Open file descriptors per process (RLIMIT_NOFILE)."""
    output_bytes: int = 100_000
    """Output kept per command; beyond it the head and tail are kept."""
    cpu_threads: int = 0
    """Threads the numeric libraries may use (OMP/MKL/OpenBLAS/torch … variables);
    0: ``HARNESS_THREADS``, else the CPUs this process may use (harness.sandbox.threads)."""


@dataclass(frozen=True)
class Enforcement:
    """One kind of limit and whether this machine enforces it, in words."""

    name: str
    enforced: bool
    detail: str


def enforcement(limits: Limits, *, cgroup_kinds: dict[str, str], cgroup_notes: list[str],
                no_swap: bool, nproc_uid: int | None, threads: int,
                command_timeout: float, wall_time: float) -> list[Enforcement]:
    """What bounds a sandbox on this machine: pids, memory, disk, time, CPU threads,
    GPU memory. ``nproc_uid``: the host uid RLIMIT_NPROC counts (None: it is not set)."""
    def why(controller: str) -> str:
        said = [n.split(": ", 1)[-1] for n in cgroup_notes if controller in n.split(": ", 1)[0].split("/")]
        return "; ".join(said) or "none writable"

    lines = []
    if not limits.processes:
        lines.append(Enforcement("processes", False, "none: disabled (processes=0)"))
    elif "pids" in cgroup_kinds:
        lines.append(Enforcement("processes", True, f"{cgroup_kinds['pids']}: at most {limits.processes} "
                                 "processes in the whole sandbox (pids.max)"))
    elif nproc_uid is not None:
        lines.append(Enforcement("processes", True, (
            f"RLIMIT_NPROC: {limits.processes} processes beyond those host uid {nproc_uid} already runs "
            "(the kernel counts all of that user's processes, so a fork bomb also starves its other "
            f"programs); no pids cgroup: {why('pids')}")))
    else:
        lines.append(Enforcement("processes", False, f"none: no pids cgroup ({why('pids')}), and RLIMIT_NPROC "
                                 "does not bind root: a fork bomb is bounded only by timeouts"))
    address = f"RLIMIT_AS {limits.memory_mb} MiB per process (none in GPU sandboxes)"
    if not limits.memory_mb:
        lines.append(Enforcement("memory", False, "none: disabled (memory_mb=0)"))
    elif "memory" in cgroup_kinds:
        swap = ", no swap" if no_swap else ""
        lines.append(Enforcement("memory", True, f"{cgroup_kinds['memory']}: {limits.memory_mb} MiB for the whole "
                                 f"sandbox{swap} (over it, the kernel kills inside the sandbox); and {address}"))
    else:
        lines.append(Enforcement("memory", False, (
            f"RLIMIT_AS only: {limits.memory_mb} MiB per process; several processes together may use more, "
            "a GPU sandbox is unbounded (it gets no RLIMIT_AS), "
            f"and the machine may swap; no memory cgroup: {why('memory')}")))
    if limits.disk_mb or limits.max_files or limits.min_free_mb:
        lines.append(Enforcement("disk", True, (
            f"the disk guard kills a command once the workspace grew {limits.disk_mb} MiB or "
            f"{limits.max_files} files, or the disk's free space falls under {limits.min_free_mb} MiB; "
            f"files of at most {limits.file_size_mb} MiB each (RLIMIT_FSIZE)")))
    else:
        lines.append(Enforcement("disk", False, f"the disk guard is off; files of at most "
                                                f"{limits.file_size_mb} MiB each (RLIMIT_FSIZE)"))
    lines.append(Enforcement("time", True, (
        f"timeouts: a command is killed after its task's command_timeout (default {command_timeout:g} s), "
        f"an episode ends at its wall_time (default {wall_time:g} s); CPU time itself is not limited")))
    lines.append(Enforcement("CPU threads", False, (
        f"not enforced: numeric libraries are asked for {threads} thread(s) (OMP_NUM_THREADS and the like); "
        "a program may start more, and no cgroup limits CPU")))
    lines.append(Enforcement("GPU memory", False, (
        "not enforced: a GPU sandbox may use all the memory of the GPUs it is given "
        "(CUDA has no per-process cap; only the GPU count is limited)")))
    return lines
