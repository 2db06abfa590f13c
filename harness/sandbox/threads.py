"""How many threads the numeric libraries inside a sandbox may start.

OpenMP, MKL, OpenBLAS, numexpr, torch and XLA each size their thread pools from the
machine's core count, not from the CPUs this process may run on nor from what other
episodes use. On a 2-core machine under load the house-price demo's ``train.py`` took
81.9 s with 2 threads against 8.5 s with 1: oversubscribed pools spin against each
other. So every sandbox gets the variables below, set to the CPUs this process may
use (``os.sched_getaffinity``), or to ``HARNESS_THREADS`` when the user (``--threads``)
or a parallel study (its split) says otherwise.
"""

from __future__ import annotations

import os

from harness.errors import HarnessError

THREADS_ENV = "HARNESS_THREADS"
"""Threads per sandbox, overriding the CPUs this process may use (``--threads`` sets it)."""

THREAD_VARS = (
    "OMP_NUM_THREADS",  # OpenMP: torch's intra-op pool, scikit-learn, xgboost, lightgbm
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",  # Apple's Accelerate
    "BLIS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",  # TensorFlow (tfp-nightly pulls it into the RL tasks)
)
"""Variables the numeric libraries read for their thread count."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; the core count where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Threads for a sandbox: ``HARNESS_THREADS`` if set, else :func:`usable_cpus`.

    A malformed ``HARNESS_THREADS`` is refused in one line by :func:`parse_threads`.
    """
    given = os.environ.get(THREADS_ENV, "").strip()
    return parse_threads(given, THREADS_ENV) if given else usable_cpus()


def parse_threads(text: str, source: str = THREADS_ENV) -> int:
    """``text`` as a positive thread count; HarnessError naming ``source`` otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise HarnessError(f"{source}={text!r}: give a whole number of threads, 1 or more")
    return value


def thread_env(threads: int) -> dict[str, str]:
    """The environment variables that hold the numeric libraries to ``threads`` threads.

    XLA (jax) has no count variable; with one thread its Eigen pool is turned off.
    """
    count = str(max(1, threads))
    env = {name: count for name in THREAD_VARS}
    # OpenMP threads that wait at a barrier sleep instead of spinning: with 2 threads on
    # 2 busy cores the demo's train.py (scikit-learn's OpenMP) took 261 s spinning, 36 s
    # passive, 18-27 s on 1 thread. A sandbox's command may set it back to ACTIVE.
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    if threads <= 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
    return env
