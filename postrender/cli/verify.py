"""``slinky verify``: compare a running Slurm with the partition profiles."""

from __future__ import annotations

import os
import shlex
import sys

import click
from click.core import ParameterSource

from postrender.cli.options import profile_options
from postrender.errors import SlinkyError
from postrender.slurm.live_cluster import (
    fullname,
    kubectl_argv,
    kubectl_scontrol,
    read_operator_config,
    read_slurm,
)
from postrender.slurm.verify import Finding, Report, compare, emit
from postrender.slurm.verify_config import check_config


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
    help="kubectl command, split like a shell would (no shell runs). With --scontrol, "
    "giving it also checks the operator's objects.",
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
    "--timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds per kubectl or scontrol call.",
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
    """Compare the operator's objects and a running Slurm with the profiles; exit 1 on any
    mismatch, 3 when the objects or Slurm cannot be read and nothing differs.

    First, with kubectl get (no pod needed): the slurm.conf the operator wrote into the
    ConfigMap <fullname>-config, the ConfigMaps the Controller's configFileRefs name
    (gres.conf) and the slurmd --conf of the release's NodeSet pods. Then `scontrol show
    partition -o` and `scontrol show node -o` in the release's slurmctld pod (kubectl exec
    -n NAMESPACE POD -c slurmctld -- scontrol ...). Reports missing partitions, options
    Slurm reads differently, partitions without nodes, nodes lacking the GRES/features
    asked for or drained/down/invalid. With --scontrol, the first step runs only when
    --kubectl is given.
    """
    from postrender.cli.slinky_pr import load_profile_option

    only = partitions or None
    ns = namespace or os.environ.get("HELM_NAMESPACE") or "default"
    context = os.environ.get("HELM_KUBECONTEXT") or None
    name = fullname(release)
    source = click.get_current_context().get_parameter_source("kubectl")
    check_objects = not scontrol or source is not ParameterSource.DEFAULT
    try:
        profile = load_profile_option(config, cluster)
        if profile is None:
            raise click.UsageError("no profile: pass --config FILE or set SLINKY_PR_CONFIG")
        # Every name is checked before kubectl first runs.
        if scontrol:
            try:
                argv = shlex.split(scontrol)
            except ValueError as exc:
                raise click.BadParameter(f"{scontrol!r}: {exc}", param_hint="--scontrol") from None
        else:
            target = pod or f"{name}-controller-0"
            argv = kubectl_scontrol(kubectl, ns, target, container, context)
        findings: list[Finding] = []
        notes: list[str] = []
        if check_objects:
            base = kubectl_argv(kubectl, context, namespace=ns, release=name)
            objects = read_operator_config(base, ns, name, timeout)
            findings, notes = check_config(profile, objects, only)
        else:
            notes = ["the operator's objects were not checked (--scontrol without --kubectl)"]
    except SlinkyError as exc:
        click.echo(exc.format(), err=True)
        sys.exit(exc.exit_code)
    try:
        found_partitions, found_nodes = read_slurm(argv, timeout)
    except SlinkyError as exc:
        # What the first step found still stands: report it and where the check stopped.
        click.echo(exc.format(), err=True)
        report = Report(profile.cluster, list(only or profile.partitions), {}, {}, findings)
        report.notes = notes
        report.stopped = exc.problems[0].message
        emit(report, fmt)
    report = compare(profile, found_partitions, found_nodes, only)
    if check_objects:  # the first step already reported the names the profile lacks
        report.findings = [f for f in report.findings if f.kind != "unknown-partition"]
    report.findings[:0] = findings
    report.notes[:0] = notes
    emit(report, fmt)
