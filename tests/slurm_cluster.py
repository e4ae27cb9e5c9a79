"""A throwaway single-node SLURM cluster (munged, slurmctld, slurmd) in a folder of its own.

The clients find the cluster through ``SLURM_CONF`` in ``env``, and SLURM finds munge through
``AuthInfo=socket=...``; the daemons' lifecycle is ``local_cluster``'s.

With ``enforce_memory`` a task's ``--mem`` is a cgroup (v1) memory limit: past it the kernel's
OOM killer ends the task and SLURM says OUT_OF_MEMORY, as on a production cluster. SLURM's other
way, ``JobAcctGatherParams=OverMemoryKill``, also kills such a task, but SLURM 22.05 then says
FAILED (Reason=JobLaunchFailure), so a reader could not tell it from any other kill.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from pathlib import Path

from local_cluster import LocalCluster, free_port

# Debian: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")
MEMORY_CGROUPS = Path("/sys/fs/cgroup/memory")
# Where SLURM's cgroup/v1 plugin makes the node's cgroups (its node is "localhost").
NODE_CGROUPS = "slurm_localhost"


def memory_enforcement_problem() -> str | None:
    """Why this machine cannot give SLURM memory cgroups (v1), or None if it can."""
    if not (MEMORY_CGROUPS / "memory.limit_in_bytes").exists():
        return f"no cgroup v1 memory controller at {MEMORY_CGROUPS} (SLURM's task/cgroup needs one)"
    probe = MEMORY_CGROUPS / f"permtest-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        return f"cannot make a memory cgroup under {MEMORY_CGROUPS}: {error.strerror}"
    return None


class SlurmCluster(LocalCluster):
    """``with SlurmCluster(max_array_size=5) as cluster: subprocess.run(..., env=cluster.env)``."""

    def __init__(
        self,
        *,
        max_array_size: int = 1001,
        cpus: int = 2,
        memory_mb: int = 2048,
        enforce_memory: bool = False,
    ) -> None:
        super().__init__("slurm-")
        self.max_array_size = max_array_size
        self.cpus = cpus
        # What the node offers jobs: without it SLURM assumes 1 MB and refuses any --mem. Well
        # below the machine's memory, or slurmd would drain the node.
        self.memory_mb = memory_mb
        self.enforce_memory = enforce_memory
        self.conf = self.root / "slurm.conf"
        self.env["SLURM_CONF"] = str(self.conf)

    def start(self) -> None:
        for folder in ("state", "spool"):
            (self.root / folder).mkdir()
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        socket_path = self.root / "munge.socket"
        self.spawn(
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={self.root / 'munged.pid'}",
            f"--seed-file={self.root / 'munged.seed'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
        )
        self.wait_for(socket_path.exists, "munged to open its socket")
        self.conf.write_text(self._slurm_conf(socket_path), encoding="utf-8")
        if self.enforce_memory:  # found beside slurm.conf
            cgroups = "CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\n"
            limits = "CgroupAutomount=no\nConstrainRAMSpace=yes\nConstrainSwapSpace=yes\n"
            (self.root / "cgroup.conf").write_text(cgroups + limits, encoding="utf-8")
        self.spawn("slurmctld", "-D", "-i")
        self.spawn("slurmd", "-D", "-N", "localhost")
        self.wait_for(self._node_is_idle, "the node to be idle in sinfo", timeout=60)

    def stop(self) -> None:
        super().stop()
        if self.enforce_memory:  # the node's cgroups, emptied by slurmd: removed, deepest first
            for controller in Path("/sys/fs/cgroup").iterdir():
                node = controller / NODE_CGROUPS
                for folder in sorted(node.glob("**/"), key=lambda p: -len(p.parts)):
                    with contextlib.suppress(OSError):
                        folder.rmdir()

    def _slurm_conf(self, socket_path: Path) -> str:
        user = getpass.getuser()
        # With enforce_memory: memory is a consumable that a task's cgroup is limited to (a task
        # that gives no --mem gets DefMemPerCPU, not the whole node).
        if self.enforce_memory:
            tracking, tasks = "proctrack/cgroup", "task/cgroup"
            select = "CR_CPU_Memory\nDefMemPerCPU=500"
        else:
            tracking, tasks, select = "proctrack/linuxproc", "task/none", "CR_CPU"
        return f"""\
ClusterName=permtest
SlurmctldHost={socket.gethostname().split(".")[0]}
SlurmUser={user}
SlurmdUser={user}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={socket_path}
CredType=cred/munge
StateSaveLocation={self.root / "state"}
SlurmdSpoolDir={self.root / "spool"}
SlurmctldPidFile={self.root / "slurmctld.pid"}
SlurmdPidFile={self.root / "slurmd.pid"}
SlurmctldLogFile={self.root / "log" / "slurmctld.log"}
SlurmdLogFile={self.root / "log" / "slurmd.log"}
ProctrackType={tracking}
TaskPlugin={tasks}
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters={select}
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MaxArraySize={self.max_array_size}
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""

    def _node_is_idle(self) -> bool:
        states = self.run("sinfo", "--noheader", "--format=%t", check=False).stdout.split()
        return states == ["idle"]
