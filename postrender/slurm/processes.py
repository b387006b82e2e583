"""The harness's processes: ports, PIDs, logs and the signals that end a run.

Every process a run starts carries a marker variable, so stragglers that left their
process group (slurmstepd calls setsid) are found and stopped by PID, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from postrender.slurm.errors import SlurmStartError

MARKER_VAR = "SLURMSIM_RUN_ID"


def free_port(addresses: Sequence[str], taken: Iterable[int] = ()) -> int:
    """A TCP port that is free on every one of ``addresses`` right now, not in ``taken``."""
    avoid = set(taken)
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = int(probe.getsockname()[1])
        if port not in avoid and all(port_free(addr, port) for addr in addresses):
            return port
    raise SlurmStartError(f"no common free port on {', '.join(addresses)}")


def port_free(address: str, port: int) -> bool:
    """Whether ``address:port`` can be bound."""
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def tail(path: Path, lines: int = 25) -> str:
    """Last lines of a log file ('' when absent)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


#: Signals that end a run; SIGINT already raises KeyboardInterrupt.
_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived. A KeyboardInterrupt, so it ends a pytest session too
    (pytest turns SystemExit in a test into a failure and goes on)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _exit_on_signal(signum: int, frame: object) -> None:
    """Turn a terminating signal into an exception, so every ``with`` block cleans up."""
    raise Terminated(signum)


@contextlib.contextmanager
def signals_unwind() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated` instead of killing us.

    The default action would end Python on the spot and leave root daemons running and
    the work dir behind; raising lets :meth:`SlurmCluster.stop` and temporary dirs
    clean up. Handlers the application set itself are kept; nested uses are no-ops; off
    the main thread (where Python cannot set handlers) nothing changes.
    """
    previous: dict[signal.Signals, Any] = {}
    try:
        for signum in _TERMINATING:
            if signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _exit_on_signal)
    except ValueError:
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (they stay pending) while cleaning up."""
    held = {signal.SIGINT, *_TERMINATING}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def signal_group(popen: subprocess.Popen[Any], sig: int) -> None:
    """Signal the process group the harness created for ``popen`` (pgid == pid)."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


def marked_pids(run_id: str, namespaces: Iterable[str] = ()) -> Iterator[int]:
    """Live processes of a harness run: in one of its mount namespaces, or marked.

    Every daemon runs in a mount namespace of its own and its children (slurmstepd, job
    steps) inherit it; slurmstepd rewrites its environment for its process title, so the
    marker variable alone would miss it.
    """
    needle = f"{MARKER_VAR}={run_id}".encode()
    owned = set(namespaces)
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "ns" / "mnt") in owned:
                yield int(entry.name)
                continue
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            yield int(entry.name)
