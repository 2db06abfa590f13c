"""Running a study's episodes N at a time, on this machine or on a Ray cluster.

The local executor keeps up to ``parallel`` worker processes (``harness.study.worker``)
running and reads their JSON event lines on one thread each. An episode of a task
that needs GPUs leases devices from a ``GpuPool`` and is started only when enough
are free; CPU episodes fill the other slots meanwhile, so a GPU wait never idles the
CPU. Every event reaches ``on_event(spec, event)``; the caller draws the display.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from aci.errors import AciError
from harness.errors import HarnessError
from harness.run.options import EpisodeOptions
from harness.sandbox.threads import THREADS_ENV, usable_cpus
from harness.study.directory import EpisodeSpec

OnEvent = Callable[[EpisodeSpec, dict[str, Any]], None]


class GpuPool:
    """Device indices handed out to episodes, each to one episode at a time."""

    def __init__(self, devices: Sequence[int]) -> None:
        self.devices = tuple(devices)
        self._free = list(self.devices)

    def can_lease(self, count: int) -> bool:
        return count <= len(self._free)

    def lease(self, count: int) -> tuple[int, ...]:
        if count > len(self._free):
            raise HarnessError(f"asked for {count} GPU(s), {len(self._free)} free")
        taken, self._free = tuple(self._free[:count]), self._free[count:]
        return taken

    def release(self, devices: Sequence[int]) -> None:
        self._free.extend(d for d in devices if d in self.devices and d not in self._free)
        self._free.sort()


def threads_per_episode(parallel: int) -> int:
    """CPU threads each of ``parallel`` episodes may use, so they don't oversubscribe:
    the CPUs this process may run on (its affinity, not the machine's core count) split
    among them, at least one each."""
    return max(1, usable_cpus() // max(1, parallel))


class LocalExecutor:
    """Episodes as worker processes on this machine."""

    def __init__(self, parallel: int = 1, gpus: Sequence[int] = (), gpu_needs: dict[str, int] | None = None):
        if parallel < 1:
            raise HarnessError(f"--parallel {parallel}: run at least one episode at a time")
        self.parallel = parallel
        self.pool = GpuPool(gpus)
        self.gpu_needs = gpu_needs or {}
        self._procs: dict[str, subprocess.Popen] = {}

    def check(self, specs: Sequence[EpisodeSpec]) -> None:
        """Refuse up front a task that needs more GPUs than the study was given."""
        for task, count in sorted(self.gpu_needs.items()):
            if count and self.pool.devices and count > len(self.pool.devices) and any(s.task == task for s in specs):
                raise HarnessError(f"task {task} needs {count} GPUs but --gpus gives "
                                   f"{len(self.pool.devices)}: pass more devices")

    def _gpus_for(self, spec: EpisodeSpec) -> int:
        # Without --gpus a GPU task runs on the CPU (its description says what that means).
        return self.gpu_needs.get(spec.task, 0) if self.pool.devices else 0

    def run(self, specs: Sequence[EpisodeSpec], options: EpisodeOptions, on_event: OnEvent) -> None:
        self.check(specs)
        if not options.cpu_threads:
            options = options.replace(cpu_threads=threads_per_episode(self.parallel))
        pending = list(specs)
        events: queue.Queue[tuple[EpisodeSpec, dict[str, Any] | None]] = queue.Queue()
        running: dict[str, tuple[EpisodeSpec, tuple[int, ...]]] = {}
        try:
            while pending or running:
                while len(running) < self.parallel:
                    spec = next((s for s in pending if self.pool.can_lease(self._gpus_for(s))), None)
                    if spec is None:
                        break
                    pending.remove(spec)
                    devices = self.pool.lease(self._gpus_for(spec))
                    running[spec.key] = (spec, devices)
                    self._start(spec, devices, options, events)
                    on_event(spec, {"event": "start", "gpus": list(devices)})
                spec, event = events.get()
                if event is None:  # the worker's stdout closed: it has ended
                    _, devices = running.pop(spec.key)
                    self.pool.release(devices)
                    code = self._procs.pop(spec.key).wait()
                    on_event(spec, {"event": "exit", "code": code})
                else:
                    on_event(spec, event)
        finally:
            self.stop()

    def _start(self, spec: EpisodeSpec, devices: tuple[int, ...], options: EpisodeOptions,
               events: queue.Queue) -> None:
        spec_json = {**spec.to_json(), "gpus": list(devices)}
        payload = json.dumps({"spec": spec_json, "options": options.to_json(), "parent": os.getpid()})
        # The split holds for every sandbox of the worker (its scorer's too), not only the agent's.
        env = {**os.environ, THREADS_ENV: str(options.cpu_threads)} if options.cpu_threads else None
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.study.worker", payload], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, text=True,
        )
        self._procs[spec.key] = proc

        def read() -> None:
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict):
                    events.put((spec, event))
            events.put((spec, None))

        threading.Thread(target=read, name=f"worker-{spec.key}", daemon=True).start()

    def stop(self) -> None:
        """Interrupt running episodes (they record ``interrupted``), then make sure they end."""
        for proc in self._procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()


class RayExecutor:
    """Episodes as Ray tasks: the same worker code, on a cluster (or a local Ray).

    The study directory must be on storage every node sees (e.g. NFS): workers write
    their episodes' run directories themselves.
    """

    def __init__(self, parallel: int = 1, address: str | None = None, gpu_needs: dict[str, int] | None = None):
        try:
            import ray
        except ImportError:
            raise HarnessError("--executor ray needs Ray: pip install 'harness[ray]'") from None
        self.ray = ray
        self.parallel = parallel
        self.address = address
        self.gpu_needs = gpu_needs or {}

    def run(self, specs: Sequence[EpisodeSpec], options: EpisodeOptions, on_event: OnEvent) -> None:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True, configure_logging=False)
        try:
            remote = ray.remote(_ray_episode)
            pending = list(specs)
            running: dict[Any, EpisodeSpec] = {}
            while pending or running:
                while pending and len(running) < self.parallel:
                    spec = pending.pop(0)
                    gpus = self.gpu_needs.get(spec.task, 0)
                    ref = remote.options(num_cpus=1, num_gpus=gpus).remote(spec.to_json(), options.to_json())
                    running[ref] = spec
                    on_event(spec, {"event": "start", "gpus": []})
                ready, _ = ray.wait(list(running), num_returns=1)
                spec = running.pop(ready[0])
                try:
                    event, code = ray.get(ready[0])
                except Exception as err:  # a node or worker lost: the episode is unfinished
                    event, code = {"event": "error", "message": f"ray: {err}".splitlines()[0]}, 1
                on_event(spec, event)
                on_event(spec, {"event": "exit", "code": code})
        finally:
            if started_here:
                ray.shutdown()


def _ray_episode(spec: dict[str, Any], options: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Runs on a Ray worker: one episode, its final event and exit code."""
    from harness.study.worker import run_spec

    if options.get("cpu_threads"):
        os.environ[THREADS_ENV] = str(options["cpu_threads"])
    ids = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    spec = {**spec, "gpus": [int(i) for i in ids.split(",") if i.strip().isdigit()]}
    try:
        return run_spec(spec, options, lambda event: None), 0
    except AciError as err:  # a HarnessError, or a --tools file the registry refuses
        return {"event": "error", "message": str(err)}, 2
