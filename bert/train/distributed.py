"""Process group: MindSpore's communication (HCCL on Ascend, NCCL on GPU, mccl on CPU) set up
from what the launcher (msrun, or the MS_* variables of one-task-per-rank) put in the
environment; rank and world size come from MindSpore, never from the scheduler."""
from __future__ import annotations

import os

import mindspore as ms
from mindspore import ops
from mindspore.communication import get_group_size, get_rank, init

from bert.device import device_index, resolve
from bert.device_settings import apply


def launched_distributed() -> bool:
    """msrun and the env-var launch both set MS_WORKER_NUM / MS_ROLE for each worker."""
    return int(os.environ.get("MS_WORKER_NUM", "1")) > 1 or os.environ.get("MS_ROLE") == "MS_WORKER"


def setup(cfg) -> tuple[int, int]:
    """Select the run config's device (bert.device: `auto` follows what this process sees), check
    that it takes the config's precision and apply the device settings (bert.device_settings),
    switch on MindSpore's deterministic kernels and collectives if asked (before joining, as its
    docs require), and join the group if launched as several workers → (rank, world). Bad device
    → DeviceError before any work."""
    device, why = resolve(cfg.device_target)
    if device == "CPU":
        ms.set_device(device)
    else:  # one process per accelerator: the launcher (msrun or bert.cluster.launch) exports DEVICE_ID
        ms.set_device(device, device_index(device, int(os.environ.get("DEVICE_ID", "0"))))
    apply(device, cfg, why)
    print(f"device: {device} ({why})", flush=True)
    if cfg.deterministic:
        ms.set_deterministic(True)
    if not launched_distributed():
        return 0, 1
    init()
    rank, world = get_rank(), get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=False,
                                 device_num=world)
    return rank, world


def all_reduce_sum(values: list[float], world: int) -> list[float]:
    """Sum each value over all ranks (one small collective)."""
    if world == 1 or not values:
        return list(values)
    return [float(v) for v in ops.AllReduce()(ms.Tensor(values, ms.float32)).asnumpy()]
