"""A throwaway single-node SLURM cluster (munged, slurmctld, slurmd) in a folder of its own.

Every daemon runs in the foreground as a child of this process, so it is stopped by its pid and
reaped, whatever the test did. Nothing outside the folder is touched: the clients find the cluster
through ``SLURM_CONF`` in ``env``, and SLURM finds munge through ``AuthInfo=socket=...``.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Debian: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SlurmCluster:
    """``with SlurmCluster(max_array_size=5) as cluster: subprocess.run(..., env=cluster.env)``."""

    def __init__(self, *, max_array_size: int = 1001, cpus: int = 2) -> None:
        self.max_array_size = max_array_size
        self.cpus = cpus
        # A short path of its own: a munge socket path must fit in 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="slurm-"))
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._daemons: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> SlurmCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        for folder in ("state", "spool", "log"):
            (self.root / folder).mkdir()
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        socket_path = self.root / "munge.socket"
        self._spawn(
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={self.root / 'munged.pid'}",
            f"--seed-file={self.root / 'munged.seed'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
        )
        self._wait_for(socket_path.exists, "munged to open its socket")
        self.conf.write_text(self._slurm_conf(socket_path), encoding="utf-8")
        self._spawn("slurmctld", "-D", "-i")
        self._spawn("slurmd", "-D", "-N", "localhost")
        self._wait_for(self._node_is_idle, "the node to be idle in sinfo", timeout=60)

    def _slurm_conf(self, socket_path: Path) -> str:
        user = getpass.getuser()
        return f"""\
ClusterName=permtest
SlurmctldHost={socket.gethostname().split(".")[0]}
SlurmUser={user}
SlurmdUser={user}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
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
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""

    def _spawn(self, *command: str) -> None:
        log = (self.root / "log" / f"{command[0]}.console").open("wb")
        with log:
            self._daemons[command[0]] = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is ours to pass on
            )

    def _node_is_idle(self) -> bool:
        states = subprocess.run(
            ["sinfo", "--noheader", "--format=%t"],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return states == ["idle"]

    def _wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for name, daemon in self._daemons.items():
                if daemon.poll() is not None:
                    raise RuntimeError(f"{name} exited {daemon.returncode}: {self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}: {self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        """The daemons' logs, for an assertion message."""
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted((self.root / "log").glob("*"))
        )

    def stop(self) -> None:
        """Stop every daemon by its pid (slurmd first), reap it, and remove the folder."""
        for daemon in reversed(self._daemons.values()):
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
        self._daemons.clear()
        shutil.rmtree(self.root, ignore_errors=True)
