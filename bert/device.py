"""The device of a run: `device_target` (auto | CPU | GPU | Ascend) + what this process can see in,
the MindSpore device and its index out — or one DeviceError line naming what is missing.

`auto` picks Ascend when NPUs are visible (ASCEND_RT_VISIBLE_DEVICES, else /dev/davinciN), GPU
when GPUs are (CUDA_VISIBLE_DEVICES — which Slurm sets for a GPU allocation — else /dev/nvidiaN),
else CPU. An accelerator, chosen or asked for, must be visible and its runtime libraries loadable
(the ones MindSpore 2.10's plugins link against), so a GPU job never trains on CPU by mistake.
"""
# MindSpore is imported inside device_name, the one function that uses it: this module runs in light
# processes (config checks, launchers, bert.doctor).
from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

from bert.config import ConfigError

DEVICES = ("CPU", "GPU", "Ascend")
CHOICES = ("auto", *DEVICES)
VISIBILITY = {"GPU": ("CUDA_VISIBLE_DEVICES", "nvidia"), "Ascend": ("ASCEND_RT_VISIBLE_DEVICES", "davinci")}
# What lib/plugin/libmindspore_gpu.so.11.6 (its NEEDED entries) and the Ascend plugin of the 2.10
# wheel load; the nvidia-*-cu11 wheels of requirements-gpu.txt provide the GPU ones.
LIBRARIES = {"GPU": ("libcudart.so.11.0", "libcublas.so.11", "libcudnn.so.8", "libcurand.so.10", "libcusolver.so.11",
                     "libcufft.so.10", "libcusparse.so.11", "libnvrtc.so.11.2"),
             "Ascend": ("libascendcl.so", "libhccl.so")}


class DeviceError(ConfigError):
    """A device that this process cannot use; the message names what is missing."""


def visible(env=None, dev: Path = Path("/dev")) -> dict[str, int]:
    """How many GPUs and NPUs this process may use."""
    env = os.environ if env is None else env
    counts = {}
    for device, (variable, node) in VISIBILITY.items():
        pattern = re.compile(rf"^{node}\d+$")
        if variable in env:
            value = env[variable].strip()
            counts[device] = 0 if value in ("", "-1", "NoDevFiles") else len(value.split(","))
        else:
            counts[device] = sum(1 for p in dev.iterdir() if pattern.match(p.name)) if dev.is_dir() else 0
    return counts


def missing_libraries(device: str) -> list[str]:
    """The runtime libraries of `device` that the dynamic loader cannot find."""
    missing = []
    for name in LIBRARIES.get(device, ()):
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def choose(requested: str, env=None, dev: Path = Path("/dev")) -> tuple[str, str]:
    """(device, why) for `requested`, from what is visible; nothing is checked yet."""
    if requested not in CHOICES:
        raise DeviceError(f"device_target {requested!r} is not one of {', '.join(CHOICES)}")
    if requested != "auto":
        return requested, "as configured"
    seen = visible(env, dev)
    device = next((d for d in ("Ascend", "GPU") if seen[d]), "CPU")
    return device, (f"auto: {seen[device]} visible" if device != "CPU" else "auto: no GPU or NPU visible")


def require(device: str, env=None, dev: Path = Path("/dev")) -> None:
    """Raise DeviceError unless `device` is visible and its runtime libraries load."""
    if device == "CPU":
        return
    env = os.environ if env is None else env
    variable, node = VISIBILITY[device]
    if not visible(env, dev)[device]:
        raise DeviceError(f"device_target {device}: no {device} is visible to this process "
                          f"({variable} {env.get(variable, 'unset')!r}, no {dev}/{node}N)")
    missing = missing_libraries(device)
    if missing:
        raise DeviceError(f"device_target {device}: MindSpore's {device} plugin needs {', '.join(missing)}, "
                          f"which the loader cannot find on LD_LIBRARY_PATH")


def resolve(requested: str, env=None, dev: Path = Path("/dev")) -> tuple[str, str]:
    """choose() then require(): the device this process will use, and why."""
    device, why = choose(requested, env, dev)
    require(device, env, dev)
    return device, why


def device_name() -> str:
    """The name of the device this process drives: "CPU", "NVIDIA A100-SXM4-80GB", "Ascend910B2"…
    (mindspore.hal, after the device is set)."""
    import mindspore as ms

    target = ms.get_context("device_target")
    if target == "CPU":
        return "CPU"
    return ms.hal.get_device_name(ms.get_context("device_id"), target)


def device_index(device: str, local_rank: int, env=None, dev: Path = Path("/dev")) -> int:
    """The accelerator a task drives: its local rank among the devices it sees (one when Slurm
    binds a device per task, all of the node's when it does not)."""
    if device == "CPU":
        return 0
    return local_rank % max(1, visible(env, dev)[device])
