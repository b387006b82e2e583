"""Command line of ``slinky`` (the tool; the post-renderer ``slinky-pr`` is slinky_pr.py).

Thin by design: parse options, call the library, map errors to exit codes and
messages. Everything here is reachable as a library call.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from postrender import __version__
from postrender.cli.options import (
    COLOR_META,
    HELM_ARGS,
    color_flag,
    colour_options,
    guard,
    profile_options,
    use_colour,
)
from postrender.cli.slinky_pr import load_profile_option

if TYPE_CHECKING:
    from postrender.pipeline import Result


class LazyGroup(click.Group):
    """A group whose heavier subcommands live in their own modules, imported on use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


# Subcommands defined elsewhere: "name": "module:attribute".
LAZY_COMMANDS: dict[str, str] = {
    "export": "postrender.cli.export:export",
    "lint": "postrender.cli.lint:lint",
    "slurm-check": "postrender.cli.slurm_check:check_command",
    "verify": "postrender.cli.verify:verify_command",
}


@click.group(
    cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="slinky", message="%(prog)s (slinky-pr) %(version)s")
# Helm 4 hands its global `helm --color WHEN slinky ...` to the plugin before the command.
@color_flag("--color", "--colour", metavar="WHEN")
@click.pass_context
def slinky_main(ctx: click.Context, color: str | None) -> None:
    """slinky-pr tools: explain, lint, render, golden, export, verify."""
    ctx.meta[COLOR_META] = color


def _run_engine(config: str | None, cluster: str | None, stream_file: str) -> Result:
    from postrender.pipeline import post_render
    from postrender.yaml.stream import decode

    profile = load_profile_option(config, cluster)
    with click.open_file(stream_file, "rb") as handle:
        data = handle.read()
    return post_render(decode(data), profile)


@slinky_main.command()
@profile_options
@click.option("--format", "fmt", type=click.Choice(["table", "diff", "both"]), default="both")
@colour_options
@click.argument("stream_file", default="-", metavar="[STREAM|RULE-ID]")
@guard
def explain(
    config: str | None,
    cluster: str | None,
    fmt: str,
    color: str | None,
    no_color: bool,
    stream_file: str,
) -> None:
    """Show each change slinky-pr makes to a rendered release, and why.

    With a lint rule ID instead of STREAM (``slinky explain SPR-G002``), show that rule's
    documentation.
    """
    from postrender.cli import explain as explain_mod

    colour = use_colour(color, no_color)
    if stream_file.upper().startswith("SPR-") and not os.path.exists(stream_file):
        from postrender.lint import rule_doc
        from postrender.lint.report import rule_terminal

        doc = rule_doc(stream_file)
        if doc is None:
            raise click.BadParameter(f"no lint rule {stream_file} (see slinky lint --list-rules)")
        click.echo(rule_terminal(doc, colour), color=colour)
        return
    result = _run_engine(config, cluster, stream_file)
    if fmt in ("table", "both"):
        click.echo(explain_mod.table(result), nl=False)
    if fmt in ("diff", "both"):
        click.echo(explain_mod.diff(result, colour), nl=False, color=colour)


@slinky_main.command()
@profile_options
@colour_options
@click.argument("stream_file", default="-", metavar="[STREAM]")
@guard
def diff(
    config: str | None, cluster: str | None, color: str | None, no_color: bool, stream_file: str
) -> None:
    """Unified diff of the documents slinky-pr changes (exit 0 even when there are changes)."""
    from postrender.cli import explain as explain_mod

    result = _run_engine(config, cluster, stream_file)
    colour = use_colour(color, no_color)
    click.echo(explain_mod.diff(result, colour), nl=False, color=colour)


@slinky_main.command(context_settings=HELM_ARGS)
@click.argument("helm_args", nargs=-1, type=click.UNPROCESSED, metavar="[NAME] CHART [FLAGS]")
@profile_options
@guard
def render(helm_args: tuple[str, ...], config: str | None, cluster: str | None) -> None:
    """Render a chart and post-render it, as `helm template --post-renderer slinky-pr` would.

    Takes `helm template`'s arguments ([NAME] CHART, -f, --set, --set-string, --set-file,
    --set-json, --version, --repo, --kube-version, --api-versions, --include-crds, ...) and
    passes them to `$HELM_BIN template` (or `helm` on PATH) unchanged.
    """
    from postrender.pipeline import post_render
    from postrender.render import render_template

    text = render_template(helm_args)
    result = post_render(text, load_profile_option(config, cluster))
    sys.stdout.write(result.output)


@slinky_main.group()
def golden() -> None:
    """Golden-file cases for chart CI (see README, "Golden tests")."""


@golden.command("check")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@colour_options
def golden_check(directory: str, color: str | None, no_color: bool) -> None:
    """Compare every case under DIRECTORY with its expectation; exit 1 on any difference."""
    from postrender.golden import cases as golden_mod

    cases = golden_mod.find_cases(Path(directory))
    colour = use_colour(color, no_color)
    failed = 0
    for case in cases:
        verdict = golden_mod.check(case, colour)
        click.echo(f"{'ok  ' if verdict.ok else 'FAIL'} {case.directory}")
        if not verdict.ok:
            failed += 1
            click.echo(verdict.diff, color=colour)
    click.echo(f"{len(cases) - failed} passed, {failed} failed")
    sys.exit(1 if failed or not cases else 0)


@golden.command("update")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def golden_update(directory: str) -> None:
    """Rewrite the expectation of every case under DIRECTORY; list the ones that changed."""
    from postrender.golden import cases as golden_mod

    for case in golden_mod.find_cases(Path(directory)):
        click.echo(f"{'updated  ' if golden_mod.update(case) else 'unchanged'} {case.directory}")
