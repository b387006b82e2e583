"""Daemons of a harness run: started inside the chroot, waited for, stopped by PID.

:class:`Daemons` is the process half of postrender.slurm.cluster.SlurmCluster: each daemon
runs in its own session and mount namespace, output to a file; a start fails with the
daemon's log when it exits or does not become ready in time; :meth:`Daemons.stop` stops
process groups, then any straggler of the run (slurmstepd calls setsid), and holds back
terminating signals until done.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from postrender.slurm import chroot as slurmroot
from postrender.slurm.chroot import View
from postrender.slurm.clients import SlurmClients
from postrender.slurm.errors import SlurmSimError, SlurmStartError
from postrender.slurm.processes import marked_pids, signal_group, signals_deferred, tail

#: Daemons inside the chroot.
SBIN = "/usr/sbin"


@dataclass
class Proc:
    """A daemon the cluster started."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    output: Path


class Daemons(SlurmClients):
    """The daemons started for the run under ``workdir``."""

    def __init__(self, workdir: Path | str, command_timeout: float, startup_timeout: float) -> None:
        """No daemon yet."""
        super().__init__(workdir, command_timeout)
        self.startup_timeout = startup_timeout
        self._procs: list[Proc] = []
        self._namespaces: set[str] = set()
        # Open handles keep those namespaces alive while the run may kill by them: a freed
        # namespace's inode can be reused by another run's process, which must not match.
        self._namespace_fds: list[int] = []

    def _spawn(self, name: str, argv: list[str], view: View, log: Path) -> Proc:
        """Start a daemon in its own session, inside the chroot, output to a file."""
        output = self.log_dir / f"{name}.out"
        with output.open("wb") as sink:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,
                preexec_fn=slurmroot.entering(view),
            )
        proc = Proc(name, popen, log, output)
        self._procs.append(proc)
        # Popen returned, so the child entered its namespace and exec'd.
        with contextlib.suppress(OSError):
            self._namespace_fds.append(os.open(f"/proc/{popen.pid}/ns/mnt", os.O_RDONLY))
            self._namespaces.add(os.readlink(f"/proc/{popen.pid}/ns/mnt"))
        return proc

    def processes(self) -> list[int]:
        """PIDs of every live process this cluster started, daemons and their children."""
        return list(marked_pids(self.run_id, self._namespaces))

    def _proc(self, name: str) -> Proc:
        """The started daemon called ``name``."""
        for proc in self._procs:
            if proc.name == name:
                return proc
        raise KeyError(name)

    def _log_tail(self, proc: Proc) -> str:
        """The daemon's log tail, falling back to its captured output."""
        return tail(proc.log) or tail(proc.output)

    def _check_alive(self, proc: Proc, what: str) -> None:
        """Raise with the daemon's log when it has exited."""
        code = proc.popen.poll()
        if code is not None:
            raise SlurmStartError(f"{what} exited with status {code}", self._log_tail(proc))

    def _wait(self, ready: Callable[[], bool], proc: Proc, what: str, timeout: float) -> None:
        """Poll ``ready()`` until true; fail when ``proc`` exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(proc, proc.name)
            if ready():
                return
            if time.monotonic() > deadline:
                raise SlurmStartError(f"timed out waiting for {what}", self._log_tail(proc))
            time.sleep(0.1)

    # ----- stop --------------------------------------------------------------

    def stop(self) -> None:
        """Stop every daemon (process groups, then any straggler); idempotent.

        A terminating signal arriving meanwhile waits until everything is stopped.
        """
        if not self._procs:
            return
        with signals_deferred():
            self._stop()

    def _stop(self) -> None:
        if any(p.name == "slurmctld" and p.popen.poll() is None for p in self._procs):
            with contextlib.suppress(SlurmSimError, OSError):
                self._client(["scancel", f"--user={os.geteuid()}"], timeout=5.0)
        for proc in reversed(self._procs):
            signal_group(proc.popen, signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        for proc in reversed(self._procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self._procs:
            if proc.popen.poll() is None:
                signal_group(proc.popen, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5.0)
        # Job steps left their process group; wait until the last of them is gone too.
        deadline = time.monotonic() + 5.0
        while (pids := self.processes()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        self._procs.clear()
        for fd in self._namespace_fds:
            os.close(fd)
        self._namespace_fds.clear()
