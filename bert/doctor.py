"""What this node can train on, in one screen: the MindSpore build and its device plugins, the
devices this process sees, and for GPU and Ascend every runtime library MindSpore 2.10's plugin
needs — found (with its version) or missing — and what a run with `--device` would lack. Run it on
a login node after the install recipe (README, "On GPU and Ascend nodes") and inside a job.

    python -m bert.doctor [--device auto|CPU|GPU|Ascend]

Exit code 0 when `--device` (default auto) is usable here, 1 when it is not (the last line says why).
"""
# MindSpore is imported inside report(): the command line is parsed (and --help answered) before it loads.
from __future__ import annotations

import argparse
import ctypes
import os
import platform
import sys
from pathlib import Path

import numpy as np

from bert.device import CHOICES, LIBRARIES, DeviceError, missing_libraries, resolve, visible

# MindSpore 2.10's own lists (mindspore/run_check/_check_version.py): the CUDA versions its GPU
# plugins are built for, and the CANN versions its Ascend checker accepts.
CUDA_PLUGINS = ("11.1", "11.6")
CANN_VERSIONS = ("8.2", "8.3", "8.5", "9.0", "9.1")
# Where the CANN toolkit's set_env.sh usually is (Huawei's default install prefixes).
CANN_HOMES = ("/usr/local/Ascend/ascend-toolkit/latest", "/usr/local/Ascend/cann")


def _version(library: str, function: str, decode) -> str | None:
    """A version number read by calling `function` of `library` (None when it does not load)."""
    try:
        lib = ctypes.CDLL(library)
    except OSError:
        return None
    try:
        return decode(lib, getattr(lib, function))
    except (AttributeError, OSError):
        return "unknown version"


def _int_out(lib, fn) -> int:
    value = ctypes.c_int()
    fn(ctypes.byref(value))
    return value.value


def cuda_versions(nccl: Path | None) -> dict[str, str | None]:
    """Driver, runtime, cuDNN and (the bundled) NCCL versions that load here; None: not found."""
    def dotted(v: int, major: int, minor: int) -> str:
        return f"{v // major}.{v % major // minor}"

    return {
        "driver (libcuda.so.1)": _version("libcuda.so.1", "cuDriverGetVersion", lambda l, f: dotted(_int_out(l, f), 1000, 10)),
        "runtime (libcudart.so.11.0)": _version("libcudart.so.11.0", "cudaRuntimeGetVersion",
                                                lambda l, f: dotted(_int_out(l, f), 1000, 10)),
        "cuDNN (libcudnn.so.8)": _version("libcudnn.so.8", "cudnnGetVersion",
                                          lambda l, f: (lambda v: f"{v // 1000}.{v % 1000 // 100}.{v % 100}")(f())),
        "NCCL (bundled)": _version(str(nccl), "ncclGetVersion",
                                   lambda l, f: (lambda v: f"{v // 10000}.{v % 10000 // 100}.{v % 100}")(_int_out(l, f)))
        if nccl else None,
    }


def cann_home(env=None) -> Path | None:
    """The CANN toolkit this process would use: ASCEND_HOME_PATH (set by set_env.sh), else a default prefix."""
    env = os.environ if env is None else env
    for candidate in (env.get("ASCEND_HOME_PATH"), *CANN_HOMES):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def cann_version(home: Path) -> str | None:
    """major.minor of the toolkit at `home` (its compiler/version.info, as MindSpore reads it)."""
    info = home / "compiler" / "version.info"
    if not info.is_file():
        return None
    for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Version="):
            return ".".join(line.split("=", 1)[1].strip().split(".")[:2])
    return None


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def report(device: str) -> tuple[list[str], str | None]:
    """The screen's lines, and the reason `device` is unusable here (None: usable)."""
    import mindspore as ms

    root = Path(ms.__file__).parent
    plugins = root / "lib" / "plugin"
    lines = [f"MindSpore {ms.__version__} ({root}), Python {platform.python_version()}, numpy {np.__version__}"
             + ("  ← numpy 2 breaks MindSpore 2.10: pin numpy 1.26.4" if np.__version__.startswith("2") else "")]
    flags = cpu_flags()
    ran = ms.ops.matmul(ms.Tensor(np.eye(2, dtype=np.float32)), ms.Tensor(np.ones((2, 2), np.float32))).asnumpy()
    lines.append(f"CPU: {os.cpu_count()} cores, {platform.machine()}, AVX2 {'yes' if 'avx2' in flags else 'no'}, "
                 f"AVX-512 {'yes' if 'avx512f' in flags else 'no'}; a MindSpore matmul ran: "
                 f"{'ok' if ran.sum() == 4 else 'WRONG RESULT'}")
    seen = visible()
    gpu_builds = [v for v in CUDA_PLUGINS if (plugins / f"libmindspore_gpu.so.{v}").is_file()]
    nccl = next((p for v in reversed(gpu_builds) if (p := plugins / f"gpu{v}" / "libnccl.so.2").is_file()), None)
    lines.append(f"GPU: plugins for CUDA {', '.join(gpu_builds) or 'none (a CPU-only build)'}; "
                 f"visible: {seen['GPU']} (CUDA_VISIBLE_DEVICES {os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")
    for name, version in cuda_versions(nccl).items():
        lines.append(f"  {name}: {version or 'not found'}")
    gpu_missing = missing_libraries("GPU")
    lines.append(f"  libraries the plugin links: {len(LIBRARIES['GPU']) - len(gpu_missing)} of {len(LIBRARIES['GPU'])} "
                 f"found" + (f"; missing {', '.join(gpu_missing)} (requirements-gpu.txt + "
                             f"`source tools/gpu_env.sh`)" if gpu_missing else ""))
    home = cann_home()
    version = cann_version(home) if home else None
    lines.append(f"Ascend: plugin {'present' if (plugins / 'libmindspore_ascend.so.2').is_file() else 'absent'} "
                 f"(MindSpore accepts CANN {', '.join(CANN_VERSIONS)}); visible: {seen['Ascend']} "
                 f"(ASCEND_RT_VISIBLE_DEVICES {os.environ.get('ASCEND_RT_VISIBLE_DEVICES', 'unset')})")
    if home is None:
        lines.append("  CANN: not found (ASCEND_HOME_PATH unset, nothing in "
                     f"{' or '.join(CANN_HOMES)}; `source tools/ascend_env.sh`)")
    else:
        ok = version in CANN_VERSIONS
        lines.append(f"  CANN: {home}, version {version or 'unknown'}" + ("" if ok else " — not one MindSpore 2.10 accepts"))
    ascend_missing = missing_libraries("Ascend")
    lines.append(f"  libraries: {len(LIBRARIES['Ascend']) - len(ascend_missing)} of {len(LIBRARIES['Ascend'])} found"
                 + (f"; missing {', '.join(ascend_missing)}" if ascend_missing else ""))
    try:
        chosen, why = resolve(device)
    except DeviceError as exc:
        return lines, str(exc)
    lines.append(f"device {device}: {chosen} ({why}) — usable")
    return lines, None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bert.doctor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=CHOICES, help="the device_target to check (default auto)")
    args = parser.parse_args(argv)
    lines, problem = report(args.device)
    print("\n".join(lines))
    if problem:
        print(f"device {args.device}: NOT usable: {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
