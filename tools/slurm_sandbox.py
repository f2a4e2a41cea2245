#!/usr/bin/env python3
"""A directory and a node count in, a local Slurm cluster on this one host out (munged, slurmctld, one slurmd per node).

    python tools/slurm_sandbox.py up [--dir DIR] [--nodes 2] [--cpus-per-node 2] [--gpu-nodes 0] [--accounting]
    . DIR/env.sh                                   # exports SLURM_CONF
    sinfo; srun -N2 -l printenv SLURMD_NODENAME; sbatch --wrap 'sleep 5'; scontrol show job ID
    python tools/slurm_sandbox.py status [--dir DIR]
    python tools/slurm_sandbox.py down [--dir DIR] [--purge]

For the tests and for trying the jobs/ and slurm/ scripts without a cluster. `up` installs
Debian's slurmctld, slurmd, slurm-client and munge with apt-get when they are missing (root
only; `apt-get update` only if the install fails without it), then starts everything as root
from DIR (default /tmp/slurm-sandbox):

    DIR/etc/slurm.conf  DIR/env.sh  DIR/sandbox.json (the settings of `up`)
    DIR/munge/          key (0600), socket, pid, log and seed file of a private munged
    DIR/state/          slurmctld's StateSaveLocation      DIR/spool/NODE/  each slurmd's spool
    DIR/run/*.pid       pidfiles                            DIR/log/*.log    daemon logs

Nodes node1..N all run on this host (`slurmd -N nodeK`, port 6828+K-1); tell them apart by
SLURMD_NODENAME / SLURM_NODEID and rendezvous on 127.0.0.1, since node names do not resolve.
Partitions: `debug` (default, PriorityTier=1, GraceTime=30) and `high` (PriorityTier=2), with
partition-priority preemption that requeues (REQUEUE, preempt_send_user_signal). --gpu-nodes G
adds nodes gpu1..G in a partition `gpu`, each declaring GRES gpu:2 (DIR/dev/gpu0..1, links to
/dev/null, stand for the device files): what sinfo and scontrol show of a GPU partition, for
choosing a profile; nothing computes on them. Finished jobs
stay visible to `scontrol show job` for an hour (MinJobAge=3600). The ports are fixed
(slurmctld 6817, slurmdbd 6819): one sandbox runs at a time, and `up` refuses to start when
another one holds them.

--accounting adds slurmdbd and a private MariaDB (datadir and socket under DIR/mysql, no TCP
port) so that `sacct` works; it installs Debian's slurmdbd and mariadb-server when missing.

`up` on a running sandbox with the same settings only reports it; one whose daemons died
(pidfiles of dead processes) is restarted, its state kept. `status` lists the daemons with
their PIDs and whether they are alive, then `sinfo`; it exits 0 when all are alive, else 1.
`down` cancels the jobs still queued or running (their processes would outlive slurmd; one
that ignores SIGTERM holds it up for KillWait=30 s), stops the daemons by the PIDs in their
pidfiles, waits for them to exit and keeps DIR for its logs; `down --purge` also removes DIR.
Every client command runs under `timeout`: Slurm's clients retry for minutes while a daemon
is down. MariaDB's socket comes from MYSQL_UNIX_PORT (slurmdbd.conf has no key for it), and
slurmdbd's munge socket from AccountingStoragePass (AuthInfo does not reach that connection).

Python: `env = Sandbox("/tmp/slurm-sandbox", nodes=2).up()` gives an environment for
subprocess (SLURM_CONF set, /usr/sbin and /usr/bin on PATH, inherited SLURM_* job variables
dropped); `.status()`, `.down()` and `.env` as above; `.lose_node("node2")` emulates a node that
dies (SIGKILL to its slurmd, its slurmstepd processes and its tasks) and `.restore_node("node2")`
brings it back.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

DEFAULT_DIR = Path("/tmp/slurm-sandbox")
CLUSTER = "sandbox"
SLURMCTLD_PORT = 6817
SLURMDBD_PORT = 6819
FIRST_SLURMD_PORT = 6828
MAX_NODES = 32
GPUS_PER_NODE = 2  # the GRES count of each --gpu-nodes node
BASE_PACKAGES = {"slurmctld": "slurmctld", "slurmd": "slurmd", "sbatch": "slurm-client", "munged": "munge",
                 "mungekey": "munge"}
ACCOUNTING_PACKAGES = {"slurmdbd": "slurmdbd", "mariadbd": "mariadb-server", "mariadb-install-db": "mariadb-server",
                       "mariadb": "mariadb-client"}
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
UP_STATES = {"idle", "mixed", "allocated", "completing"}  # the node responds and takes jobs
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
KILL_WAIT_S = 30  # Slurm's default KillWait, kept: jobs that ignore SIGTERM get 30 s to save and exit
CLIENT_TIMEOUT_S = 10


class SandboxError(Exception):
    """The sandbox cannot be brought up, inspected or down as asked."""


class Unavailable(SandboxError):
    """This machine cannot have the sandbox: not root, or packages missing and no way to install them."""


@dataclasses.dataclass
class Daemon:
    """One daemon of the sandbox: how it is shown, its pidfile and the process name its PID must have."""

    name: str
    pidfile: Path
    comm: str

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def alive(self) -> bool:
        """True when the pidfile names a live process called `comm`."""
        pid = self.pid()
        return pid is not None and process_alive(pid, self.comm)

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after STOP_TIMEOUT_S, wait until it is gone, then remove the pidfile."""
        pid = self.pid()  # kept: slurmd removes its pidfile as soon as it starts shutting down
        for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5)):
            if pid is None or not process_alive(pid, self.comm):
                break
            try:
                os.kill(pid, sig)
            except ProcessLookupError:  # it exited since the check
                break
            deadline = time.monotonic() + wait_s
            while process_alive(pid, self.comm) and time.monotonic() < deadline:
                time.sleep(0.1)
        if pid is not None and process_alive(pid, self.comm):
            raise SandboxError(f"{self.name} (pid {pid}) survived SIGKILL")
        self.pidfile.unlink(missing_ok=True)


@dataclasses.dataclass
class Status:
    """Each daemon's PID (None without a pidfile) and liveness, and what `sinfo` said."""

    directory: Path
    daemons: list[tuple[str, int | None, bool]]
    sinfo: str

    @property
    def running(self) -> bool:
        return all(alive for _, _, alive in self.daemons)

    def __str__(self) -> str:
        alive = sum(a for _, _, a in self.daemons)
        word = "running" if self.running else "stopped" if not alive else "partly running"
        lines = [f"sandbox {self.directory}: {word}"]
        lines += [f"  {name:<14} pid {pid if pid else '-':<8} {'alive' if ok else 'dead'}"
                  for name, pid, ok in self.daemons]
        return "\n".join([*lines, self.sinfo])


def process_alive(pid: int, comm: str) -> bool:
    """True when `pid` is a live (not zombie) process named `comm`: a reused PID does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2]
    return name == comm and state not in "ZX"


def process_tree_of_node(node: str) -> tuple[list[int], list[int]]:
    """(step daemons, task processes) of `node`: the live processes whose SLURMD_NODENAME is `node`
    (its tasks and what they started), and the slurmstepd processes above them."""
    tasks, stepds = [], set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or a kernel thread
            continue
        if f"SLURMD_NODENAME={node}".encode() not in environ:
            continue
        tasks.append(int(entry.name))
        parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        while parent > 1 and not process_alive(parent, "slurmstepd"):
            try:
                parent = int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                break
        if parent > 1:
            stepds.add(parent)
    return sorted(stepds), tasks


def which(program: str) -> str | None:
    return shutil.which(program, path=os.pathsep.join([os.environ.get("PATH", ""), *SYSTEM_PATH]))


def ensure_packages(programs: dict[str, str]) -> float:
    """Program → Debian package in, the seconds spent installing the packages of the missing programs out."""
    missing = sorted({package for program, package in programs.items() if not which(program)})
    if not missing:
        return 0.0
    if not which("apt-get"):
        raise Unavailable(f"missing {', '.join(missing)} and no apt-get to install them")
    if os.geteuid() != 0:
        raise Unavailable(f"missing {', '.join(missing)}; installing them needs root")
    start = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [which("apt-get"), "install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300",
               *missing]
    run = subprocess.run(install, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        update = subprocess.run([which("apt-get"), "update", "-o", "DPkg::Lock::Timeout=300"], env=env,
                                capture_output=True, text=True)
        if update.returncode != 0:
            raise Unavailable(f"missing {', '.join(missing)}; `apt-get update` failed: {tail(update.stderr)}")
        run = subprocess.run(install, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise SandboxError(f"`apt-get install {' '.join(missing)}` failed: {tail(run.stderr or run.stdout)}")
    still = sorted(program for program in programs if not which(program))
    if still:
        raise SandboxError(f"installed {', '.join(missing)} but {', '.join(still)} still not found")
    return time.monotonic() - start


def tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return True
    return False


def short_hostname() -> str:
    return socket.gethostname().split(".")[0]


def node_memory_mb(nodes: int) -> int:
    """Nine tenths of this host's memory split over the nodes, in MB (slurm.conf RealMemory)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return max(int(line.split()[1]) * 9 // 10 // 1024 // nodes, 100)
    raise SandboxError("/proc/meminfo has no MemTotal")


class Sandbox:
    """A sandbox directory and its settings in, a running (or stopped) local Slurm cluster out."""

    def __init__(self, directory: str | os.PathLike = DEFAULT_DIR, nodes: int = 2, cpus_per_node: int = 2,
                 accounting: bool = False, gpu_nodes: int = 0):
        if not 1 <= nodes <= MAX_NODES:
            raise SandboxError(f"--nodes must be 1..{MAX_NODES}, got {nodes}")
        if cpus_per_node < 1:
            raise SandboxError(f"--cpus-per-node must be >= 1, got {cpus_per_node}")
        if not 0 <= gpu_nodes <= MAX_NODES - nodes:
            raise SandboxError(f"--gpu-nodes must be 0..{MAX_NODES - nodes}, got {gpu_nodes}")
        self.dir = Path(directory).absolute()
        self.nodes, self.cpus_per_node, self.accounting, self.gpu_nodes = nodes, cpus_per_node, accounting, gpu_nodes
        self.conf = self.dir / "etc" / "slurm.conf"
        self.dbd_conf = self.dir / "etc" / "slurmdbd.conf"
        self.munge_socket = self.dir / "munge" / "munge.socket"
        self.mysql_socket = self.dir / "mysql" / "mysqld.sock"
        self.node_names = [f"node{k}" for k in range(1, nodes + 1)] + [f"gpu{k}" for k in range(1, gpu_nodes + 1)]
        self.install_seconds = self.up_seconds = 0.0  # measured by up()
        self.already_running = False
        self.children: list[subprocess.Popen] = []  # daemons started without a fork of their own
        if len(str(self.munge_socket)) >= 100:  # AF_UNIX paths stop at 107 bytes
            raise SandboxError(f"--dir is too long for a unix socket path: {self.dir}")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Sandbox":
        """The sandbox that `up` made in `directory`, with the settings it recorded in sandbox.json."""
        settings = Path(directory).absolute() / "sandbox.json"
        try:
            return cls(directory, **json.loads(settings.read_text()))
        except FileNotFoundError:
            raise SandboxError(f"no sandbox in {Path(directory).absolute()} (no sandbox.json): run `up` first")
        except (ValueError, TypeError) as exc:
            raise SandboxError(f"{settings} is not a sandbox's settings file: {exc}")

    # ---- what it consists of

    def daemons(self) -> list[Daemon]:
        """In start order."""
        run = self.dir / "run"
        daemons = [Daemon("munged", self.dir / "munge" / "munged.pid", "munged")]
        if self.accounting:
            daemons += [Daemon("mariadbd", self.dir / "mysql" / "mariadbd.pid", "mariadbd"),
                        Daemon("slurmdbd", run / "slurmdbd.pid", "slurmdbd")]
        daemons.append(Daemon("slurmctld", run / "slurmctld.pid", "slurmctld"))
        daemons += [Daemon(f"slurmd {n}", run / f"slurmd-{n}.pid", "slurmd") for n in self.node_names]
        return daemons

    @property
    def env(self) -> dict[str, str]:
        """os.environ with SLURM_CONF, the system bin dirs on PATH and no inherited SLURM_* job variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
        env["PATH"] = os.pathsep.join(path + [p for p in SYSTEM_PATH if p not in path])
        env["SLURM_CONF"] = str(self.conf)
        return env

    def slurm_conf(self) -> str:
        d, host, nodes = self.dir, short_hostname(), self.node_names
        node_list = f"node[1-{self.nodes}]" if self.nodes > 1 else "node1"
        accounting = (["AccountingStorageType=accounting_storage/slurmdbd", "AccountingStorageHost=127.0.0.1",
                       f"AccountingStoragePort={SLURMDBD_PORT}", "JobAcctGatherType=jobacct_gather/linux",
                       # the munge socket of connections to slurmdbd is this key's, not AuthInfo's
                       f"AccountingStoragePass={self.munge_socket}"]
                      if self.accounting else [])
        memory = node_memory_mb(len(nodes))
        gpus = [n for n in nodes if n.startswith("gpu")]
        return "\n".join([
            f"# Written by tools/slurm_sandbox.py: {self.nodes} nodes on this host, everything under {d}",
            f"ClusterName={CLUSTER}",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={SLURMCTLD_PORT}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={d}/state", f"SlurmdSpoolDir={d}/spool/%n",
            f"SlurmctldPidFile={d}/run/slurmctld.pid", f"SlurmdPidFile={d}/run/slurmd-%n.pid",
            f"SlurmctldLogFile={d}/log/slurmctld.log", f"SlurmdLogFile={d}/log/slurmd-%n.log",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
            "SlurmdParameters=config_overrides",
            "MailProg=/bin/true", "ReturnToService=2", "MinJobAge=3600",
            "MaxArraySize=3",  # small, as some sites set it: larger arrays are split (bert.cluster.submit)
            "PreemptType=preempt/partition_prio", "PreemptMode=REQUEUE",
            "SlurmctldParameters=preempt_send_user_signal",
            *accounting,
            *(["GresTypes=gpu"] if gpus else []),
            *(f"NodeName={n} NodeHostname={host} NodeAddr=127.0.0.1 Port={FIRST_SLURMD_PORT + i} "
              f"CPUs={self.cpus_per_node} RealMemory={memory}{f' Gres=gpu:{GPUS_PER_NODE}' * (n in gpus)} "
              f"State=UNKNOWN" for i, n in enumerate(nodes)),
            f"PartitionName=debug Nodes={node_list} Default=YES PriorityTier=1 GraceTime=30 MaxTime=INFINITE State=UP",
            f"PartitionName=high Nodes={node_list} PriorityTier=2 MaxTime=INFINITE State=UP",
            *([f"PartitionName=gpu Nodes={','.join(gpus)} PriorityTier=1 MaxTime=INFINITE State=UP"] if gpus else []),
            ""])

    def slurmdbd_conf(self) -> str:
        d = self.dir
        return "\n".join([
            "# Written by tools/slurm_sandbox.py",
            "AuthType=auth/munge", f"AuthInfo=socket={self.munge_socket}",
            "DbdHost=localhost", "DbdAddr=127.0.0.1", f"DbdPort={SLURMDBD_PORT}", "SlurmUser=root",
            f"PidFile={d}/run/slurmdbd.pid", f"LogFile={d}/log/slurmdbd.log",
            "StorageType=accounting_storage/mysql", "StorageHost=localhost", "StorageUser=root",
            "StorageLoc=slurm_acct_db",
            ""])

    def gres_conf(self) -> str:
        """The gpu nodes' GPUs: links to /dev/null standing for device files (slurmd counts a GPU per File)."""
        files = f"{self.dir}/dev/gpu[0-{GPUS_PER_NODE - 1}]"
        return "".join(f"NodeName={n} Name=gpu File={files}\n" for n in self.node_names if n.startswith("gpu"))

    def settings(self) -> dict:
        return {"nodes": self.nodes, "cpus_per_node": self.cpus_per_node, "accounting": self.accounting,
                "gpu_nodes": self.gpu_nodes}

    # ---- clients

    def client(self, *args: str, timeout_s: int = CLIENT_TIMEOUT_S) -> subprocess.CompletedProcess:
        """A Slurm (or munge/MariaDB) client command under `timeout`; its output as text."""
        return subprocess.run(["timeout", "-k", "2", str(timeout_s), *args], env=self.env, capture_output=True,
                              text=True)

    def node_states(self) -> dict[str, str]:
        run = self.client("sinfo", "-h", "-N", "-o", "%N %T")
        return dict(line.split()[:2] for line in run.stdout.splitlines() if len(line.split()) >= 2)

    # ---- up / status / down

    def status(self) -> Status:
        daemons = [(d.name, d.pid(), d.alive()) for d in self.daemons()]
        if not any(name == "slurmctld" and alive for name, _, alive in daemons):
            return Status(self.dir, daemons, "sinfo: not run, slurmctld is not alive")
        run = self.client("sinfo")
        return Status(self.dir, daemons, run.stdout.rstrip() if run.returncode == 0
                      else f"sinfo failed ({run.returncode}): {tail(run.stderr)}")

    def up(self) -> dict[str, str]:
        """Install what is missing, start what is not running, wait until every node is up; returns self.env."""
        if os.geteuid() != 0:
            raise Unavailable("the sandbox runs its daemons as root (SlurmUser=root): run it as root")
        self.install_seconds = ensure_packages({**BASE_PACKAGES, **(ACCOUNTING_PACKAGES if self.accounting else {})})
        start = time.monotonic()
        marker = self.dir / "sandbox.json"
        if self.dir.exists() and not marker.exists() and any(self.dir.iterdir()):
            raise SandboxError(f"{self.dir} exists, is not empty and holds no sandbox: choose another --dir")
        if marker.exists():
            recorded = json.loads(marker.read_text())
            daemons = Sandbox.load(self.dir).daemons()
            if recorded != self.settings() and any(d.alive() for d in daemons):
                raise SandboxError(f"the sandbox in {self.dir} runs with {recorded}, not {self.settings()}: "
                                   "run `down` first")
            if recorded == self.settings() and all(d.alive() for d in daemons) and self.wait_for_nodes(10):
                self.already_running, self.up_seconds = True, time.monotonic() - start
                return self.env
            self.stop_all(daemons)  # stale or partial: restart all of it
        self.prepare()
        try:
            self.start_daemons()
            if not self.wait_for_nodes(START_TIMEOUT_S):
                raise SandboxError(f"nodes not idle after {START_TIMEOUT_S} s: {self.node_states() or 'no sinfo'}; "
                                   f"see {self.dir}/log")
        except BaseException:
            self.stop_all(self.daemons())  # leave nothing half up; the logs stay
            raise
        self.up_seconds = time.monotonic() - start
        return self.env

    def prepare(self) -> None:
        """Directories, munge key and config files under DIR (the key and the state survive a restart)."""
        for busy in [SLURMCTLD_PORT, *(FIRST_SLURMD_PORT + i for i in range(len(self.node_names))),
                     *([SLURMDBD_PORT] if self.accounting else [])]:
            if port_in_use(busy):
                raise SandboxError(f"port {busy} is in use: another Slurm (sandbox) runs on this host; stop it first")
        for sub in ("etc", "munge", "state", "run", "log", *(f"spool/{n}" for n in self.node_names),
                    *(["mysql"] if self.accounting else [])):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for path in [self.dir, *self.dir.parents]:
            if not path.stat().st_mode & 0o001:
                raise SandboxError(f"{path} is not world-executable (munge needs every parent of --dir to be): "
                                   "choose another --dir")
        for path in [self.dir, self.dir / "munge"]:
            path.chmod(0o755)
        key = self.dir / "munge" / "munge.key"
        if not key.exists():
            made = subprocess.run([which("mungekey"), "-c", "-k", str(key)], capture_output=True, text=True)
            if made.returncode != 0:
                raise SandboxError(f"mungekey failed: {tail(made.stderr)}")
        key.chmod(0o600)
        self.conf.write_text(self.slurm_conf())
        (self.conf.parent / "gres.conf").write_text(self.gres_conf())
        if self.gpu_nodes:
            (self.dir / "dev").mkdir(exist_ok=True)
            for k in range(GPUS_PER_NODE):  # slurmd wants character devices: /dev/null stands in
                device = self.dir / "dev" / f"gpu{k}"
                if not device.is_symlink():
                    device.symlink_to("/dev/null")
        if self.accounting:
            self.dbd_conf.write_text(self.slurmdbd_conf())
            self.dbd_conf.chmod(0o600)  # slurmdbd refuses a config others can read
        (self.dir / "env.sh").write_text(f"# source me: . {self.dir}/env.sh\nexport SLURM_CONF={self.conf}\n")
        (self.dir / "sandbox.json").write_text(json.dumps(self.settings()) + "\n")

    def start_daemons(self) -> None:
        m = self.dir / "munge"
        self.start("munged", [which("munged"), "--key-file", str(m / "munge.key"), "--socket", str(self.munge_socket),
                              "--pid-file", str(m / "munged.pid"), "--log-file", str(m / "munged.log"),
                              "--seed-file", str(m / "munged.seed")])
        if self.accounting:
            self.start_accounting()
        self.start("slurmctld", [which("slurmctld"), "-f", str(self.conf)])
        for node in self.node_names:
            self.start(f"slurmd {node}", [which("slurmd"), "-f", str(self.conf), "-N", node])

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        """Run a self-daemonizing daemon and wait (bounded) until its pidfile names a live process."""
        daemon = next(d for d in self.daemons() if d.name == name)
        errors = self.dir / "log" / f"{name.replace(' ', '-')}.stderr"
        with open(errors, "w") as err:
            run = subprocess.run(command, env=env or self.env, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                 timeout=START_TIMEOUT_S)
        self.wait_alive(daemon, lambda: run.returncode or None, errors)

    def wait_alive(self, daemon: Daemon, failed: Callable[[], int | None], errors: Path) -> None:
        """Wait until `daemon` is alive; `failed()` gives the exit status of a start that failed, else None."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not daemon.alive():
            if failed() is not None or time.monotonic() > deadline:
                raise SandboxError(f"{daemon.name} did not start (exit {failed()}): "
                                   f"{tail(errors.read_text()) or 'no output'}; see {self.dir}/log")
            time.sleep(0.05)

    def start_accounting(self) -> None:
        """A private MariaDB on a unix socket under DIR/mysql, slurm_acct_db, slurmdbd, the cluster registered."""
        mysql = self.dir / "mysql"
        data = mysql / "data"
        if not data.exists():
            made = subprocess.run([which("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root",
                                   "--auth-root-authentication-method=socket", "--skip-test-db"],
                                  capture_output=True, text=True, timeout=120)
            if made.returncode != 0:
                shutil.rmtree(data, ignore_errors=True)
                raise SandboxError(f"mariadb-install-db failed: {tail(made.stderr or made.stdout)}")
        errors = self.dir / "log" / "mariadbd.log"
        command = [which("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={self.mysql_socket}",
                   f"--pid-file={mysql / 'mariadbd.pid'}", "--skip-networking", "--user=root",
                   "--innodb-lock-wait-timeout=900"]  # slurmdbd warns below that
        with open(errors, "w") as err:  # mariadbd stays in the foreground: detach it
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                       start_new_session=True)
        self.children.append(process)
        mariadbd = next(d for d in self.daemons() if d.name == "mariadbd")
        self.wait_alive(mariadbd, process.poll, errors)
        sql = "CREATE DATABASE IF NOT EXISTS slurm_acct_db"
        deadline = time.monotonic() + START_TIMEOUT_S
        while (made := self.client(which("mariadb"), "--no-defaults", f"--socket={self.mysql_socket}", "-u", "root",
                                   "-e", sql)).returncode != 0:
            if time.monotonic() > deadline or not mariadbd.alive():
                raise SandboxError(f"MariaDB did not take `{sql}`: {tail(made.stderr)}; see {errors}")
            time.sleep(0.2)
        # slurmdbd.conf has no socket key; the MariaDB client library takes it from MYSQL_UNIX_PORT.
        self.start("slurmdbd", [which("slurmdbd")], {**self.env, "MYSQL_UNIX_PORT": str(self.mysql_socket)})
        deadline = time.monotonic() + START_TIMEOUT_S
        listing = ("sacctmgr", "-n", "-P", "list", "cluster", "format=cluster")
        while CLUSTER not in (listed := self.client(*listing)).stdout:
            added = self.client("sacctmgr", "-i", "add", "cluster", CLUSTER)
            if added.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise SandboxError(f"`sacctmgr add cluster {CLUSTER}` failed: {tail(added.stderr or listed.stderr)}")
            time.sleep(0.5)

    def lose_node(self, node: str) -> list[int]:
        """Emulate a node that dies: SIGKILL its slurmd, its step daemons and every process of its
        tasks, at once and without a word to slurmctld; → the pids killed. restore_node() brings it back."""
        daemon = next(d for d in self.daemons() if d.name == f"slurmd {node}")
        slurmd = [daemon.pid()] if daemon.alive() else []
        stepds, tasks = process_tree_of_node(node)
        for pid in [*slurmd, *stepds, *tasks]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return [*slurmd, *stepds, *tasks]

    def restore_node(self, node: str) -> None:
        """Start a lost node's slurmd again and wait until it takes jobs (ReturnToService=2)."""
        self.start(f"slurmd {node}", [which("slurmd"), "-f", str(self.conf), "-N", node])
        if not self.wait_for_nodes(START_TIMEOUT_S):
            raise SandboxError(f"{node} not back after {START_TIMEOUT_S} s: {self.node_states()}; see {self.dir}/log")

    def wait_for_nodes(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            states = self.node_states()
            if all(states.get(node) in UP_STATES for node in self.node_names):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.3)

    def down(self, purge: bool = False) -> None:
        """Cancel the sandbox's jobs, stop its daemons (last started first), remove DIR with purge=True."""
        if not (self.dir / "sandbox.json").exists():
            if purge and self.dir.exists():
                raise SandboxError(f"{self.dir} holds no sandbox (no sandbox.json): not removing it")
            return
        daemons = Sandbox.load(self.dir).daemons()
        left = []
        if all(d.alive() for d in daemons if d.name in ("munged", "slurmctld")):
            left = self.cancel_jobs()
        self.stop_all(daemons)
        if left:
            raise SandboxError(f"stopped the daemons, but jobs {','.join(left)} had not ended: their processes may "
                               "still run (slurmstepd)")
        if purge:
            shutil.rmtree(self.dir)

    def stop_all(self, daemons: list[Daemon]) -> None:
        """Stop the daemons, last started first, and reap the ones this process started (mariadbd)."""
        for daemon in reversed(daemons):
            daemon.stop()
        while self.children:
            self.children.pop().wait(timeout=5)

    def cancel_jobs(self) -> list[str]:
        """scancel every queued or running job, wait until they are gone; returns those that are not."""
        jobs = self.client("squeue", "-h", "-o", "%A").stdout.split()
        if jobs:
            self.client("scancel", *jobs)
        deadline = time.monotonic() + KILL_WAIT_S + 10  # SIGKILL comes KillWait after SIGTERM
        while jobs and time.monotonic() < deadline:
            time.sleep(0.3)
            jobs = self.client("squeue", "-h", "-o", "%A").stdout.split()
        return jobs


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"error: {message} (see --help)\n")


def main(argv=None) -> int:
    parser = _Parser(prog="python tools/slurm_sandbox.py", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{up,status,down}")
    up = commands.add_parser("up", help="install if needed and start the sandbox (no-op when it runs)")
    status = commands.add_parser("status", help="daemons with PIDs alive/dead, then sinfo; exit 1 unless all alive")
    down = commands.add_parser("down", help="cancel jobs, stop the daemons by PID, keep DIR for its logs")
    for sub in (up, status, down):
        sub.add_argument("--dir", default=str(DEFAULT_DIR), help=f"the sandbox directory (default {DEFAULT_DIR})")
    up.add_argument("--nodes", type=int, default=2, help=f"slurmd daemons node1..N, 1..{MAX_NODES} (default 2)")
    up.add_argument("--cpus-per-node", type=int, default=2, help="CPUs each node offers (default 2)")
    up.add_argument("--gpu-nodes", type=int, default=0,
                    help=f"nodes gpu1..G in a partition gpu, each declaring GRES gpu:{GPUS_PER_NODE} (stand-in devices)")
    up.add_argument("--accounting", action="store_true", help="also slurmdbd + a private MariaDB, for sacct")
    down.add_argument("--purge", action="store_true", help="remove DIR after stopping")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            sandbox = Sandbox(args.dir, args.nodes, args.cpus_per_node, args.accounting, args.gpu_nodes)
            sandbox.up()
            if sandbox.install_seconds:
                print(f"installed the Debian packages in {sandbox.install_seconds:.1f} s")
            how = "already running" if sandbox.already_running else f"up in {sandbox.up_seconds:.1f} s"
            print(f"sandbox {sandbox.dir} {how}: {sandbox.nodes} nodes x {sandbox.cpus_per_node} CPUs, "
                  f"partitions debug (default) and high{f', gpu ({sandbox.gpu_nodes} nodes)' * bool(sandbox.gpu_nodes)}"
                  f"{', sacct' if sandbox.accounting else ''}\n"
                  f"  . {sandbox.dir}/env.sh      # then sinfo, srun, sbatch, squeue, scontrol"
                  f"{', sacct' if sandbox.accounting else ''}\n"
                  f"  python tools/slurm_sandbox.py status|down --dir {sandbox.dir}")
            return 0
        if not (Path(args.dir) / "sandbox.json").exists():
            if args.command == "status":
                print(f"sandbox {Path(args.dir).absolute()}: none (run `up`)")
                return 1
            Sandbox(args.dir).down(getattr(args, "purge", False))
            print(f"sandbox {Path(args.dir).absolute()}: nothing to stop")
            return 0
        sandbox = Sandbox.load(args.dir)
        if args.command == "status":
            state = sandbox.status()
            print(state)
            return 0 if state.running else 1
        start = time.monotonic()
        sandbox.down(args.purge)
        print(f"sandbox {sandbox.dir} down in {time.monotonic() - start:.1f} s"
              f"{', removed' if args.purge else f'; logs in {sandbox.dir}/log'}")
        return 0
    except (SandboxError, OSError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
