"""Reading a live cluster's Slurm state for ``slinky verify``: ``kubectl exec`` into the
slurmctld pod, ``scontrol show partition|node -o``."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence

import click

from postrender.errors import EXIT_INPUT, Problem, SlinkyError
from postrender.slurm.scontrol import parse_scontrol_oneliners
from postrender.validate.kubernetes import DNS_SUBDOMAIN


def fullname(release: str) -> str:
    """The Slinky chart's fullname: the release if it contains "slurm", else ``<release>-slurm``."""
    return release if "slurm" in release else f"{release}-slurm"


def kubectl_scontrol(
    kubectl: str, namespace: str, pod: str, container: str, context: str | None = None
) -> list[str]:
    """``kubectl exec`` into the slurmctld container, up to and including ``scontrol``.

    The names must be Kubernetes names: ``--pod=--server=https://x`` would otherwise be
    read by kubectl as a flag. The context is any text, always read as --context's value."""
    for option, value in (("--namespace", namespace), ("--pod", pod), ("--container", container)):
        if not DNS_SUBDOMAIN.fullmatch(value):
            raise click.BadParameter(
                f"{value!r} is not a Kubernetes name (lowercase letters, digits, '-', '.')",
                param_hint=option,
            )
    argv = shlex.split(kubectl)
    if context:
        argv += ["--context", context]
    return [*argv, "exec", "-n", namespace, pod, "-c", container, "--", "scontrol"]


def read_slurm(
    scontrol: Sequence[str], timeout: float = 60.0
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """``scontrol show partition -o`` and ``show node -o`` through the ``scontrol`` argv."""
    outputs = []
    for entity in ("partition", "node"):
        # --all: scontrol otherwise leaves out Hidden=YES partitions.
        argv = [*scontrol, "--all", "show", entity, "-o"]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _read_error(argv, str(exc)) from None
        text = done.stdout + done.stderr
        # A cluster without nodes answers "No nodes in the system" (exit 0 or 1 by version).
        if entity == "node" and "No nodes in the system" in text:
            outputs.append("")
            continue
        if done.returncode != 0:
            raise _read_error(argv, done.stderr.strip() or f"exit status {done.returncode}")
        outputs.append(done.stdout)
    return (
        parse_scontrol_oneliners(outputs[0], "PartitionName"),
        parse_scontrol_oneliners(outputs[1], "NodeName"),
    )


def _read_error(argv: Sequence[str], why: str) -> SlinkyError:
    return SlinkyError(
        [
            Problem(
                f"{shlex.join(argv)}: {why}",
                hint="check --namespace/--release/--pod, or give the command with --scontrol",
            )
        ],
        EXIT_INPUT,
        "cannot read the Slurm state",
    )
