"""Training checkpoints: the full training state in, a directory per save out — written under a
temporary name and renamed, `latest` pointing at the newest complete one, the last K kept.

A checkpoint directory is also a model directory (bert_config.json + model.safetensors), so
`bert.convert.load_pretrained` and finetuning read it directly. Besides it holds
`train_state.safetensors` (optimizer moments and step, loss scale, skipped-step count, gradient
buffers) and `state.json` (step, data cursor, seed, the steps not yet logged to TensorBoard, the
resolved config). Dropout needs nothing more: its masks follow from seed and step (bert.dropout).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
from safetensors import SafetensorError

from bert.atomic import atomic_directory, write_text_atomic
from bert.model_dir import (CONFIG_FILE, WEIGHTS_FILE, CheckpointError, assign_state,
                             check_config_match, load_state, save_state)
from bert.config import BertConfig

LATEST = "latest"
STATE_FILE = "state.json"
TRAIN_STATE_FILE = "train_state.safetensors"
STEP_DIR = re.compile(r"^step_(\d{8})$")


def split_state(train_step) -> tuple[dict, dict]:
    """(model weights, everything else) of a TrainStep, as name → numpy array."""
    model_names = {p.name for p in train_step.loss_net.model.get_parameters()}
    model, rest = {}, {}
    for p in train_step.get_parameters():
        (model if p.name in model_names else rest)[p.name] = p.asnumpy()
    return model, rest


class CheckpointManager:
    """The step_* checkpoints of one run's checkpoints/ folder and its `latest` pointer."""

    def __init__(self, directory: str | Path, keep: int | None = None):
        self.directory = Path(directory)
        self.keep = keep  # newest complete checkpoints save() leaves (RunConfig.keep_checkpoints); None: all

    def complete(self) -> list[Path]:
        """Complete checkpoints, oldest first (temporary folders never match STEP_DIR)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir()
                      if STEP_DIR.match(p.name) and (p / STATE_FILE).is_file())

    def latest(self) -> Path | None:
        """The newest complete checkpoint; None for a fresh run. A `latest` that names a missing
        step while no complete checkpoint is left is an error, not a fresh start."""
        pointer = self.directory / LATEST
        named = pointer.read_text().strip() if pointer.is_file() else None
        if named and (self.directory / named / STATE_FILE).is_file():
            return self.directory / named
        done = self.complete()
        if not done and named:
            raise CheckpointError(f"{pointer} names {named}, which is missing or incomplete, and "
                                  f"{self.directory} holds no other complete checkpoint")
        return done[-1] if done else None  # `latest` lost or pointing at a removed folder

    def save(self, train_step, config: BertConfig, state: dict) -> Path:
        """Write the step's checkpoint, point `latest` at it, drop the oldest beyond `keep`. A write
        that fails (a full or broken filesystem) leaves the previous checkpoint and `latest` as they
        were and is a CheckpointError naming the filesystem, its free space and the bytes needed."""
        model, rest = split_state(train_step)
        target = self.directory / f"step_{state['step']:08d}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_directory(target) as tmp:
                config.to_json_file(tmp / CONFIG_FILE)
                save_state(tmp / WEIGHTS_FILE, model)
                save_state(tmp / TRAIN_STATE_FILE, rest)
                write_text_atomic(tmp / STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")
            write_text_atomic(self.directory / LATEST, target.name + "\n")
        except (OSError, SafetensorError) as exc:  # safetensors reports its write errors as its own
            needed = sum(a.nbytes for a in (*model.values(), *rest.values()))
            mount, free = filesystem_of(self.directory)
            reason = getattr(exc, "strerror", None) or re.sub(r"^.*I/O error: | \(os error \d+\)$", "", str(exc))
            raise CheckpointError(f"saving step {state['step']} failed: {reason}; the filesystem at "
                                  f"{mount} has {free / 2**20:.0f} MiB free, a checkpoint needs ~{needed / 2**20:.0f} "
                                  f"MiB; {self.latest() or 'no earlier checkpoint'} is intact") from None
        for old in self.complete()[: -self.keep] if self.keep else ():
            shutil.rmtree(old, ignore_errors=True)
        return target

    def restore(self, path: Path, train_step, config: BertConfig, in_place: bool = False) -> dict:
        """Load everything saved at `path` into `train_step` (`in_place`: one that has run already,
        bert.model_dir.assign_state); returns the saved state.json."""
        check_config_match(config, BertConfig.from_file(path / CONFIG_FILE), f"checkpoint {path}")
        weights = load_state(path / WEIGHTS_FILE)
        weights.update(load_state(path / TRAIN_STATE_FILE))
        # checkpoints written before the loss scale was saved: fp32 runs' static scale 1 is the init anyway
        assign_state(train_step, weights, missing_ok=("loss_scale.",), source=f"checkpoint {path}", in_place=in_place)
        return json.loads((path / STATE_FILE).read_text())


def weights_only(path: Path) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """The model part of a checkpoint (for --init: phase 2 from phase 1)."""
    if not (path / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{path} holds no {WEIGHTS_FILE}")
    return BertConfig.from_file(path / CONFIG_FILE), load_state(path / WEIGHTS_FILE)


def resolve_init(path: Path, key: str = "init") -> Path:
    """A checkpoints/ folder means its newest complete checkpoint; anything else is used as is.
    A path that does not exist (nor as a TF checkpoint prefix) is a CheckpointError naming `key`."""
    if not path.exists() and not Path(f"{path}.index").is_file():
        raise CheckpointError(f"{key} {path} does not exist")
    latest = CheckpointManager(path).latest() if path.is_dir() else None
    return latest or path


def filesystem_of(path: Path) -> tuple[Path, int]:
    """(mount point, free bytes) of the filesystem that holds `path`, or would."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    free = shutil.disk_usage(path).free
    while path.parent != path and os.stat(path.parent).st_dev == os.stat(path).st_dev:
        path = path.parent
    return path, free


def check_writable(directory: Path, needed_bytes: int = 0) -> None:
    """Fail now, not at the first save, when `directory` cannot take a checkpoint: created if
    missing, a probe file written and removed, and `needed_bytes` free."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-probe{os.getpid()}"
        probe.write_bytes(b"\0" * 4096)
        probe.unlink()
    except OSError as exc:
        raise CheckpointError(f"output_dir {directory} is not writable: {exc.strerror or exc}") from None
    free = shutil.disk_usage(directory).free
    if free < needed_bytes:
        raise CheckpointError(f"output_dir {directory} has {free / 2**20:.0f} MiB free, a checkpoint needs "
                              f"~{needed_bytes / 2**20:.0f} MiB")
