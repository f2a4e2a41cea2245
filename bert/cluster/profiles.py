"""Cluster profiles: what a job asks of Slurm (configs/cluster/NAME.yaml over `Profile`'s defaults),
chosen by the cluster itself with `auto` — the partition's GRES, as `sinfo` reports them, pick
slurm-gpu (gpu), slurm-ascend (npu, ascend, davinci) or slurm-cpu, with the partition and the
devices per node filled in — and the site file (configs/cluster/site.yaml, git-ignored; see
site.example.yaml) merged over whichever profile was chosen, for what `sinfo` cannot tell:
account, qos, the setup lines (module loads, the venv).

This module runs in the launchers, light processes: it never imports MindSpore.
"""
from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import yaml

from bert.cluster.launch import MAX_INPLACE_RESTARTS, MAX_RESTARTS, RENDEZVOUS_S

PROFILES = Path("configs") / "cluster"
SITE = PROFILES / "site.yaml"
GPU_GRES = ("gpu",)
NPU_GRES = ("npu", "ascend", "davinci")  # the names Ascend sites give their GRES
SINFO_TIMEOUT_S = 30  # without a slurm.conf, sinfo looks for a configless cluster for about a minute


class ProfileError(ValueError):
    """A profile that cannot be chosen or read; one line."""


@dataclasses.dataclass
class Profile:
    """A cluster's sbatch options and job environment (configs/cluster/NAME.yaml holds what differs
    from these defaults); slurm/*.sbatch's #SBATCH headers are slurm-cpu's (tests/test_jobs.py)."""

    partition: str | None = None  # Slurm partition; None: the cluster's default partition
    account: str | None = None  # --account to charge
    qos: str | None = None  # --qos
    time_min: int = 1440  # time limit per job, minutes; a job stopped by it saves and requeues itself
    devices_per_node: int = 1  # Slurm tasks per node: one per GPU/NPU, or CPU workers
    cpus_per_task: int | None = 1  # --cpus-per-task; None: Slurm's default
    mem_gb: int | None = None  # --mem per node, GB; None: Slurm's default
    gpus_per_node: int | None = None  # --gpus-per-node (NVIDIA nodes)
    gres: str | None = None  # --gres, e.g. npu:8 (Ascend nodes)
    setup: list = dataclasses.field(default_factory=list)  # shell lines run before the job, e.g. "source ~/venvs/bert/bin/activate"
    env: dict = dataclasses.field(default_factory=dict)  # exported to the job; MindSpore logs are off (GLOG_v=3) unless set here
    extra_sbatch: dict = dataclasses.field(default_factory=dict)  # any other #SBATCH option, e.g. {constraint: skylake}
    signal_delay_s: int = 120  # SIGUSR2 this long before the time limit: save, then requeue
    max_restarts: int = MAX_RESTARTS  # requeues per job after a worker failure (bert.cluster.launch)
    max_inplace_restarts: int = MAX_INPLACE_RESTARTS  # restarts inside the allocation before a requeue (same)
    rendezvous_timeout_s: float = RENDEZVOUS_S  # s for every task to come back for one; else its node is gone (same)

    def device(self) -> tuple[str, str]:
        """(device, why): what device_target=auto will find on these nodes — what the profile asks for."""
        if self.gres and gres_kind(self.gres.split(":")[0]) == "Ascend":
            return "Ascend", f"gres {self.gres}"
        if self.gpus_per_node or (self.gres and "gpu" in self.gres.lower()):
            return "GPU", f"gpus_per_node {self.gpus_per_node}" if self.gpus_per_node else f"gres {self.gres}"
        return "CPU", "no GPU or NPU requested"


def read_yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: not a mapping of profile fields")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(Profile)})
    if unknown:
        raise ProfileError(f"{path}: unknown key {unknown[0]}")
    return data


def load_profile(name: str) -> Profile:
    """configs/cluster/NAME.yaml, or a path to a profile file."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else PROFILES / f"{name}.yaml"
    if not path.is_file():
        if not PROFILES.is_dir():
            raise ProfileError(f"no {PROFILES} here: submit from the repository root")
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml") if not p.stem.startswith("site")))
        raise ProfileError(f"unknown cluster profile {name!r} (profiles: auto, {known})")
    return Profile(**read_yaml(path))


def with_site(profile: Profile, site: Path) -> Profile:
    """`profile` with the site file's fields over it: env and extra_sbatch merged key by key, every
    other field (setup included: the site knows its venv and modules) replaced."""
    data = read_yaml(site)
    for key in ("env", "extra_sbatch"):
        if key in data:
            data[key] = {**getattr(profile, key), **(data[key] or {})}
    return dataclasses.replace(profile, **data)


# ---------------------------------------------------------------- what sinfo says


@dataclasses.dataclass
class Partition:
    name: str
    default: bool
    groups: list[tuple[str, int]]  # (GRES, CPUs per node) of each kind of node in it


def gres_kind(name: str) -> str | None:
    """GPU, Ascend or None for a GRES name."""
    name = name.lower()
    return "GPU" if name in GPU_GRES else "Ascend" if name in NPU_GRES else None


def devices(gres: str) -> tuple[str, str, int] | None:
    """sinfo's %G of a node → (kind, GRES name, count) of its accelerators, or None.
    "gpu:8", "gpu:a100:8(S:0-1)", "npu:8,mps:100" → ("GPU", "gpu", 8), …; "(null)" → None."""
    for entry in re.split(r",(?![^(]*\))", gres):
        parts = re.sub(r"\(.*\)$", "", entry.strip()).split(":")
        if len(parts) >= 2 and gres_kind(parts[0]) and parts[-1].isdigit() and int(parts[-1]) > 0:
            return gres_kind(parts[0]), parts[0], int(parts[-1])
    return None


def parse_sinfo(text: str) -> list[Partition]:
    """`sinfo -h -o %P|%G|%c` lines (one per partition and kind of node) → partitions, in order."""
    out: dict[str, Partition] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, gres, cpus = line.split("|")
        default = name.endswith("*")
        part = out.setdefault(name.rstrip("*"), Partition(name.rstrip("*"), default, []))
        part.groups.append((gres, int(cpus.rstrip("+"))))
    return list(out.values())


def read_partitions() -> list[Partition]:
    try:
        run = subprocess.run(["sinfo", "-h", "-o", "%P|%G|%c"], capture_output=True, text=True, timeout=SINFO_TIMEOUT_S)
    except FileNotFoundError:
        raise ProfileError("sinfo not found, so the cluster cannot be read: pass --profile "
                           "(slurm-cpu, slurm-gpu, slurm-ascend or a file)") from None
    except subprocess.TimeoutExpired:
        raise ProfileError(f"sinfo did not answer in {SINFO_TIMEOUT_S} s: pass --profile (slurm-cpu, slurm-gpu, "
                           "slurm-ascend or a file)") from None
    if run.returncode != 0 or not run.stdout.strip():
        said = (run.stderr.strip().splitlines() or ["no partitions"])[-1]
        raise ProfileError(f"sinfo failed ({said}): pass --profile (slurm-cpu, slurm-gpu, slurm-ascend or a file)")
    return parse_sinfo(run.stdout)


def partition_of(partitions: list[Partition], name: str | None) -> Partition:
    """The partition `name`, or the cluster's default one."""
    for part in partitions:
        if part.name == name or (name is None and part.default):
            return part
    known = ", ".join(p.name + "*" * p.default for p in partitions)
    if name is None:
        raise ProfileError(f"the cluster has no default partition (partitions: {known}): pass --partition")
    raise ProfileError(f"no partition {name!r} on this cluster (partitions: {known})")


def accelerators(part: Partition) -> tuple[str, str, int] | None:
    """(kind, GRES name, count per node) when every node of the partition has them (the smallest count)."""
    found = [devices(gres) for gres, _ in part.groups]
    if not found or None in found or len({kind for kind, _, _ in found}) > 1:
        return None
    return found[0][0], found[0][1], min(count for _, _, count in found)


def auto_profile(partition: str | None) -> tuple[Profile, str]:
    """The profile the partition's nodes call for, filled in from sinfo, and one line saying why."""
    part = partition_of(read_partitions(), partition)
    found = accelerators(part)
    cpus = min(c for _, c in part.groups)
    gres = ",".join(sorted({g for g, _ in part.groups}))
    if found is None:
        profile = dataclasses.replace(load_profile("slurm-cpu"), partition=part.name)
        return profile, (f"profile slurm-cpu: partition {part.name} has no GPU or NPU GRES (gres {gres}), "
                         f"{cpus} CPUs per node")
    kind, name, count = found
    chosen = "slurm-gpu" if kind == "GPU" else "slurm-ascend"
    profile = dataclasses.replace(load_profile(chosen), partition=part.name, devices_per_node=count,
                                  cpus_per_task=max(cpus // count, 1), mem_gb=None)
    if kind == "GPU":
        profile.gpus_per_node, profile.gres = count, None
    else:
        profile.gpus_per_node, profile.gres = None, f"{name}:{count}"
    return profile, f"profile {chosen}: partition {part.name} has gres {gres}, {cpus} CPUs per node"


def check_partition(profile: Profile, name: str) -> None:
    """A GPU or NPU profile on a partition without them is refused (when sinfo can tell)."""
    wanted, _ = profile.device()
    if wanted == "CPU":
        return
    try:
        part = partition_of(read_partitions(), profile.partition)
    except ProfileError:
        return  # no sinfo, or a partition it does not list: Slurm itself will judge
    found = accelerators(part)
    if found is None or found[0] != wanted:
        gres = ",".join(sorted({g for g, _ in part.groups}))
        raise ProfileError(f"profile {name} asks for {wanted} devices but partition {part.name} has none "
                           f"(gres {gres}): pass --partition with them, or --profile auto")
