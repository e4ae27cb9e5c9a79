"""A throwaway single-node SLURM cluster (munged, slurmctld, slurmd) in a folder of its own.

The clients find the cluster through ``SLURM_CONF`` in ``env``, and SLURM finds munge through
``AuthInfo=socket=...``; the daemons' lifecycle is ``local_cluster``'s.

With ``enforce_memory`` a task's ``--mem`` is a cgroup memory limit: past it the kernel's OOM
killer ends the task and SLURM says OUT_OF_MEMORY, as on a production cluster. SLURM's other way,
``JobAcctGatherParams=OverMemoryKill``, also kills such a task, but SLURM 22.05 then says FAILED
(Reason=JobLaunchFailure), so a reader could not tell it from any other kill. The cgroup plugin is
the one the machine's memory controller asks for (``memory_cgroups``): cgroup/v1 where v1 holds
it, cgroup/v2 where a cgroup2 file system at /sys/fs/cgroup does (without systemd:
``IgnoreSystemd``, the plugin's own way for tests); a machine with neither (a hybrid one whose
memory controller is in neither place) cannot run the test, and says why.
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
CGROUPS = Path("/sys/fs/cgroup")
# Where SLURM's cgroup/v1 plugin makes the node's cgroups (its node is "localhost"), and where its
# cgroup/v2 plugin, without systemd, makes the steps' (IgnoreSystemd).
NODE_CGROUPS = "slurm_localhost"
STEP_CGROUPS = "system.slice"


def memory_cgroups(root: Path = CGROUPS) -> tuple[str | None, str | None]:
    """The cgroup plugin that can hold a task to its memory here (``cgroup/v1`` or
    ``cgroup/v2``) and None, or None and why neither can."""
    v1 = root / "memory"
    if (v1 / "memory.limit_in_bytes").exists():
        problem = _probe(v1)
        return ("cgroup/v1", None) if problem is None else (None, problem)
    controllers = root / "cgroup.controllers"
    if controllers.exists() and "memory" in controllers.read_text().split():
        problem = _probe(root)
        return ("cgroup/v2", None) if problem is None else (None, problem)
    unified = [
        f"{path.parent} holds {' '.join(path.read_text().split()) or 'none'}"
        for path in (controllers, root / "unified" / "cgroup.controllers")
        if path.exists()
    ]
    found = f" (cgroup v2 at {'; at '.join(unified)})" if unified else ""
    return None, (
        f"no memory controller in cgroup v1 ({v1}) or in cgroup v2 ({controllers}){found}:"
        " SLURM's task/cgroup has no memory to limit"
    )


def _probe(folder: Path) -> str | None:
    """Why no cgroup can be made under ``folder`` (the daemons run as this user), or None."""
    probe = folder / f"permtest-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        return f"cannot make a cgroup under {folder}: {error.strerror}"
    return None


class SlurmCluster(LocalCluster):
    """``with SlurmCluster(max_array_size=5) as cluster: subprocess.run(..., env=cluster.env)``."""

    def __init__(
        self,
        *,
        max_array_size: int = 1001,
        cpus: int = 2,
        memory_mb: int = 2048,
        enforce_memory: str | None = None,
    ) -> None:
        super().__init__("slurm-")
        self.max_array_size = max_array_size
        self.cpus = cpus
        # What the node offers jobs: without it SLURM assumes 1 MB and refuses any --mem. Well
        # below the machine's memory, or slurmd would drain the node.
        self.memory_mb = memory_mb
        self.enforce_memory = enforce_memory  # the cgroup plugin that does (memory_cgroups)
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
            (self.root / "cgroup.conf").write_text(self._cgroup_conf(), encoding="utf-8")
        if self.enforce_memory == "cgroup/v2":  # where slurmd puts its steps, without systemd
            (CGROUPS / STEP_CGROUPS).mkdir(exist_ok=True)
        self.spawn("slurmctld", "-D", "-i")
        self.spawn("slurmd", "-D", "-N", "localhost")
        self.wait_for(self._node_is_idle, "the node to be idle in sinfo", timeout=60)

    def _cgroup_conf(self) -> str:
        """cgroup/v1 as the machine mounts it; cgroup/v2 making its own hierarchy, without
        systemd (IgnoreSystemd, with CgroupAutomount enabling the controllers it needs)."""
        plugin = f"CgroupPlugin={self.enforce_memory}\nCgroupMountpoint={CGROUPS}\n"
        if self.enforce_memory == "cgroup/v2":
            plugin += "IgnoreSystemd=yes\nCgroupAutomount=yes\n"
        else:
            plugin += "CgroupAutomount=no\n"
        return plugin + "ConstrainRAMSpace=yes\nConstrainSwapSpace=yes\n"

    def stop(self) -> None:
        super().stop()
        if not self.enforce_memory:
            return
        # The cgroups slurmd made, emptied by now: removed, deepest first.
        if self.enforce_memory == "cgroup/v2":
            made = list((CGROUPS / STEP_CGROUPS).glob("*slurmstepd.scope"))
        else:
            made = [controller / NODE_CGROUPS for controller in CGROUPS.iterdir()]
        for node in made:
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
