"""GPU episodes: the leased devices, driver /proc and /sys entries a GPU sandbox gets,
built against fake host trees (no GPU here) and checked in real bwrap sandboxes."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main as cli
from harness.sandbox import Bind, Sandbox, gpu
from harness.sandbox.bwrap import build_argv, find_bwrap, sandbox_env, write_etc
from harness.sandbox.launch import Launch

BUS = "0000:{:02x}:00.0"
PARAMS = "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\nDeviceFileMode: 438\n"


def _node(path: Path) -> None:
    """A device node (a copy of /dev/null's numbers) where we may mknod, else a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.chmod(path, 0o666)  # past the umask, as the driver's nodes are
    else:
        path.write_text("")


def fake_host(root: Path, gpus=(0, 1, 2, 3), driver: str = "proc/driver/nvidia") -> Path:
    """A /dev, /proc/driver/nvidia (at ``driver``) and /sys shaped like a host with ``gpus``."""
    for index in gpus:
        _node(root / f"dev/nvidia{index}")
        bus = BUS.format(index)
        info = root / f"{driver}/gpus/{bus}/information"
        info.parent.mkdir(parents=True)
        info.write_text(f"Model: \t\t NVIDIA Fake\nIRQ:   \t\t 42\nDevice Minor: \t {index}\n")
        device = root / f"sys/devices/pci0000:00/0000:00:{index:02x}.0/{bus}"
        device.mkdir(parents=True)
        (device / "vendor").write_text("0x10de\n")
        link = root / f"sys/bus/pci/devices/{bus}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"../../../devices/pci0000:00/0000:00:{index:02x}.0/{bus}")
    for name in gpu.CONTROL_NODES:
        _node(root / "dev" / name)
    for minor in (1, 2, 21, 30):
        _node(root / f"dev/nvidia-caps/nvidia-cap{minor}")
    caps = root / "proc/driver/nvidia-caps/mig-minors"
    caps.parent.mkdir(parents=True)
    caps.write_text("config 1\nmonitor 2\ngpu2/gi1/access 21\ngpu3/gi1/access 30\n")
    (root / f"{driver}/capabilities/gpu2/mig").mkdir(parents=True)
    (root / f"{driver}/version").write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54\n")
    (root / f"{driver}/registry").write_text("Binary: \"\"\n")
    (root / f"{driver}/params").write_text(PARAMS)
    (root / "sys/module/nvidia").mkdir(parents=True)
    (root / "sys/module/nvidia/version").write_text("550.54\n")
    os.chmod(root, 0o755)
    return root


def test_gpu_episode_command_line_for_lease_2(tmp_path):
    """Lease [2]: GPU 2's node and the control nodes, GPU 2's MIG caps only (not the
    machine-wide config/monitor), the driver's /proc with only GPU 2's entries and
    ModifyDeviceFiles 0, GPU 2's PCI device in a read-only /sys; a CPU episode gets
    none of it."""
    host = str(fake_host(tmp_path / "host"))
    view = gpu.discover([2], root=host, environ={})
    etc = tmp_path / "etc"
    write_etc(etc, False)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = sandbox_env(None, (2,), 0)
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    cpu_env = sandbox_env(None, (), 0)
    assert cpu_env["CUDA_VISIBLE_DEVICES"] == "" and "CUDA_DEVICE_ORDER" not in cpu_env
    assert sandbox_env(None, (5, 3), 0)["CUDA_VISIBLE_DEVICES"] == "0,1"

    cpu = build_argv("bwrap", workspace, etc_dir=etc, env=env)
    leased = build_argv("bwrap", workspace, etc_dir=etc, env=env, gpu=view, gpu_params="/state/nvidia-params")
    pci = "/sys/devices/pci0000:00/0000:00:02.0/0000:02:00.0"
    expected = [
        "--dev-bind", f"{host}/dev/nvidia2", "/dev/nvidia2",
        "--dev-bind", f"{host}/dev/nvidiactl", "/dev/nvidiactl",
        "--dev-bind", f"{host}/dev/nvidia-uvm", "/dev/nvidia-uvm",
        "--dev-bind", f"{host}/dev/nvidia-uvm-tools", "/dev/nvidia-uvm-tools",
        "--dev-bind", f"{host}/dev/nvidia-modeset", "/dev/nvidia-modeset",
        "--dev-bind", f"{host}/dev/nvidia-caps/nvidia-cap21", "/dev/nvidia-caps/nvidia-cap21",
        "--tmpfs", "/proc/driver/nvidia",
        "--ro-bind", "/state/nvidia-params", "/proc/driver/nvidia/params",
        "--ro-bind", f"{host}/proc/driver/nvidia/version", "/proc/driver/nvidia/version",
        "--ro-bind", f"{host}/proc/driver/nvidia/registry", "/proc/driver/nvidia/registry",
        "--ro-bind", f"{host}/proc/driver/nvidia/gpus/0000:02:00.0", "/proc/driver/nvidia/gpus/0000:02:00.0",
        "--ro-bind", f"{host}/proc/driver/nvidia/capabilities/gpu2", "/proc/driver/nvidia/capabilities/gpu2",
        "--remount-ro", "/proc/driver/nvidia",
        "--tmpfs", "/sys",
        "--ro-bind", f"{host}{pci}", pci,
        "--ro-bind", f"{host}/sys/module/nvidia", "/sys/module/nvidia",
        "--symlink", "../../../devices/pci0000:00/0000:00:02.0/0000:02:00.0", "/sys/bus/pci/devices/0000:02:00.0",
        "--remount-ro", "/sys",
    ]
    at = cpu.index("--dir")
    assert leased == cpu[:at] + expected + cpu[at:]
    assert not [a for a in build_argv("bwrap", workspace, etc_dir=etc, env=cpu_env)
                if "nvidia" in a or a.startswith("/sys")]
    assert view.params == PARAMS.replace("ModifyDeviceFiles: 1", "ModifyDeviceFiles: 0")
    assert view.bus_ids == {2: "0000:02:00.0"}
    assert gpu.discover([], root=host) is None


def test_driver_files_outside_usr_are_bound_and_searched(tmp_path):
    """Driver libraries or nvidia-smi the harness finds only through its own search
    paths outside /usr are bound read-only at the same path and appended to the
    sandbox's variables; those under /usr come with /usr."""
    host = fake_host(tmp_path / "host", gpus=(0,))
    (host / "opt/nv/lib").mkdir(parents=True)
    (host / "opt/nv/lib/libnvidia-ml.so.1").write_text("")
    (host / "opt/nv/bin").mkdir(parents=True)
    (host / "opt/nv/bin/nvidia-smi").write_text("#!/bin/sh\n")
    (host / "opt/nv/bin/nvidia-smi").chmod(0o755)
    (host / "opt/empty").mkdir()
    environ = {"LD_LIBRARY_PATH": "/opt/empty:/opt/nv/lib:relative", "PATH": "/opt/nv/bin:/usr/bin"}
    view = gpu.discover([0], root=str(host), environ=environ)
    assert view.extra_binds == ("/opt/nv/lib", "/opt/nv/bin/nvidia-smi")
    assert view.argv(None)[-6:] == ["--ro-bind", f"{host}/opt/nv/lib", "/opt/nv/lib",
                                    "--ro-bind", f"{host}/opt/nv/bin/nvidia-smi", "/opt/nv/bin/nvidia-smi"]
    env = view.env({"PATH": "/venv/bin:/usr/bin"})
    assert env["PATH"] == "/venv/bin:/usr/bin:/opt/nv/bin" and env["LD_LIBRARY_PATH"] == "/opt/nv/lib"
    plain = gpu.discover([0], root=str(host), environ={"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/usr/lib"})
    assert plain.extra_binds == () and plain.env({"PATH": "/x"}) == {"PATH": "/x"}


def test_launch_writes_params_with_modify_device_files_off(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "ROOT", str(fake_host(tmp_path / "host")))
    workspace = tmp_path / "ws"
    workspace.mkdir()
    launch = Launch(find_bwrap()[0], workspace, network=False, binds=(), readonly=(), env={}, gpus=[2])
    try:
        params = Path(launch._options["gpu_params"])
        assert params.read_text().splitlines()[1] == "ModifyDeviceFiles: 0"
        assert "/dev/nvidia2" in launch.gpu.devices and "/dev/nvidia3" not in launch.gpu.devices
    finally:
        launch.close()
    assert not params.exists()


@pytest.fixture()
def gpu_host(tmp_path, monkeypatch) -> Path:
    """A fake host with GPUs 0 and 1 as the GPU probes' root. Its driver directory
    stands in at /proc/driver: a sandbox's new /proc has no /proc/driver/nvidia to
    cover here, and /proc/driver is the same kind of procfs directory."""
    if not os.path.isdir("/proc/driver"):
        pytest.skip("no /proc/driver on this kernel")
    host = fake_host(tmp_path / "host", gpus=(0, 1), driver="proc/driver")
    monkeypatch.setattr(gpu, "ROOT", str(host))
    monkeypatch.setattr(gpu, "PROC_DRIVER", "/proc/driver")
    return host


def test_gpu_sandbox_sees_its_device_and_read_only_sys(tmp_path, gpu_host):
    """A real sandbox leasing GPU 1 of a two-GPU fake host: /dev/nvidia1 at its path
    and usable (a /dev/null clone when we may mknod), /dev/nvidia0 absent, GPU 1's PCI
    device under a read-only /sys, the driver's directory read-only with GPU 1's entry
    only and ModifyDeviceFiles 0, CUDA_VISIBLE_DEVICES naming what the sandbox shows."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with Sandbox(workspace, gpus=[1]) as sandbox:
        kind = "character special file" if os.geteuid() == 0 else "regular empty file"
        assert sandbox.run("stat -c %F /dev/nvidia1").output.strip() == kind
        assert sandbox.run("echo probe > /dev/nvidia1").exit_code == 0
        assert sandbox.run("test -e /dev/nvidia0").exit_code == 1
        assert sandbox.run("ls /dev/nvidia-caps 2>&1").exit_code != 0  # GPU 1 has no MIG caps
        assert sandbox.run("cat /sys/bus/pci/devices/0000:01:00.0/vendor").output == "0x10de\n"
        assert sandbox.run("ls /sys/bus/pci/devices").output == "0000:01:00.0\n"
        assert sandbox.run("cat /sys/module/nvidia/version").output == "550.54\n"
        for write in ("touch /sys/x", "echo 1 > /sys/bus/pci/devices/0000:01:00.0/vendor"):
            result = sandbox.run(write)
            assert result.exit_code != 0 and "Read-only file system" in result.output
        assert sandbox.run("echo $CUDA_VISIBLE_DEVICES $CUDA_DEVICE_ORDER").output == "0 PCI_BUS_ID\n"
        assert sandbox.run("ulimit -v").output.strip() == "unlimited"
        assert sandbox.run("ls /proc/driver /proc/driver/gpus").output == (
            "/proc/driver:\ngpus\nparams\nregistry\nversion\n\n/proc/driver/gpus:\n0000:01:00.0\n")
        assert sandbox.run("cat /proc/driver/params").output == PARAMS.replace("Files: 1", "Files: 0")
        assert "Device Minor: \t 1" in sandbox.run("cat /proc/driver/gpus/0000:01:00.0/information").output
        for write in ("touch /proc/driver/x", "echo 1 > /proc/driver/params"):
            result = sandbox.run(write)
            assert result.exit_code != 0 and "Read-only file system" in result.output
    with Sandbox(workspace) as cpu:
        assert cpu.run("ls /dev | grep -c nvidia").output.strip() == "0"
        assert cpu.run("test -e /sys").exit_code == 1
        assert cpu.run("echo \"[$CUDA_VISIBLE_DEVICES]\"").output == "[]\n"


class _Env:
    """The harness's own venv (torch, CPU build) standing in for a task environment."""

    root = Path(sys.prefix)
    python = str(Path(sys.prefix) / "bin" / "python")

    def binds(self) -> list[Bind]:
        return [Bind(self.root, str(self.root))]

    def env(self) -> dict[str, str]:
        return {"PATH": str(self.root / "bin")}


def test_gpu_check_names_what_is_missing(tmp_path, gpu_host):
    """Past the host's driver and nodes, the check runs in a real GPU sandbox and says
    in one line each: no nvidia-smi, no torch, a CPU-only torch."""
    probes = {p.name: p for p in gpu.gpu_probes()}
    assert probes["NVIDIA driver"].ok and "550.54" in probes["NVIDIA driver"].detail
    assert probes["GPU device nodes"].detail == "/dev/nvidia0, /dev/nvidia1"
    assert not probes["nvidia-smi in the sandbox"].ok
    assert "nvidia-smi" in probes["nvidia-smi in the sandbox"].detail
    torch = probes["torch.cuda in the sandbox"]
    assert not torch.ok and torch.detail.startswith("no torch in the sandbox's python3")
    pytest.importorskip("torch")
    torch = {p.name: p for p in gpu.gpu_probes(1, task_env=_Env())}["torch.cuda in the sandbox"]
    assert not torch.ok and "CPU-only build" in torch.detail and "task environment" in torch.detail


def test_gpu_check_without_driver_says_so(tmp_path, monkeypatch):
    """No driver, no GPU (this machine): two plain lines, a non-zero exit, no traceback."""
    monkeypatch.setattr(gpu, "ROOT", str(tmp_path))
    outcome = CliRunner().invoke(cli, ["sandbox", "check", "--gpu"])
    assert outcome.exit_code != 0 and isinstance(outcome.exception, SystemExit)
    assert "FAIL  NVIDIA driver: no NVIDIA driver: /proc/driver/nvidia/version does not exist" in outcome.output
    assert "FAIL  GPU device nodes: no GPU: no /dev/nvidiaN device node exists" in outcome.output
    assert "Traceback" not in outcome.output and "nvidia-smi" not in outcome.output
    assert gpu.discover([1]).argv(None) == []  # a lease with nothing on the host binds nothing
