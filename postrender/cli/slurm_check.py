"""``slinky slurm-check``: the real-Slurm harness for users."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from postrender.cli.options import guard, profile_options, render_options
from postrender.errors import EXIT_INPUT
from postrender.slurm.errors import SlurmUnavailable
from postrender.slurm.probes import local_check
from postrender.slurm.processes import Terminated, signals_unwind


@click.command("slurm-check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("stream_file", required=False, metavar="[STREAM]")
@click.option("--chart", metavar="CHART", help="Render CHART (helm template) instead of STREAM.")
@render_options
@profile_options
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the harness's configs and logs here (default: a temporary dir).",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for slurmctld and for each node.",
)
@guard
def check_command(
    stream_file: str | None,
    chart: str | None,
    values: tuple[str, ...],
    set_values: tuple[str, ...],
    release: str,
    namespace: str | None,
    config: str | None,
    cluster: str | None,
    fmt: str,
    workdir: str | None,
    timeout: float,
) -> None:
    """Try the profiles on a real local Slurm; exit 1 on any problem.

    Post-renders STREAM (helm template output, - for stdin) or --chart with -f/--set,
    builds slurm.conf and gres.conf as the Slinky operator would, starts munged,
    slurmctld (with an Accounting object, MariaDB and slurmdbd too) and one slurmd per
    NodeSet on 127.0.0.1, inside the Slurm 26.05 chroot (needs root; build the chroot
    with `sh postrender/data/slurm-chroot.sh`), prints the partitions and nodes, runs a
    job per partition and a GRES job per GPU partition, then stops them.
    """
    import tempfile

    from postrender.cli.slinky_pr import load_profile_option
    from postrender.render import render_chart
    from postrender.slurm.verify import emit
    from postrender.yaml.stream import decode

    profile = load_profile_option(config, cluster)
    if profile is None:
        raise click.UsageError("no profile: pass --config FILE or set SLINKY_PR_CONFIG")
    if chart and stream_file:
        raise click.UsageError("give STREAM or --chart, not both")
    if chart:
        text = render_chart(chart, list(values), list(set_values), release, namespace)
    else:
        with click.open_file(stream_file or "-", "rb") as handle:
            text = decode(handle.read())
    try:
        # SIGTERM/SIGHUP/SIGINT: every daemon stopped, the temporary work dir removed.
        with signals_unwind():
            if workdir:
                report = local_check(text, profile, Path(workdir), timeout)
            else:
                with tempfile.TemporaryDirectory(prefix="slinky-slurm-check-") as tmp:
                    report = local_check(text, profile, Path(tmp), timeout)
    except SlurmUnavailable as exc:
        click.echo(f"cannot run the local Slurm check: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except Terminated as exc:
        # Everything is stopped and removed by now; exit as the shell reports a signal.
        sys.exit(128 + exc.signum)
    emit(report, fmt)
