"""Slurm clients against a harness cluster: scontrol, sinfo, srun, sbatch, salloc, sacct.

:class:`SlurmClients` is the client half of postrender.slurm.cluster.SlurmCluster: every
command enters the run's chroot view as ``localhost`` (or as a given user) with the run's
slurm.conf, and is bounded in time.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from postrender.slurm import chroot as slurmroot
from postrender.slurm.chroot import View
from postrender.slurm.errors import SlurmCommandTimeout, SlurmSimError
from postrender.slurm.processes import MARKER_VAR, signal_group, tail
from postrender.slurm.scontrol import parse_scontrol_oneliners
from postrender.slurm.workdir import inside

#: Clients inside the chroot.
BIN = "/usr/bin"


class SlurmClients:
    """Runs Slurm clients against the cluster whose work dir is ``workdir``."""

    def __init__(self, workdir: Path | str, command_timeout: float) -> None:
        """Clients for the run under ``workdir`` (one fresh run id marks its processes)."""
        self.workdir = Path(workdir).resolve()
        self.command_timeout = command_timeout
        self.run_id = secrets.token_hex(8)
        self.root = slurmroot.chroot_root()
        self.log_dir = self.workdir / "log"
        # Users of the run's passwd (name -> uid, gid), for clients run as someone else.
        self.users: dict[str, tuple[int, int]] = {}

    def _env(self) -> dict[str, str]:
        """Environment for daemons and clients: this cluster's config and the run marker."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/",
            "LANG": "C.UTF-8",
            "SLURM_CONF": inside("etc", "slurm.conf"),
            MARKER_VAR: self.run_id,
        }

    def _view(self, hostname: str | None, node: str | None = None, user: str | None = None) -> View:
        node_dir = self.workdir / "nodes" / node if node else None
        ids = self.users[user] if user is not None else None
        return View(self.root, self.workdir, hostname, node_dir, ids)

    def _client(
        self,
        argv: Sequence[str],
        timeout: float | None = None,
        check_timeout: bool = True,
        user: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client against this cluster with a time bound (as ``user`` if given)."""
        limit = self.command_timeout if timeout is None else timeout
        binary = argv[0] if argv[0].startswith("/") else f"{BIN}/{argv[0]}"
        popen = subprocess.Popen(
            [binary, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            start_new_session=True,
            preexec_fn=slurmroot.entering(self._view("localhost", user=user)),
        )
        try:
            out, err = popen.communicate(timeout=limit)
        except subprocess.TimeoutExpired as exc:
            signal_group(popen, signal.SIGKILL)
            out, err = popen.communicate()
            if check_timeout:
                raise SlurmCommandTimeout(
                    f"{' '.join(argv)} did not finish in {limit:g}s: {err.strip()}"
                ) from exc
            return subprocess.CompletedProcess(list(argv), 124, out, err)
        return subprocess.CompletedProcess(list(argv), popen.returncode, out, err)

    def sacctmgr(self, *args: str) -> str:
        """Run ``sacctmgr -i`` (no confirmation) and return its output; raise when it fails."""
        result = self._client(["sacctmgr", "-i", *args])
        if result.returncode != 0:
            raise SlurmSimError(f"sacctmgr {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def sacct(self, *args: str) -> list[list[str]]:
        """``sacct --parsable2 --noheader`` rows (every user's jobs), split on ``|``."""
        result = self._client(["sacct", "--parsable2", "--noheader", "--allusers", *args])
        if result.returncode != 0:
            raise SlurmSimError(f"sacct {' '.join(args)}: {result.stderr.strip()}")
        return [line.split("|") for line in result.stdout.splitlines() if line]

    def scontrol(self, *args: str) -> str:
        """Run ``scontrol`` and return its output; raise when it fails."""
        result = self._client(["scontrol", *args])
        if result.returncode != 0:
            raise SlurmSimError(f"scontrol {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def sinfo(self, *args: str, user: str | None = None) -> str:
        """``sinfo`` output (extra arguments are passed through), as ``user`` if given."""
        result = self._client(["sinfo", *args], user=user)
        if result.returncode != 0:
            raise SlurmSimError(f"sinfo: {result.stderr.strip()}")
        return result.stdout

    def show_partitions(self) -> dict[str, dict[str, str]]:
        """``scontrol --all show partition -o`` as {partition: {key: value}}.

        ``--all``: without it scontrol leaves out ``Hidden=YES`` partitions.
        """
        text = self.scontrol("--all", "show", "partition", "-o")
        return parse_scontrol_oneliners(text, "PartitionName")

    def show_nodes(self) -> dict[str, dict[str, str]]:
        """``scontrol show node -o`` as {node: {key: value}} (empty when no node exists)."""
        result = self._client(["scontrol", "show", "node", "-o"])
        if result.returncode != 0:
            if "No nodes" in result.stdout + result.stderr:
                return {}
            raise SlurmSimError(f"scontrol show node: {result.stderr.strip()}")
        return parse_scontrol_oneliners(result.stdout, "NodeName")

    def run(
        self,
        partition: str | None,
        gres: str | None = None,
        time: str | None = None,
        extra: Sequence[str] = (),
        command: Sequence[str] = ("true",),
        immediate: int = 5,
        user: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``srun`` (e.g. ``-p gpu-partition --gres=gpu:8 true``) and return its result.

        ``--immediate`` makes a job Slurm would leave pending (over a partition limit,
        no fitting node) fail after ``immediate`` seconds instead of waiting. ``user``
        runs it as that account, for limits root is exempt from (``AllowGroups``); it
        must be able to read the work dir (slurm.conf, the munge socket).
        """
        argv = ["srun", f"--immediate={immediate}", *_job_options(partition, gres, time)]
        argv += [*extra, *command]
        return self._client(argv, timeout=max(self.command_timeout, immediate + 10.0), user=user)

    def submit(
        self,
        partition: str | None,
        gres: str | None = None,
        time: str | None = None,
        extra: Sequence[str] = (),
        command: str = "true",
    ) -> int:
        """Queue a batch job (``sbatch --wrap``) and return its id; raise when refused."""
        argv = ["sbatch", "--parsable", f"--output={inside('log', 'job-%j.out')}"]
        argv += [*_job_options(partition, gres, time), *extra, "--wrap", command]
        result = self._client(argv)
        if result.returncode != 0:
            raise SlurmSimError(f"{' '.join(argv)}: {result.stderr.strip()}")
        return int(result.stdout.strip().split(";")[0])

    def show_job(self, job_id: int) -> dict[str, str]:
        """``scontrol show job -o <id>`` as {key: value}."""
        records = parse_scontrol_oneliners(self.scontrol("show", "job", "-o", str(job_id)), "JobId")
        return records[str(job_id)]

    def wait_job(
        self,
        job_id: int,
        states: Sequence[str],
        reason: str | None = None,
        timeout: float = 20.0,
    ) -> dict[str, str]:
        """Poll a job until its ``JobState`` is one of ``states`` (and its ``Reason`` is
        ``reason``, when given: slurmctld sets a pending job's final reason only at its
        next scheduling pass); return its record."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.show_job(job_id)
            if job.get("JobState") in states and reason in (None, job.get("Reason")):
                return job
            if time.monotonic() > deadline:
                raise SlurmCommandTimeout(
                    f"job {job_id} still {job.get('JobState')} ({job.get('Reason')}) "
                    f"after {timeout:g}s, waiting for {'/'.join(states)} {reason or ''}"
                )
            time.sleep(0.2)

    def hold(self, partition: str, extra: Sequence[str] = ()) -> int:
        """Allocate (``salloc --no-shell``) and keep resources until cancelled; return the id.

        An interactive allocation is granted on the spot, where a batch job waits for the
        next scheduling pass (seconds): the quick way to make a node busy.
        """
        argv = ["salloc", "--no-shell", f"--partition={partition}", *extra]
        result = self._client(argv)
        granted = re.search(r"Granted job allocation (\d+)", result.stderr)
        if result.returncode != 0 or not granted:
            raise SlurmSimError(f"{' '.join(argv)}: {result.stderr.strip()}")
        return int(granted.group(1))

    def cancel(self, *job_ids: int) -> None:
        """``scancel`` the jobs (already finished ones are fine)."""
        self._client(["scancel", *map(str, job_ids)])

    def client_command(self, name: str = "scontrol") -> list[str]:
        """An argv prefix that runs a Slurm client against this cluster from anywhere.

        It enters the chroot as the harness's own clients do (``python -m
        postrender.slurm.chroot``), so the prefix can be handed to other tools (``slinky
        verify --scontrol``) and run without a shell.
        """
        return [
            sys.executable,
            "-m",
            "postrender.slurm.chroot",
            str(self.root),
            str(self.workdir),
            name,
        ]

    def log(self, name: str = "slurmctld") -> str:
        """The full log of a daemon (``slurmctld``, ``munged`` or ``slurmd-<node>``)."""
        if name == "munged":
            return tail(self.workdir / "munge" / "munged.log", 10**6)
        return tail(self.log_dir / f"{name}.log", 10**6)


def _job_options(partition: str | None, gres: str | None, limit: str | None) -> list[str]:
    """``--partition``, ``--gres`` and ``--time`` for srun/sbatch, those that are set."""
    options = {"partition": partition, "gres": gres, "time": limit}
    return [f"--{name}={value}" for name, value in options.items() if value]
