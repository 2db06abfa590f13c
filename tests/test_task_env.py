"""Task environments pick CPU or CUDA wheels by the NVIDIA driver, key on that choice,
stop in one line when the PyTorch CPU index is unreachable, and show kind and size."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness.cli import main as cli
from harness.errors import TaskError
from harness.task.env import TaskEnv, _Plan
from harness.task.wheels import (
    CPU,
    CUDA,
    TORCH_CPU_INDEX,
    installed_kind,
    pip_commands,
    pulls_accelerated,
    torch_index,
    wheel_kind,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def auto(monkeypatch):
    """The driver decides: no override from the caller's environment."""
    monkeypatch.delenv("HARNESS_WHEELS", raising=False)
    monkeypatch.delenv("HARNESS_TORCH_INDEX", raising=False)
    return monkeypatch


def fake_smi(directory: Path, code: int) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    smi = directory / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\necho 'GPU 0: Fake GPU (UUID: GPU-0)'\nexit {code}\n")
    smi.chmod(0o755)
    return str(directory)


def test_the_driver_decides_cpu_or_cuda_and_the_variable_overrides(auto, tmp_path):
    empty = str(tmp_path / "no-bin")
    assert wheel_kind(tmp_path, empty)[0] == CPU
    assert "HARNESS_WHEELS=cuda" in wheel_kind(tmp_path, empty)[1]
    assert wheel_kind(tmp_path, fake_smi(tmp_path / "bad", 9))[0] == CPU  # nvidia-smi without a driver
    assert wheel_kind(tmp_path, fake_smi(tmp_path / "good", 0))[0] == CUDA
    version = tmp_path / "proc" / "driver" / "nvidia" / "version"
    version.parent.mkdir(parents=True)
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14\n")
    assert wheel_kind(tmp_path, empty)[0] == CUDA
    auto.setenv("HARNESS_WHEELS", "cpu")
    assert wheel_kind(tmp_path, empty) == (CPU, "HARNESS_WHEELS=cpu")
    auto.setenv("HARNESS_WHEELS", "rocm")
    with pytest.raises(TaskError, match="HARNESS_WHEELS='rocm': use cpu, cuda or auto"):
        wheel_kind(tmp_path, empty)


def test_pip_command_lines_for_cpu_and_cuda(auto):
    missing = ["torch>=2.6", "torchvision", "pandas", "jax[cuda12]>=0.4.30"]
    cpu = pip_commands(missing, CPU, torch_index())
    assert len(cpu) == 2
    assert cpu[0][cpu[0].index("--index-url") + 1] == TORCH_CPU_INDEX
    assert cpu[0][-2:] == ["torch>=2.6", "torchvision"]
    assert "--index-url" not in cpu[1] and cpu[1][-2:] == ["pandas", "jax>=0.4.30"]  # no CUDA extra
    cuda = pip_commands(missing, CUDA, torch_index())
    assert len(cuda) == 1 and "--index-url" not in cuda[0]
    assert cuda[0][-4:] == ["torch>=2.6", "torchvision", "pandas", "jax[cuda12]>=0.4.30"]
    assert pip_commands(["jax"], CUDA)[0][-1] == "jax[cuda12]"
    auto.setenv("HARNESS_TORCH_INDEX", "pypi")  # the user's opt-in: PyPI's torch, one command
    assert [c[-1] for c in pip_commands(["torch"], CPU, torch_index())] == ["torch"]
    assert all("--index-url" not in c for c in pip_commands(["torch"], CPU, torch_index()))
    auto.setenv("HARNESS_TORCH_INDEX", "https://mirror.example/cpu")
    assert "https://mirror.example/cpu" in pip_commands(["torch"], CPU, torch_index())[0]


def task(*requirements: str) -> SimpleNamespace:
    return SimpleNamespace(id="probe", requirements=list(requirements))


def test_the_cache_key_holds_the_wheel_kind_when_something_is_installed(auto):
    auto.setenv("HARNESS_WHEELS", "cpu")
    cpu_torch, cpu_plain = _Plan.of(task("torch<1", "numpy")), _Plan.of(task("numpy"))
    auto.setenv("HARNESS_WHEELS", "cuda")
    cuda_torch, cuda_plain = _Plan.of(task("torch<1", "numpy")), _Plan.of(task("numpy"))
    assert cpu_torch.missing == ["torch<1"] and cpu_torch.key != cuda_torch.key
    assert cpu_plain.key == cuda_plain.key  # nothing installed: one environment serves both
    assert _Plan.of(task("numpy")).key == _Plan.of(SimpleNamespace(id="other", requirements=["numpy"])).key
    assert TaskEnv.find(task("torch<1", "numpy")) is None  # never built, and find builds nothing


def test_an_unreachable_torch_index_stops_in_one_line_and_caches_nothing(auto):
    auto.setenv("HARNESS_WHEELS", "cpu")
    auto.setenv("HARNESS_TORCH_INDEX", "http://127.0.0.1:9/simple")  # nothing listens on port 9
    with pytest.raises(TaskError) as caught:
        TaskEnv.ensure(task("torch==0.0.1"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("could not reach the PyTorch CPU wheel index http://127.0.0.1:9/simple for torch==0.0.1")
    assert "HARNESS_TORCH_INDEX=pypi" in message and "HARNESS_WHEELS=cuda" in message
    assert TaskEnv.find(task("torch==0.0.1")) is None


def _has(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _has("torch"), reason="the harness's environment has no torch to reuse")
def test_harness_tasks_shows_each_environment_kind_and_size(auto, house_price_env):
    from harness.task.spec import Task

    fashion = Task.load(REPO / "tasks" / "fashion_mnist")
    env = TaskEnv.ensure(fashion)  # torch reused from the harness: builds offline in a second
    expected_kind = "cuda" if "+cpu" not in importlib.metadata.version("torch") and any(
        d.metadata["Name"].startswith("nvidia") for d in importlib.metadata.distributions()) else "cpu"
    assert env.kind == expected_kind
    du = subprocess.run(["du", "-s", "--block-size=1", str(env.root)], capture_output=True, text=True)
    assert env.size() == int(du.stdout.split()[0])
    outcome = CliRunner().invoke(cli, ["tasks", "--json"])
    assert outcome.exit_code == 0, outcome.output
    rows = {r["id"]: r for r in map(json.loads, outcome.output.splitlines())}
    assert rows["fashion_mnist"]["env"] == {"path": str(env.root), "kind": expected_kind, "bytes": env.size()}
    assert rows["house_price"]["env"]["kind"] is None  # its requirements reach neither torch nor jax
    assert not pulls_accelerated(["numpy", "pandas"]) and pulls_accelerated(["torch"])
    outcome = CliRunner().invoke(cli, ["tasks"])
    line = next(li for li in outcome.output.splitlines() if li.startswith("fashion_mnist "))
    assert f"{expected_kind.upper()} " in line and "K " in line  # e.g. "CPU 76K"
    assert "task environments are built with CPU wheels (no NVIDIA driver here" in outcome.output or \
        "CUDA wheels" in outcome.output


def test_installed_kind_reads_the_distributions(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    assert installed_kind([site]) is None
    (site / "torch-2.5.1.dist-info").mkdir()
    assert installed_kind([site]) == CPU  # no CUDA libraries beside it
    (site / "nvidia_cublas_cu12-12.4.5.8.dist-info").mkdir()
    assert installed_kind([site]) == CUDA
    (site / "torch-2.5.1.dist-info").rename(site / "torch-2.5.1+cpu.dist-info")
    assert installed_kind([site]) == CPU
    (site / "jax-0.4.30.dist-info").mkdir()
    (site / "jax_cuda12_plugin-0.4.30.dist-info").mkdir()
    assert installed_kind([site]) == CUDA
