"""Faults a long run meets and what it does: a loss that stays non-finite stops the run in one line
with a code the launcher does not retry, saving nothing after the last good step; a disk that fills
up while saving is one line, and the previous checkpoint and `latest` stay intact and loadable; a
worker that makes no step prints every thread's stack and exits, and the same command resumes."""
import errno
import subprocess

import numpy as np
import pytest

from bert.cluster.launch import Launch, Layout
from bert.train import checkpoints
from bert.train.checkpoints import CheckpointManager
from bert.train.cli import BAD_INPUT, NOT_LEARNING
from bert.train.watchdog import BLOCK_READ_ENV, FLOOR_S, StepWatchdog
from conftest import run_module
from test_pretrain import args_for


class FakeStep:
    """What CheckpointManager.save reads of a train step: parameters with names and values."""

    class Param:
        def __init__(self, name, value):
            self.name, self.value = name, value

        def asnumpy(self):
            return self.value

    def __init__(self, value: float):
        self.params = [self.Param("w", np.full(1000, value, np.float32)), self.Param("adam_m.w", np.zeros(1000))]
        self.loss_net = type("LossNet", (), {"model": type("Model", (), {"get_parameters": lambda _: self.params[:1]})()})()

    def get_parameters(self):
        return self.params


def test_a_failed_save_is_one_line_and_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    from bert.config import BertConfig
    from bert.model_dir import CheckpointError, load_state

    config = BertConfig.from_name("L2-H128")
    manager = CheckpointManager(tmp_path / "checkpoints", keep=2)
    first = manager.save(FakeStep(1.0), config, {"step": 2})
    real = checkpoints.save_state

    def full_disk(path, state):
        if path.name == checkpoints.TRAIN_STATE_FILE:  # the weights written, the disk full after them
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, state)

    monkeypatch.setattr(checkpoints, "save_state", full_disk)
    with pytest.raises(CheckpointError) as failure:
        manager.save(FakeStep(2.0), config, {"step": 4})
    message = str(failure.value)
    assert "\n" not in message and message.startswith("saving step 4 failed: No space left on device; the filesystem at ")
    assert "MiB free, a checkpoint needs ~0 MiB" in message and f"{first} is intact" in message
    assert manager.latest() == first and [p.name for p in (tmp_path / "checkpoints").iterdir()] in (
        ["latest", "step_00000002"], ["step_00000002", "latest"])  # nothing half-written left
    assert load_state(first / checkpoints.WEIGHTS_FILE)["w"][0] == 1.0


@pytest.mark.parametrize("code", [BAD_INPUT, NOT_LEARNING])
def test_the_launcher_does_not_retry_a_run_that_cannot_be_helped(code, tmp_path, capsys):
    launch = Launch("pretrain", [], log_dir=tmp_path)
    assert launch._after(code, Layout(rank=0, world=1, job_id="42", scheduler="slurm"), attempt=0) == "done"
    assert not launch.requeued and not (tmp_path / "restarts").exists()
    assert capsys.readouterr().out == ""


@pytest.mark.slow  # trains
def test_a_run_that_stops_learning_stops_in_one_line_and_saves_nothing_after(wiki_8k, tmp_path):
    """lr 1e20 once warmup lifts it: every step from the third is NaN and skipped (kept from before)."""
    run = run_module("bert.pretrain", *args_for(wiki_8k, tmp_path, "total_steps=40", "save_steps=1",
                                                "optim.warmup_steps=4", "optim.learning_rate=1e20",
                                                "max_skipped_in_a_row=5"))
    assert run.returncode == NOT_LEARNING, run.stderr[-2000:]
    assert run.stderr.count("\n") == 1, run.stderr  # nothing else: tensorboardX's NaN warnings silenced
    last_good = CheckpointManager(tmp_path / "checkpoints").latest()
    good = int(last_good.name.removeprefix("step_"))
    assert f"the last good checkpoint is {last_good}" in run.stderr
    stopped = int(run.stderr.split("error: step ")[1].split(":")[0])
    assert stopped == good + 5  # five non-finite steps in a row, none of them saved
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*"))[-1] == last_good.name


@pytest.mark.slow  # trains
def test_a_disk_that_fills_up_while_saving_is_one_line_and_the_last_checkpoint_stands(wiki_8k, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"no tmpfs here: {mounted.stderr.strip()}")
    try:  # an L2-H128 checkpoint with an 8k vocab is ~18 MB: the first fits, the second does not
        run = run_module("bert.pretrain", *args_for(wiki_8k, disk / "out", "save_steps=2",
                                                    f"log_dir={tmp_path / 'logs'}"))
        assert run.returncode == BAD_INPUT, run.stderr[-2000:]
        assert run.stderr.count("\n") == 1, run.stderr
        latest = CheckpointManager(disk / "out" / "checkpoints").latest()
        assert latest.name == "step_00000002"
        assert run.stderr.startswith("error: saving step 4 failed: No space left on device; "
                                     f"the filesystem at {disk} has ")
        assert f"{latest} is intact" in run.stderr
        assert [p.name for p in (disk / "out" / "checkpoints").iterdir() if p.name.startswith(".")] == []
        from bert.model_dir import load_state

        assert load_state(latest / checkpoints.WEIGHTS_FILE)  # loadable
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_the_step_watchdogs_window_follows_the_measured_steps():
    derived, fixed = StepWatchdog(None), StepWatchdog(5.0)
    try:
        assert derived.timeout() == FLOOR_S and fixed.timeout() == 5.0
        derived.steps.extend([0.05] * 50)  # small steps: the floor
        assert derived.timeout() == FLOOR_S
        derived.steps.extend([60.0] * 51)  # one-minute steps: 20 of them (the median of the last 100)
        assert derived.timeout() == 1200.0
        assert StepWatchdog(0).timeout() == 0  # off: beat() arms nothing
    finally:
        derived.stop()


@pytest.mark.slow  # trains
def test_a_worker_that_makes_no_step_prints_its_stacks_and_exits_and_the_same_command_resumes(wiki_8k, tmp_path,
                                                                                              monkeypatch):
    marker = tmp_path / "blocked-once"
    monkeypatch.setenv(BLOCK_READ_ENV, f"0:3:{marker}")  # the read after step 3 never returns, once
    args = args_for(wiki_8k, tmp_path / "out", "step_timeout=3")
    hung = run_module("bert.pretrain", *args)
    assert hung.returncode == 1 and marker.is_file(), hung.stderr[-3000:]
    assert "step: 2/" in hung.stdout and "step: 3/" not in hung.stdout  # blocked before step 3 was logged
    assert "Timeout (0:00:03)!" in hung.stderr
    stack = hung.stderr.split("Timeout (0:00:03)!")[1]
    assert "in block_read_for_tests" in stack and "in train" in stack  # where the main thread was stuck
    again = run_module("bert.pretrain", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resumed from {tmp_path / 'out' / 'checkpoints' / 'step_00000002'} at step 2" in again.stdout


def test_both_doors_hand_the_rendezvous_timeout_to_the_launch_path(tmp_path, monkeypatch):
    """sbatch: RENDEZVOUS_TIMEOUT → run_stage.sh → --rendezvous-timeout (the lost-node test runs it);
    submitit: the profile's rendezvous_timeout_s → StageJob → the same Launch."""
    from pathlib import Path

    from bert.cluster import launch as launch_module
    from bert.cluster.profiles import Profile
    from bert.cluster.submit import Plan

    seen = []
    monkeypatch.setattr(Launch, "run", lambda self: seen.append(self.rendezvous_s) or 0)
    monkeypatch.chdir(tmp_path)
    Plan("local", Profile(rendezvous_timeout_s=7), 1, 1, "t", tmp_path, False).job("prepare", [])()
    assert launch_module.main(["--rendezvous-timeout", "9", "prepare"]) == 0
    assert seen == [7, 9]
    assert "RENDEZVOUS_TIMEOUT:+--rendezvous-timeout" in (Path(__file__).parents[1] / "slurm" / "run_stage.sh").read_text()


def test_tasks_join_one_in_place_restart_and_a_task_that_never_comes_back_turns_it_into_a_requeue(tmp_path,
                                                                                                   monkeypatch):
    """The launch path's decision without a cluster: the record in <log dir>/restarts/<job>.json."""
    import json
    import threading

    requeued = []
    monkeypatch.setattr(Launch, "_requeue", lambda self, layout, why: requeued.append((layout.rank, why)))
    tasks = [Launch("prepare", [], log_dir=tmp_path) for _ in range(2)]
    layouts = [Layout(rank=rank, world=2, job_id="42", scheduler="slurm") for rank in range(2)]
    outcomes = {}
    threads = [threading.Thread(target=lambda r=rank: outcomes.__setitem__(r, tasks[r]._restart_after_failure(
        -9 if r else 1, layouts[r], attempt=0))) for rank in range(2)]
    threads[1].start()  # rank 1's worker failed; rank 0's stopped by its launcher, later
    threads[0].start()
    for thread in threads:
        thread.join()
    assert outcomes == {0: "again", 1: "again"} and requeued == []
    record = json.loads((tmp_path / "restarts" / "42.json").read_text())
    assert [(f["rank"], f["cause"], f["action"]) for f in record["failures"]] in (
        [(1, "killed by SIGKILL", "in place")], [(0, "exited with code 1", "in place")])
    assert sorted(record["back"]["0.1"]) == [0, 1]

    tasks[0].rendezvous_s = 0.5  # rank 1's node is gone: only rank 0 comes back
    assert tasks[0]._restart_after_failure(1, layouts[0], attempt=1) == "done"
    (rank, why), = requeued
    assert rank == 0 and why == ("rank 0's worker exited with code 1; rank(s) 1 did not come back within 0.5 s "
                                 "(their node is gone); restart 1 of at most 3")
    record = json.loads((tmp_path / "restarts" / "42.json").read_text())
    assert [f["action"] for f in record["failures"]] == ["in place", "requeue"]


@pytest.mark.slow  # trains
def test_rollback_reloads_the_last_good_checkpoint_past_the_batches_since_and_stops_when_its_tries_run_out(wiki_8k,
                                                                                                          tmp_path):
    """lr 1e20 stays: every rollback meets non-finite steps again, so the tries run out (a passing cause,
    a bad stretch of data, would be left behind by the skipped batches)."""
    import re

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = run_module("bert.pretrain", *args_for(wiki_8k, tmp_path, "total_steps=40", "save_steps=1",
                                                "optim.warmup_steps=4", "optim.learning_rate=1e20",
                                                "max_skipped_in_a_row=3", "on_nonfinite=rollback", "max_rollbacks=2",
                                                "rollback_skip_batches=5"))
    assert run.returncode == NOT_LEARNING, run.stderr[-2000:]
    last_good = CheckpointManager(tmp_path / "checkpoints").latest()
    good = int(last_good.name.removeprefix("step_"))
    rollbacks = re.findall(r"^rollback (\d) of at most 2: step (\d+) ended 3 non-finite steps in a row; reloaded "
                           r"(\S+) \(step (\d+)\) and continue at data position (\d+), (\d+) batches skipped in all$",
                           run.stdout, re.M)
    assert [r[0] for r in rollbacks] == ["1", "2"], run.stdout[-3000:]
    skipped = 0
    for _, stuck, reloaded, step, position, skipped_in_all in rollbacks:
        assert reloaded == str(last_good) and int(step) == good  # nothing saved while stuck
        assert int(position) == int(stuck) + skipped + 5  # past the batches since the checkpoint, and 5 more
        skipped = int(skipped_in_all)
        assert int(position) == good + skipped
    assert run.stderr.count("\n") == 1 and "in a row (max_skipped_in_a_row=3) after 2 rollback(s)" in run.stderr
    events = EventAccumulator(str(next((tmp_path / "logs").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("faults/rollbacks")] == [(good, 1.0), (good, 2.0)]
    assert max(e.step for e in events.Scalars("train/loss")) == good + 3  # the rolled-back steps purged, logged anew


@pytest.mark.slow  # trains
def test_rollback_leaves_a_bad_stretch_of_data_behind_and_resumes_exactly(wiki_8k, tmp_path):
    """A corpus whose rows of data positions 2 and 3 (steps 3 and 4) carry infinite masked-LM weights
    (corrupt data): two non-finite steps, a rollback to step 2 past them, then a run that learns; a
    run killed after the rollback resumes to the same weights."""
    import re

    from bert.data.mindrecord import COLUMNS, read_rows, shard_files
    from bert.data.mindrecord_writer import write_shard
    from bert.data.shards import write_stats
    from bert.train.data import BlockPermutation
    from conftest import kill_after_checkpoint
    from test_pretrain import STEPS, final_weights, losses

    rows = [row for shard in shard_files(wiki_8k["examples"]) for row in read_rows(shard)]
    columns = {name: np.stack([row[name] for row in rows]) for name in COLUMNS}
    order = BlockPermutation(len(rows), 16, 7, 0)  # the feed's epoch-0 order for seed 7
    columns["masked_lm_weights"][order(np.arange(2 * 8, 4 * 8))] = np.inf  # 8 rows per step, one rank
    shard = tmp_path / "bad" / "corrupt.mindrecord"
    write_shard(shard, [columns])
    write_stats(shard, {"instances": len(rows)})  # what marks a shard complete
    args = args_for({**wiki_8k, "examples": tmp_path / "bad"}, tmp_path / "a", "seed=7", "save_steps=1",
                    "max_skipped_in_a_row=2", "on_nonfinite=rollback")
    whole = run_module("bert.pretrain", *args)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert re.search(rf"^rollback 1 of at most 3: step 4 ended 2 non-finite steps in a row; reloaded "
                     rf"{re.escape(str(tmp_path / 'a' / 'checkpoints' / 'step_00000002'))} \(step 2\) and continue at "
                     r"data position 4, 2 batches skipped in all$", whole.stdout, re.M), whole.stdout[-3000:]
    found = losses(whole.stdout)  # the last line of each step: after the rollback
    assert sorted(found) == list(range(1, STEPS + 1)) and all(np.isfinite(v).all() for v in found.values())

    b = [str(a).replace(str(tmp_path / "a"), str(tmp_path / "b")) for a in args]
    kill_after_checkpoint(["-m", "bert.pretrain", *b], tmp_path / "b" / "checkpoints" / "step_00000005")
    resumed = run_module("bert.pretrain", *b)
    assert resumed.returncode == 0 and not re.search(r"^rollback ", resumed.stdout, re.M), resumed.stderr[-3000:]
    ours, ref = final_weights(tmp_path / "b"), final_weights(tmp_path / "a")
    for name in ref:
        np.testing.assert_array_equal(ours[name], ref[name], err_msg=name)
