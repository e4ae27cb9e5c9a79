"""What every throwaway single-node cluster of the tests shares: a folder, daemons, a clean stop.

Each daemon runs in the foreground as a child of this process, in a session of its own, so it is
stopped by its pid and reaped whatever the test did, and anything it left in its process group
goes with it. Nothing outside the folder is touched: the clients find the cluster through ``env``.
A subclass says how to start its engine (``start``) and where its own logs are (``LOGS``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Self


def free_port() -> int:
    """A TCP port nobody listens on now, so clusters of parallel test runs do not collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalCluster:
    """A folder, the daemons started in it, and the environment its clients need."""

    # Globs under the folder that hold the daemons' logs, shown when a wait or a test fails.
    LOGS: tuple[str, ...] = ("log/*",)

    def __init__(self, prefix: str, env: Mapping[str, str] | None = None) -> None:
        # A short path of its own: a unix socket path must fit in 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        (self.root / "log").mkdir()
        self.env = {**os.environ, **(env or {})}
        self._daemons: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def spawn(self, *command: str, env: Mapping[str, str] | None = None) -> None:
        """Start a daemon that stays in the foreground, its output in log/<program>.console."""
        name = Path(command[0]).name
        with (self.root / "log" / f"{name}.console").open("wb") as log:
            self._daemons[name] = subprocess.Popen(
                command,
                cwd=self.root,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is ours to pass on
            )

    def run(self, *command: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a client command against the cluster; with check, a failure raises with the logs."""
        result = subprocess.run(
            [str(part) for part in command],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, command))} exited {result.returncode}: "
                f"{result.stdout}{result.stderr}\n{self.logs()}"
            )
        return result

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 20) -> None:
        """Poll until ready; fail early, with the logs, if a daemon died or time ran out."""
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
        paths = sorted({path for pattern in self.LOGS for path in self.root.glob(pattern)})
        return "\n".join(
            f"--- {path.relative_to(self.root)} ---\n{path.read_text(errors='replace')[-3000:]}"
            for path in paths
            if path.is_file()
        )

    def stop(self) -> None:
        """Stop every daemon by its pid, the last started first, reap it, and remove the folder."""
        for daemon in reversed(self._daemons.values()):
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
            # Its group id stays reserved while a member lives, so this reaches only its leftovers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
        self._daemons.clear()
        shutil.rmtree(self.root, ignore_errors=True)
