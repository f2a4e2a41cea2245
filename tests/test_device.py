"""device_target: `auto` follows what a task sees (visibility faked here: the choice itself), an
accelerator that cannot be served is one error line before any work (real: this CPU machine)."""
import pytest

from bert.device import DeviceError, choose, device_index, require, visible
from conftest import REPO, run_module


def fake_dev(tmp_path, *names):
    for name in names:
        (tmp_path / name).touch()
    return tmp_path


@pytest.mark.parametrize("env, nodes, expected", [
    ({}, (), ("CPU", "auto: no GPU or NPU visible")),
    ({"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, (), ("GPU", "auto: 4 visible")),  # what Slurm sets for --gpus
    ({}, ("nvidia0", "nvidia1", "nvidiactl"), ("GPU", "auto: 2 visible")),
    ({"CUDA_VISIBLE_DEVICES": ""}, ("nvidia0",), ("CPU", "auto: no GPU or NPU visible")),  # hidden on purpose
    ({"ASCEND_RT_VISIBLE_DEVICES": "6"}, ("nvidia0",), ("Ascend", "auto: 1 visible")),
    ({}, ("davinci0", "davinci1", "davinci_manager"), ("Ascend", "auto: 2 visible")),
])
def test_auto_picks_what_the_task_sees(tmp_path, env, nodes, expected):
    assert choose("auto", env, fake_dev(tmp_path, *nodes)) == expected


def test_an_explicit_device_is_kept_and_checked(tmp_path):
    dev = fake_dev(tmp_path)
    assert choose("CPU", {"CUDA_VISIBLE_DEVICES": "0"}, dev) == ("CPU", "as configured")
    with pytest.raises(DeviceError, match=r"device_target GPU: no GPU is visible to this process "
                                          r"\(CUDA_VISIBLE_DEVICES 'unset', no .*/nvidiaN\)"):
        require("GPU", {}, dev)
    # visible, but this machine has no CUDA 11 runtime: named, not a traceback from the plugin loader
    with pytest.raises(DeviceError, match=r"MindSpore's GPU plugin needs libcudart.so.11.0, libcublas.so.11, "
                                          r"libcudnn.so.8"):
        require("GPU", {"CUDA_VISIBLE_DEVICES": "0"}, dev)
    with pytest.raises(DeviceError, match="is not one of auto, CPU, GPU, Ascend"):
        choose("TPU", {}, dev)


def test_each_task_drives_its_own_device(tmp_path):
    eight = fake_dev(tmp_path, *(f"nvidia{i}" for i in range(8)))
    assert [device_index("GPU", rank, {}, eight) for rank in range(8)] == list(range(8))
    assert device_index("GPU", 5, {"CUDA_VISIBLE_DEVICES": "5"}, eight) == 0  # Slurm bound one GPU to the task
    assert visible({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, eight)["GPU"] == 0


@pytest.mark.parametrize("device, problem", [
    ("GPU", "device_target GPU: no GPU is visible to this process"),
    ("Ascend", "device_target Ascend: no Ascend is visible to this process"),
])
def test_training_on_a_device_this_machine_lacks_is_one_line(wiki_8k, tmp_path, device, problem):
    run = run_module("bert.pretrain", "--config", REPO / "configs" / "pretrain.yaml", f"data={wiki_8k['examples']}",
                     f"vocab={wiki_8k['vocab']}", "model.name=L2-H128", "max_seq_length=64",
                     "max_predictions_per_seq=10", f"output_dir={tmp_path}", f"device_target={device}")
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and problem in run.stderr, run.stderr
    assert not (tmp_path / "checkpoints").exists()
