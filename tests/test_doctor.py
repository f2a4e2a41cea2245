"""bert.doctor on this CPU machine (what a GPU or Ascend run would lack, named), its CANN reading, and
the install recipe's environment scripts (tools/gpu_env.sh, tools/ascend_env.sh)."""
import os
import subprocess
import sys

from bert import doctor
from conftest import REPO, run_module


def test_cpu_build_is_reported_and_usable():
    run = run_module("bert.doctor")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    import mindspore
    import numpy

    assert out.startswith(f"MindSpore {mindspore.__version__} (") and f"numpy {numpy.__version__}" in out
    assert "a MindSpore matmul ran: ok" in out
    assert "GPU: plugins for CUDA 11.1, 11.6" in out and "NCCL (bundled): 2.16.5" in out
    assert out.rstrip().endswith("device auto: CPU (auto: no GPU or NPU visible) — usable")


def test_a_gpu_run_is_refused_and_what_it_lacks_is_named(monkeypatch):
    run = run_module("bert.doctor", "--device", "GPU")
    assert run.returncode == 1
    assert run.stdout.splitlines()[-1].startswith("device GPU: NOT usable: device_target GPU: no GPU is visible")
    # this machine has no CUDA: every library the 11.6 plugin links is named, with the recipe
    assert ("libraries the plugin links: 0 of 8 found; missing libcudart.so.11.0, libcublas.so.11, libcudnn.so.8, "
            "libcurand.so.10, libcusolver.so.11, libcufft.so.10, libcusparse.so.11, libnvrtc.so.11.2 "
            "(requirements-gpu.txt + `source tools/gpu_env.sh`)") in run.stdout
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    visible = run_module("bert.doctor", "--device", "GPU")
    assert visible.returncode == 1 and "MindSpore's GPU plugin needs libcudart.so.11.0" in visible.stdout


def test_version_lists_are_mindsporess_own():
    from mindspore.run_check._check_version import AscendEnvChecker, GPUEnvChecker  # private: pinned 2.10

    assert tuple(AscendEnvChecker(None).version) == doctor.CANN_VERSIONS
    assert set(doctor.CUDA_PLUGINS) <= set(GPUEnvChecker(None).version)


def test_cann_home_and_version(tmp_path, monkeypatch):
    home = tmp_path / "cann"
    (home / "compiler").mkdir(parents=True)
    (home / "compiler" / "version.info").write_text("Version=8.5.0\nversion_dir=8.5\n")
    assert doctor.cann_home({"ASCEND_HOME_PATH": str(home)}) == home
    assert doctor.cann_version(home) == "8.5"
    monkeypatch.setenv("ASCEND_HOME_PATH", str(home))
    run = run_module("bert.doctor", "--device", "Ascend")
    assert run.returncode == 1 and f"CANN: {home}, version 8.5\n" in run.stdout
    (home / "compiler" / "version.info").write_text("Version=7.0.0\n")
    run = run_module("bert.doctor")
    assert "version 7.0 — not one MindSpore 2.10 accepts" in run.stdout


def source(script, *args, env):
    """`source tools/<script>` in bash, then print the variables it sets."""
    command = f'source "$0" "$@" && printf "%s\\n" "$LD_LIBRARY_PATH" "$CUDA_CACHE_PATH" "${{MARK:-}}"'
    return subprocess.run(["bash", "-c", command, str(REPO / "tools" / script), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_gpu_env_puts_the_cuda_wheels_first_and_a_persistent_kernel_cache(tmp_path):
    site = tmp_path / "site"
    for lib in ("cublas", "cudnn", "cuda_runtime"):
        (site / "nvidia" / lib / "lib").mkdir(parents=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(site), "LD_LIBRARY_PATH": "/opt/x"}
    run = source("gpu_env.sh", sys.executable, env=env)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    paths, cache, _ = run.stdout.splitlines()
    assert paths.split(":") == [str(site / "nvidia" / d / "lib") for d in ("cublas", "cuda_runtime", "cudnn")] + ["/opt/x"]
    assert cache == str(tmp_path / ".cache" / "bert-cuda-kernels")
    bare = source("gpu_env.sh", sys.executable, env={**env, "PYTHONPATH": str(tmp_path / "empty")})
    assert "no nvidia-*-cu11 wheels" in bare.stderr and bare.stdout.splitlines()[0] == "/opt/x"


def test_ascend_env_sources_canns_set_env(tmp_path):
    set_env = tmp_path / "my cann" / "set_env.sh"
    set_env.parent.mkdir()
    set_env.write_text("export MARK=sourced\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    assert source("ascend_env.sh", set_env, env=env).stdout.splitlines()[-1] == "sourced"
    assert source("ascend_env.sh", env={**env, "ASCEND_HOME_PATH": str(set_env.parent)}).stdout.splitlines()[-1] == "sourced"
    missing = source("ascend_env.sh", env=env)
    assert "no CANN set_env.sh found" in missing.stderr
