"""A throwaway single-node SLURM cluster (munged, slurmctld, slurmd) in a folder of its own.

The clients find the cluster through ``SLURM_CONF`` in ``env``, and SLURM finds munge through
``AuthInfo=socket=...``; the daemons' lifecycle is ``local_cluster``'s.
"""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

from local_cluster import LocalCluster, free_port

# Debian: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")


class SlurmCluster(LocalCluster):
    """``with SlurmCluster(max_array_size=5) as cluster: subprocess.run(..., env=cluster.env)``."""

    def __init__(self, *, max_array_size: int = 1001, cpus: int = 2, memory_mb: int = 2048) -> None:
        super().__init__("slurm-")
        self.max_array_size = max_array_size
        self.cpus = cpus
        # What the node offers jobs: without it SLURM assumes 1 MB and refuses any --mem. Well
        # below the machine's memory, or slurmd would drain the node.
        self.memory_mb = memory_mb
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
        self.spawn("slurmctld", "-D", "-i")
        self.spawn("slurmd", "-D", "-N", "localhost")
        self.wait_for(self._node_is_idle, "the node to be idle in sinfo", timeout=60)

    def _slurm_conf(self, socket_path: Path) -> str:
        user = getpass.getuser()
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
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
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
