"""What the control plane needs of the host: free loopback ports, processes stopped by PID
(and only if the PID is still the process started), SIGTERM/SIGHUP turned into exceptions
so that cleanup runs, a throwaway CA made with openssl."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from pins import ClusterError

STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (/proc/PID/stat field 22), so that a PID
    reused by another process after ours exited is never signalled."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def stop_pid(pid: int, started: str | None) -> None:
    """SIGTERM, a bounded wait, then SIGKILL; only if PID is still the process we started."""
    if started is None or start_time(pid) != started:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        if start_time(pid) != started:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def openssl(*args: str | Path, cwd: Path) -> None:
    done = subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ClusterError(f"openssl {' '.join(map(str, args))}: {done.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A throwaway CA, serving certificates for kube-apiserver and the webhook server
    (127.0.0.1), and the service-account signing key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=slinky-e2e-ca", cwd=pki)  # fmt: skip
    for name in ("apiserver", "webhook"):
        (pki / f"{name}.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        )
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=pki)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                "-out", f"{name}.crt", cwd=pki)  # fmt: skip
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "sa.key", cwd=pki)  # fmt: skip
    openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


@contextlib.contextmanager
def on_signals(exception: type[BaseException] = SystemExit) -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``exception`` (SystemExit: with the shell's exit status),
    so ``finally`` blocks stop the processes."""

    def leave(signum: int, _frame: object) -> None:
        if exception is SystemExit:
            raise SystemExit(128 + signum)
        raise exception

    previous = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
