"""``slinky verify``: compare a running Slurm with the partition profiles."""

from __future__ import annotations

import os
import shlex
import sys

import click

from postrender.cli.options import profile_options
from postrender.errors import SlinkyError
from postrender.slurm.live_cluster import fullname, kubectl_scontrol, read_slurm
from postrender.slurm.verify import compare, emit


@click.command("verify", context_settings={"help_option_names": ["-h", "--help"]})
@profile_options
@click.option("--release", default="slinky", show_default=True, help="Helm release name.")
@click.option("--namespace", "-n", default=None, help="Default: $HELM_NAMESPACE, else default.")
@click.option("--pod", default=None, help="slurmctld pod [default: <fullname>-controller-0].")
@click.option("--container", default="slurmctld", show_default=True)
@click.option(
    "--kubectl",
    default="kubectl",
    show_default=True,
    help="kubectl command, split like a shell would (no shell runs).",
)
@click.option(
    "--scontrol",
    "scontrol",
    default=None,
    metavar="CMD",
    help="Command that runs scontrol, instead of kubectl exec "
    '(e.g. "ssh login1 scontrol"); split like a shell would, no shell runs.',
)
@click.option(
    "--partition",
    "partitions",
    multiple=True,
    metavar="NAME",
    help="Check only this profile partition (repeatable).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds per scontrol call."
)
def verify_command(
    config: str | None,
    cluster: str | None,
    release: str,
    namespace: str | None,
    pod: str | None,
    container: str,
    kubectl: str,
    scontrol: str | None,
    partitions: tuple[str, ...],
    fmt: str,
    timeout: float,
) -> None:
    """Compare a running Slurm with the profiles; exit 1 on any mismatch.

    Runs `scontrol show partition -o` and `scontrol show node -o` in the release's
    slurmctld pod (kubectl exec -n NAMESPACE POD -c slurmctld -- scontrol ...) and
    reports missing partitions, options Slurm reads differently, partitions without
    nodes, and nodes lacking the GRES/features asked for or drained/down/invalid.
    """
    from postrender.cli.slinky_pr import load_profile_option

    try:
        profile = load_profile_option(config, cluster)
        if profile is None:
            raise click.UsageError("no profile: pass --config FILE or set SLINKY_PR_CONFIG")
        if scontrol:
            argv = shlex.split(scontrol)
        else:
            ns = namespace or os.environ.get("HELM_NAMESPACE") or "default"
            target = pod or f"{fullname(release)}-controller-0"
            context = os.environ.get("HELM_KUBECONTEXT") or None
            argv = kubectl_scontrol(kubectl, ns, target, container, context)
        found_partitions, found_nodes = read_slurm(argv, timeout)
    except SlinkyError as exc:
        click.echo(exc.format(), err=True)
        sys.exit(exc.exit_code)
    report = compare(profile, found_partitions, found_nodes, partitions or None)
    emit(report, fmt)
