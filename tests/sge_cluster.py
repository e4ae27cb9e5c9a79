"""A throwaway single-node Grid Engine cell (sge_qmaster, sge_execd) in a folder of its own.

Debian's packages (Son of Grid Engine 8.1.9) are installed unconfigured (``.ci/run`` preseeds
``shared/gridengineconfig`` false): this harness makes its own cell the way the packages'
``init_cluster`` script does, with classic (flat file) spooling and every path under the folder.
The clients find it through ``SGE_ROOT``, ``SGE_CELL`` and the two ports in ``env``, which the
Debian wrappers in /usr/bin prefer to /etc/default/gridengine. ``SGE_ND`` keeps both daemons in
the foreground, so ``local_cluster`` stops them by pid.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from pathlib import Path

from local_cluster import LocalCluster, free_port

PACKAGED = Path("/usr/share/gridengine")  # default configuration and resource files
HELPERS = Path("/usr/lib/gridengine")  # spoolinit, spooldefaults: not on PATH
# The architecture-specific folders the packages lay out under their own SGE_ROOT.
SHARED_ROOT = Path("/var/lib/gridengine")

# Debian: apt-get install --no-install-recommends gridengine-{master,exec,client}
PROGRAMS = (
    "sge_qmaster",
    "sge_execd",
    "qsub",
    "qconf",
    "qstat",
    "qacct",
    str(HELPERS / "spoolinit"),
    str(HELPERS / "spooldefaults"),
)

CELL = "default"
QUEUE = "all.q"
# The name every daemon and client uses for this host; host_aliases maps the others onto it.
HOST = "localhost"
FOREGROUND = {"SGE_ND": "1"}
# qconf -Ae wants every attribute of an exec host; these are all unset here.
EXEC_HOST_NONE = (
    "load_scaling",
    "complex_values",
    "user_lists",
    "xuser_lists",
    "projects",
    "xprojects",
    "usage_scaling",
    "report_variables",
)


def with_values(listing: str, values: Mapping[str, str]) -> str:
    """A Grid Engine object listing (one ``name value`` a line) with some values replaced."""
    lines = listing.splitlines()
    names = [line.split(maxsplit=1)[0] if line[:1].isalpha() else "" for line in lines]
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"no {', '.join(sorted(unknown))} in {listing!r}")
    changed = [
        f"{name} {values[name]}" if name in values else line
        for name, line in zip(names, lines, strict=True)
    ]
    return "\n".join(changed) + "\n"


def host_names() -> list[str]:
    """This host's other names: its own, and what 127.0.0.1 resolves to, as SGE compares them."""
    names = {socket.gethostname()}
    try:
        canonical, aliases, _ = socket.gethostbyaddr("127.0.0.1")
        names.update([canonical, *aliases])
    except OSError:
        pass
    return sorted(names - {HOST})


class SgeCluster(LocalCluster):
    """``with SgeCluster(slots=2) as cluster: subprocess.run(["qsub", ...], env=cluster.env)``."""

    LOGS = ("log/*", f"{CELL}/spool/qmaster/messages", f"{CELL}/spool/execd/*/messages")

    def __init__(self, *, slots: int = 2) -> None:
        super().__init__("sge-")
        self.slots = slots
        self.common = self.root / CELL / "common"
        self.spool = self.root / CELL / "spool"
        self.env.update(
            SGE_ROOT=str(self.root),
            SGE_CELL=CELL,
            SGE_QMASTER_PORT=str(free_port()),
            SGE_EXECD_PORT=str(free_port()),
        )

    def start(self) -> None:
        self._make_cell()
        self.spawn("sge_qmaster", env=FOREGROUND)
        self.wait_for(lambda: self.run("qconf", "-sh", check=False).returncode == 0, "qmaster")
        self._configure()
        self.spawn("sge_execd", env=FOREGROUND)
        self.wait_for(self._queue_is_up, f"{QUEUE}@{HOST} to take jobs", timeout=60)

    def _make_cell(self) -> None:
        """The files a cell needs before its qmaster starts: bootstrap, host names, a spool."""
        for folder in ("bin", "lib", "utilbin", "util"):
            (self.root / folder).symlink_to(SHARED_ROOT / folder)
        self.common.mkdir(parents=True)
        for folder in ("qmaster", "execd"):
            (self.spool / folder).mkdir(parents=True)
        spooling = f"{self.common};{self.spool / 'qmaster'}"
        (self.common / "bootstrap").write_text(
            f"""\
admin_user {getpass.getuser()}
default_domain none
ignore_fqdn true
spooling_method classic
spooling_lib libspoolc
spooling_params {spooling}
binary_path {HELPERS}
qmaster_spool_dir {self.spool / "qmaster"}
security_mode none
listener_threads 2
worker_threads 2
scheduler_threads 1
""",
            encoding="utf-8",
        )
        (self.common / "act_qmaster").write_text(f"{HOST}\n", encoding="utf-8")
        aliases = host_names()
        if aliases:
            line = " ".join([HOST, *aliases])
            (self.common / "host_aliases").write_text(f"{line}\n", encoding="utf-8")
        default = (PACKAGED / "default-configuration").read_text(encoding="utf-8")
        configuration = self.root / "configuration"
        configuration.write_text(
            with_values(
                default,
                {
                    "execd_spool_dir": str(self.spool / "execd"),
                    "mailer": "/bin/true",
                    "min_uid": "0",  # the tests run as root, whose jobs SGE refuses by default
                    "min_gid": "0",
                    "reporting_params": "accounting=true reporting=false flush_time=00:00:01 "
                    "joblog=false sharelog=00:00:00",
                },
            ),
            encoding="utf-8",
        )
        self.run(HELPERS / "spoolinit", "classic", "libspoolc", spooling, "init")
        resources = PACKAGED / "util" / "resources"
        for kind, source in (
            ("configuration", configuration),
            ("complexes", resources / "centry"),
            ("usersets", resources / "usersets"),
            ("managers", getpass.getuser()),
        ):
            self.run(HELPERS / "spooldefaults", kind, source)

    def _configure(self) -> None:
        """This host submits and runs jobs from one queue; the scheduler runs every second."""
        self.run("qconf", "-as", HOST)
        exec_host = self.root / "exec_host"
        exec_host.write_text(
            f"hostname {HOST}\n" + "".join(f"{name} NONE\n" for name in EXEC_HOST_NONE),
            encoding="utf-8",
        )
        self.run("qconf", "-Ae", exec_host)
        self._load(
            "-ssconf",
            "-Msconf",
            {"schedule_interval": "0:0:1", "flush_submit_sec": "1", "flush_finish_sec": "1"},
        )
        self._load(
            "-sq",  # without a name: the template of a queue
            "-Aq",
            {
                "qname": QUEUE,
                "hostlist": HOST,
                "slots": str(self.slots),
                "pe_list": "NONE",
                "load_thresholds": "NONE",  # a busy shared machine must not close the queue
            },
        )

    def _load(self, show: str, load: str, values: Mapping[str, str]) -> None:
        """Change an object as ``qconf -m...`` would in an editor: show it, edit, load it back."""
        listing = self.root / f"qconf{show}"
        listing.write_text(with_values(self.run("qconf", show).stdout, values), encoding="utf-8")
        self.run("qconf", load, listing)

    def _queue_is_up(self) -> bool:
        """The queue instance reports a load and no state flags (not unknown, alarm or disabled)."""
        listing = self.run("qstat", "-f", "-q", QUEUE, check=False).stdout
        for line in listing.splitlines():
            if line.startswith(f"{QUEUE}@"):
                fields = line.split()  # name, type, resv/used/total, load, arch[, states]
                return len(fields) == 5 and fields[3] != "-NA-"
        return False
