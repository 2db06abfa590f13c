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
