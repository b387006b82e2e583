"""Accounting for a harness run: MariaDB on a fresh data dir and slurmdbd on it, on loopback.

A release with an Accounting object gets both; the accounts the harness creates (with a
GPU-minutes cap) stand in for what a cluster's admin would add with sacctmgr.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from postrender.slurm.clients import BIN
from postrender.slurm.daemons import SBIN, Daemons
from postrender.slurm.errors import SlurmStartError
from postrender.slurm.processes import port_free
from postrender.slurm.workdir import inside

# A throwaway database: small InnoDB files, no flushing to disk (seconds off each start).
_SMALL_MARIADB = (
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-doublewrite=0",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-flush-method=nosync",
)


@dataclass(frozen=True)
class Account:
    """A Slurm account the harness creates in slurmdbd, with the users in it and its cap."""

    name: str
    users: tuple[str, ...] = ("root",)
    # sacctmgr GrpTRESMins=gres/gpu=<n>: GPU-minutes all the account's jobs may use.
    gpu_minutes: int | None = None


class AccountingDaemons(Daemons):
    """Starts MariaDB and slurmdbd for the run and creates its accounts."""

    def __init__(self, workdir: Path | str, command_timeout: float, startup_timeout: float) -> None:
        """No database yet; the ports are chosen when the configuration is written."""
        super().__init__(workdir, command_timeout, startup_timeout)
        self.db_port = 0
        self.dbd_port = 0

    def _start_accounting(self, cluster_name: str) -> None:
        """MariaDB (a fresh data dir, loopback only) and slurmdbd on it."""
        datadir = self.workdir / "mysql"
        datadir.mkdir(exist_ok=True)
        install = self._client(
            [
                f"{BIN}/mariadb-install-db",
                "--no-defaults",
                f"--datadir={inside('mysql')}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *_SMALL_MARIADB,
            ],
            timeout=max(60.0, self.startup_timeout),
        )
        if install.returncode != 0:
            raise SlurmStartError(
                f"mariadb-install-db failed (exit status {install.returncode})",
                install.stdout + install.stderr,
            )
        db = self._spawn(
            "mariadbd",
            [
                f"{SBIN}/mariadbd",
                "--no-defaults",
                f"--datadir={inside('mysql')}",
                "--user=root",
                f"--port={self.db_port}",
                "--bind-address=127.0.0.1",
                f"--socket={inside('run', 'mysqld.sock')}",
                f"--pid-file={inside('run', 'mysqld.pid')}",
                f"--log-error={inside('log', 'mariadbd.log')}",
                "--skip-name-resolve",
                *_SMALL_MARIADB,
                # slurmdbd's queries fail over the TLS MariaDB 11.8 enables by default
                # ("Number of columns in result set exceeds maximum ... (=0)").
                "--skip-ssl",
            ],
            self._view(None),
            self.log_dir / "mariadbd.log",
        )
        self._wait(lambda: not port_free("127.0.0.1", self.db_port), db, "MariaDB", 60.0)
        dbd = self._spawn(
            "slurmdbd",
            [f"{SBIN}/slurmdbd", "-D"],
            self._view("localhost"),
            self.log_dir / "slurmdbd.log",
        )
        self._wait(
            lambda: not port_free("127.0.0.1", self.dbd_port),
            dbd,
            "slurmdbd",
            max(60.0, self.startup_timeout),
        )
        self.sacctmgr("add", "cluster", cluster_name)

    def _add_accounts(self, accounts: Sequence[Account]) -> None:
        """The ``accounts`` in slurmdbd: the account, its users, its GPU-minutes cap."""
        for account in accounts:
            self.sacctmgr("add", "account", account.name)
            for user in account.users:
                self.sacctmgr("add", "user", user, f"account={account.name}")
            if account.gpu_minutes is not None:
                self.sacctmgr(
                    "modify",
                    "account",
                    account.name,
                    "set",
                    f"GrpTRESMins=gres/gpu={account.gpu_minutes}",
                )
