"""A real single-node SLURM (Debian's slurmctld, slurmd, munge) that a test starts and stops itself.

No init system is assumed: munged runs as user munge, then slurmctld, then slurmd in configless
mode (``--conf-server``: job steps find the configuration through slurmd's cache, since the SLURM
executor plugin's job step strips ``SLURM_CONF`` from the environment of its inner ``srun``). The
configuration, state and logs live in a folder of the test's; only the daemons this module started
are stopped, by PID. Where root, apt or the ports are missing, the test is skipped saying why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
PORTS = (6817, 6818)
PARTITION = "debug"
CONFIG_CACHE_LINK = Path("/run/slurm/conf")  # slurmd's configless cache, where srun looks first
MUNGE_PID = Path("/run/munge/munged.pid")  # munged runs as user munge: its own folder, not the test's


@dataclass(frozen=True)
class SlurmCluster:
    folder: Path
    config: Path

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, SLURM_CONF=str(self.config))

    def run(self, *command: str) -> str:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=True, timeout=60).stdout

    def jobs(self) -> dict[str, str]:
        """Every job SLURM still knows (``MinJobAge`` keeps finished ones an hour): id -> state."""
        out = self.run("squeue", "--states=all", "--noheader", "--format=%i %T")
        return dict(line.split() for line in out.splitlines() if line.strip())


def _skip(reason: str) -> None:
    pytest.skip(f"no single-node SLURM here: {reason}")


def _install() -> None:
    if all(shutil.which(binary) for binary in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if shutil.which("apt-get") is None:
        _skip("slurmctld/slurmd/munge are not installed and there is no apt-get")
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(command, capture_output=True, env=environment, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=environment, timeout=600)
        done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
        if done.returncode != 0:
            _skip(f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr.strip()[-300:]}")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _memory_mb() -> int:
    total = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal")).split()[1]) // 1024
    return max(1024, total - 2048)  # headroom for the system and the test itself


def _config(folder: Path) -> str:
    cpus = os.cpu_count() or 1
    return f"""ClusterName=searec-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
SlurmctldParameters=enable_configless
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={_memory_mb() // cpus}
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={_memory_mb()} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _pid(path: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
        time.sleep(0.1)
    raise RuntimeError(f"{path} did not appear: the daemon did not start (see the logs beside it)")


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 15)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)


@contextlib.contextmanager
def single_node_slurm(folder: Path) -> Iterator[SlurmCluster]:
    """Start munged (unless running), slurmctld and slurmd; yield the cluster; stop what was started."""
    if os.geteuid() != 0:
        _skip("the daemons need root")
    _install()
    busy = [port for port in PORTS if not _port_free(port)]
    if busy:
        _skip(f"ports {busy} are in use (another SLURM?)")
    if CONFIG_CACHE_LINK.exists() or CONFIG_CACHE_LINK.is_symlink():
        _skip(f"{CONFIG_CACHE_LINK} exists: another slurmd runs or ran on this machine")
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    config = folder / "slurm.conf"
    config.write_text(_config(folder))
    started: list[int] = []
    try:
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
            for runtime in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
                Path(runtime).mkdir(parents=True, exist_ok=True)
                shutil.chown(runtime, "munge", "munge")
            MUNGE_PID.unlink(missing_ok=True)  # a stale one: no munged runs
            done = subprocess.run(["runuser", "-u", "munge", "--", "munged"], capture_output=True, text=True,
                                  timeout=30)
            if done.returncode != 0:
                raise RuntimeError(f"munged did not start: {done.stderr.strip()[-300:]}")
            started.append(_pid(MUNGE_PID))
        subprocess.run(["slurmctld", "-f", str(config)], check=True, timeout=30)
        started.append(_pid(folder / "slurmctld.pid"))
        subprocess.run(["slurmd", "--conf-server", "127.0.0.1:6817", "-N", "localhost"], check=True, timeout=30)
        started.append(_pid(folder / "slurmd.pid"))
        cluster = SlurmCluster(folder, config)
        deadline = time.monotonic() + 60
        while "idle" not in cluster.run("sinfo", "--noheader", "--format=%T"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node never became idle: {cluster.run('sinfo')}")
            time.sleep(0.5)
        yield cluster
    finally:
        for pid in reversed(started):
            _stop(pid)
        if CONFIG_CACHE_LINK.is_symlink() and str(folder) in os.readlink(CONFIG_CACHE_LINK):
            CONFIG_CACHE_LINK.unlink()
