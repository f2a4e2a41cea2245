"""Per-device run settings in one place, each with the MindSpore 2.10 doc it comes from.

| setting | CPU | GPU | Ascend | from |
|---|---|---|---|---|
| graph mode | `jit: true`: the train step is `mindspore.jit` | same | same | [jit] |
| `jit_level` | O0 (kernel by kernel; MindSpore's default); O1 compiles and gives O0's losses | O0; O1 adds graph-kernel fusion (experimental in 2.10; bench/device_check.py times it) | same as GPU | [jit], [levels] |
| `precision` | fp32 | fp32, fp16 | fp32, fp16, bf16 (bf16 from 910B/Atlas A2 on; a 910A has none, not detected here) | [bf16], [cann-bf16] |
| fp32 matmuls | fp32 | fp32: TF32 off (`matmul_allow_tf32` default) | fp32: `precision_mode` must_keep_origin_dtype, HF32 off | [tf32], [ascend-precision] |
| kept in fp32 under fp16/bf16 | — | parameters + optimizer state, LayerNorm, attention softmax, MLM softmax, every loss | same | [amp] |
| `max_device_memory` | the memory pool's cap | same | same | [memory] |
| collective timeouts | — | NCCL: none in MindSpore; MS_NODE_TIMEOUT decides | HCCL_CONNECT/EXEC_TIMEOUT (`WORKER_ENV`) | [hccl-connect], [hccl-exec], [cluster] |
| `deterministic` | `mindspore.set_deterministic` | same | same, + HCCL_DETERMINISTIC=true | [deterministic] |

Mixed precision is amp O2 (cells in the half type, parameters float32) with a longer black list:
amp's own (BatchNorm, `nn.LayerNorm`, which our LayerNorm subclasses) plus `nn.Softmax`, so the
attention probabilities are computed in float32 and handed on in the half type. The MLM
log-softmax runs in float32 inside `kernels.OutputNLL`; every loss casts its logits to float32
(bert.train.loss). bf16 has no MindSpore kernels on GPU ("only Ascend backend has adapted
operators"), and none run on this CPU, so bf16 is refused there; fp16 runs on the CPU and is tested.

[jit]: https://www.mindspore.cn/docs/en/r2.10.0/api_python/mindspore/mindspore.jit.html
[levels]: https://www.mindspore.cn/docs/en/master/design/multi_level_compilation.html
[bf16]: https://www.mindspore.cn/docs/en/master/api_python/bfloat16_support.html
[cann-bf16]: https://www.hiascend.com/document/detail/en/canncommercial/850/API/ascendcopapi/atlasascendc_api_07_0021.html
[tf32]: https://www.mindspore.cn/docs/en/master/api_python/device_context/mindspore.device_context.gpu.op_precision.matmul_allow_tf32.html
[ascend-precision]: https://www.mindspore.cn/docs/en/stable/api_python/device_context/mindspore.device_context.ascend.op_precision.precision_mode.html
[amp]: https://www.mindspore.cn/docs/en/master/api_python/amp/mindspore.amp.auto_mixed_precision.html
[memory]: https://www.mindspore.cn/docs/en/stable/api_python/runtime/mindspore.runtime.set_memory.html
[hccl-connect]: https://www.hiascend.com/document/detail/zh/canncommercial/850/maintenref/envvar/envref_07_0149.html
[hccl-exec]: https://www.hiascend.com/document/detail/zh/canncommercial/900/maintenref/envvar/envref_07_0078.html
[cluster]: https://www.mindspore.cn/tutorials/en/r2.10.0/parallel/dynamic_cluster.html
[deterministic]: https://www.mindspore.cn/docs/en/r2.10.0/api_python/mindspore/mindspore.set_deterministic.html
"""
# MindSpore is imported inside the functions that use it: this module runs in light processes (config
# checks, launchers).
from __future__ import annotations

import re

from bert.device import DeviceError

JIT_LEVELS = ("O0", "O1")  # mindspore.jit's
HALF = {"fp16": "float16", "bf16": "bfloat16"}
MEMORY_SIZE = re.compile(r"^([1-9]\d*(\.\d*)?|0\.\d*[1-9]\d*)GB$")  # max_device_memory: MindSpore's "xxGB" format
PRECISIONS = {"CPU": ("fp32",), "GPU": ("fp32", "fp16"), "Ascend": ("fp32", "fp16", "bf16")}

# What the launcher (bert.cluster.launch) puts in each worker's environment of a multi-process run, unless
# the profile's `env:` or the caller's environment sets it. A dead rank is found by MindSpore's cluster
# heartbeat, not by a collective's timeout: MS_NODE_TIMEOUT fails the surviving workers and the
# launcher requeues (tests/test_launch_path.py). The collective timeouts sit far above the longest
# healthy wait at a collective (rank 0 saving or evaluating while the others wait) and far above
# MS_NODE_TIMEOUT, so they never decide a failure the heartbeat has not already decided.
WORKER_ENV = {
    "MS_NODE_TIMEOUT": "30",  # s a rank may be silent before the others fail [cluster]
    "HCCL_CONNECT_TIMEOUT": "1200",  # s for all ranks to reach the group's first link (Ascend) [hccl-connect]
    "HCCL_EXEC_TIMEOUT": "1800",  # s a rank waits for the others at one collective (Ascend) [hccl-exec]
}


def check_precision(device: str, precision: str, why: str = "") -> None:
    """DeviceError unless `device` runs `precision`."""
    if precision in PRECISIONS[device]:
        return
    if device == "CPU":
        raise DeviceError(f"precision {precision} needs GPU or Ascend, and this run's device is CPU"
                          f"{f' ({why})' if why else ''}; use precision=fp32")
    raise DeviceError(f"precision {precision} does not run on {device} (MindSpore has bf16 kernels on Ascend "
                      f"only); use one of {', '.join(PRECISIONS[device])}")


def apply(device: str, cfg, why: str = "") -> None:
    """After `ms.set_device`: refuse a precision the device lacks (DeviceError), cap the memory pool."""
    import mindspore as ms

    check_precision(device, cfg.precision, why)
    if cfg.max_device_memory:
        ms.runtime.set_memory(max_size=cfg.max_device_memory)


def mixed_precision(model, precision: str):
    """Apply the mixed-precision policy to `model` in place (no-op for fp32): amp O2 (float16/bfloat16
    cells, float32 parameters) with LayerNorm and softmax kept in float32."""
    if precision == "fp32":
        return model
    import mindspore as ms
    from mindspore import amp, nn

    amp.custom_mixed_precision(model, black_list=[*amp.get_black_list(), nn.Softmax],
                               dtype=getattr(ms, HALF[precision]))
    return model
