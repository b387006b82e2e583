"""``slinky export``: the profile and the change plan for tools without post-renderers."""

from __future__ import annotations

from pathlib import Path

import click

from postrender.cli.options import guard, profile_options
from postrender.cli.slinky_pr import CONFIG_ENV, load_profile_option
from postrender.errors import EXIT_USAGE, Problem, SlinkyError
from postrender.model.profiles import Profile


def _profile(config: str | None, cluster: str | None) -> Profile:
    profile = load_profile_option(config, cluster)
    if profile is None:
        raise SlinkyError(
            [Problem("no profile given", hint=f"pass --config FILE (or set {CONFIG_ENV})")],
            EXIT_USAGE,
            "cannot export",
        )
    return profile


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def export() -> None:
    """Export for deploy tools without post-renderers: Kustomize/Flux patches, eksctl."""


@export.command()
@profile_options
@click.option(
    "--output",
    "-o",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write kustomization.yaml and its files into (created if missing).",
)
@click.argument("stream_file", default="-", metavar="[STREAM]")
@guard
def kustomize(config: str | None, cluster: str | None, directory: Path, stream_file: str) -> None:
    """Write a Kustomize patch set that turns the rendered STREAM into slinky-pr's output.

    `kubectl kustomize DIR` then gives the same documents as the post-renderer; the
    patches also fit Flux HelmRelease.spec.postRenderers (DIR/flux-postrenderers.yaml).
    """
    from postrender.export import kustomize as kustomize_mod
    from postrender.yaml.stream import decode

    profile = _profile(config, cluster)
    with click.open_file(stream_file, "rb") as handle:
        text = decode(handle.read())
    result = kustomize_mod.export(text, profile)
    for path in kustomize_mod.write(result.files, directory):
        click.echo(f"wrote {path}", err=True)
    added = len(result.resources) - 1
    click.echo(f"{len(result.patches)} patch(es), {added} added document(s)", err=True)


@export.command()
@profile_options
@click.option(
    "--volume-size",
    type=click.IntRange(1, 16384),
    metavar="GIB",
    help="Root volume size for node groups whose profile sets no eksctl.volumeSize.",
)
@guard
def eksctl(config: str | None, cluster: str | None, volume_size: int | None) -> None:
    """Print eksctl managedNodeGroups for the static partitions of the profile."""
    from postrender.export import eksctl as eksctl_mod

    click.echo(eksctl_mod.export(_profile(config, cluster), volume_size), nl=False)
