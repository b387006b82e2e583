"""Errors of the real-Slurm harness (postrender.slurm.cluster and the modules beside it)."""

from __future__ import annotations


class SlurmSimError(Exception):
    """Base error of the Slurm harness."""


class AssembleError(SlurmSimError):
    """The stream cannot be turned into a Slurm configuration the way the operator would."""


class SlurmUnavailable(SlurmSimError):
    """This machine cannot run the harness (missing binaries, not root, no namespaces)."""


class SlurmStartError(SlurmSimError):
    """A daemon exited or did not become ready while the cluster was starting."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        """Keep the daemon's last log lines next to the message."""
        super().__init__(f"{message}\n--- log tail ---\n{log_tail}" if log_tail else message)
        self.message = message
        self.log_tail = log_tail


class SlurmCommandTimeout(SlurmSimError):
    """A Slurm client command did not finish within its time bound."""
