"""Process group: MindSpore's communication (HCCL on Ascend, NCCL on GPU, mccl on CPU) set up
from what the launcher (msrun, or the MS_* variables of one-task-per-rank) put in the
environment; rank and world size come from MindSpore, never from the scheduler."""
from __future__ import annotations

import os

import mindspore as ms


def launched_distributed() -> bool:
    """msrun and the env-var launch both set MS_WORKER_NUM / MS_ROLE for each worker."""
    return int(os.environ.get("MS_WORKER_NUM", "1")) > 1 or os.environ.get("MS_ROLE") == "MS_WORKER"


def setup(device_target: str) -> tuple[int, int]:
    """Select the device and join the group if launched as several workers → (rank, world)."""
    ms.set_device(device_target)
    if not launched_distributed():
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init

    init()
    rank, world = get_rank(), get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=False,
                                 device_num=world)
    return rank, world  # on GPU/Ascend msrun's dynamic cluster binds each worker to its local device


def all_reduce_sum(value: float, world: int) -> float:
    if world == 1:
        return value
    from mindspore import ops

    return float(ops.AllReduce()(ms.Tensor([value], ms.float32)).asnumpy()[0])
