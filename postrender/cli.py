"""Command line of ``slinky`` (the tool; the post-renderer ``slinky-pr`` is run.py).

Thin by design: parse options, call the library, map errors to exit codes and
messages. Everything here is reachable as a library call.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from postrender import __version__
from postrender.errors import SlinkyError
from postrender.run import CONFIG_ENV, load_profile_option

if TYPE_CHECKING:
    from postrender.engine import Result

P = ParamSpec("P")
R = TypeVar("R")


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
    "export": "postrender.export.command:export",
    "lint": "postrender.lint.command:lint",
    "slurm-check": "postrender.slurmsim:check_command",
    "verify": "postrender.verify:verify_command",
}


COLOR_MODES = ("always", "auto", "never")
COLOR_META = "slinky.color"  # the group's --color, for the subcommand that colours


def colour_options(func: Callable[P, R]) -> Callable[P, R]:
    """``--color[=WHEN]`` (Helm 4's flag: always, auto, never) and ``--no-color``."""
    func = click.option("--no-color", "no_color", is_flag=True, help="Same as --color=never.")(func)
    return _color_flag("--color", "--colour", metavar="[WHEN]")(func)


def use_colour(color: str | None, no_color: bool = False) -> bool:
    """Whether to colour stdout, as Helm 4 decides: the flag (here or before the command),
    else never with NO_COLOR (no-color.org), else $HELM_COLOR, else auto: a terminal that
    is not TERM=dumb."""
    ctx = click.get_current_context(silent=True)
    mode = "never" if no_color else color or (ctx.meta.get(COLOR_META) if ctx else None)
    if not mode:
        helm_color = os.environ.get("HELM_COLOR", "").lower()
        mode = "never" if os.environ.get("NO_COLOR") else helm_color
    if mode in ("always", "never"):
        return mode == "always"
    return os.environ.get("TERM") != "dumb" and sys.stdout.isatty()


def _color_flag(*names: str, **kwargs: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    return click.option(
        *names,
        "color",
        type=click.Choice(COLOR_MODES),
        is_flag=False,
        flag_value="always",
        default=None,
        help="Colour: always, auto or never (default: auto, on a terminal unless NO_COLOR "
        "is set or TERM=dumb; $HELM_COLOR).",
        **kwargs,
    )


@click.group(
    cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="slinky", message="%(prog)s (slinky-pr) %(version)s")
# Helm 4 hands its global `helm --color WHEN slinky ...` to the plugin before the command.
@_color_flag("--color", "--colour", metavar="WHEN")
@click.pass_context
def slinky_main(ctx: click.Context, color: str | None) -> None:
    """slinky-pr tools: explain, lint, render, golden, export, verify."""
    ctx.meta[COLOR_META] = color


def _run_engine(config: str | None, cluster: str | None, stream_file: str) -> Result:
    from postrender.engine import post_render
    from postrender.stream import decode

    profile = load_profile_option(config, cluster)
    with click.open_file(stream_file, "rb") as handle:
        data = handle.read()
    return post_render(decode(data), profile)


def _guard(func: Callable[P, R]) -> Callable[P, R]:
    """Map SlinkyError to its message and exit code for the ``slinky`` subcommands."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SlinkyError as exc:
            click.echo(exc.format(), err=True)
            sys.exit(exc.exit_code)

    return wrapper


@slinky_main.command()
@click.option(
    "--config", "-c", metavar="FILE", help=f"Partition profiles (default: ${CONFIG_ENV})."
)
@click.option("--cluster", metavar="NAME")
@click.option("--format", "fmt", type=click.Choice(["table", "diff", "both"]), default="both")
@colour_options
@click.argument("stream_file", default="-", metavar="[STREAM|RULE-ID]")
@_guard
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
    from postrender import explain as explain_mod

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
@click.option(
    "--config", "-c", metavar="FILE", help=f"Partition profiles (default: ${CONFIG_ENV})."
)
@click.option("--cluster", metavar="NAME")
@colour_options
@click.argument("stream_file", default="-", metavar="[STREAM]")
@_guard
def diff(
    config: str | None, cluster: str | None, color: str | None, no_color: bool, stream_file: str
) -> None:
    """Unified diff of the documents slinky-pr changes (exit 0 even when there are changes)."""
    from postrender import explain as explain_mod

    result = _run_engine(config, cluster, stream_file)
    colour = use_colour(color, no_color)
    click.echo(explain_mod.diff(result, colour), nl=False, color=colour)


def _render_options(func: Callable[P, R]) -> Callable[P, R]:
    """Options shared by commands that render a chart: CHART, -f, --set, release, namespace."""
    for option in reversed(
        [
            click.option("--values", "-f", "values", multiple=True, metavar="FILE"),
            click.option("--set", "set_values", multiple=True, metavar="K=V"),
            click.option("--release", default="slinky", show_default=True),
            click.option("--namespace", "-n", default=None, help="Default: $HELM_NAMESPACE."),
        ]
    ):
        func = option(func)
    return func


#: `helm template`'s own command line passes through: options slinky does not know are Helm's.
HELM_ARGS = {"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]}


@slinky_main.command(context_settings=HELM_ARGS)
@click.argument("helm_args", nargs=-1, type=click.UNPROCESSED, metavar="[NAME] CHART [FLAGS]")
@click.option(
    "--config", "-c", metavar="FILE", help=f"Partition profiles (default: ${CONFIG_ENV})."
)
@click.option("--cluster", metavar="NAME")
@_guard
def render(helm_args: tuple[str, ...], config: str | None, cluster: str | None) -> None:
    """Render a chart and post-render it, as `helm template --post-renderer slinky-pr` would.

    Takes `helm template`'s arguments ([NAME] CHART, -f, --set, --set-string, --set-file,
    --set-json, --version, --repo, --kube-version, --api-versions, --include-crds, ...) and
    passes them to `$HELM_BIN template` (or `helm` on PATH) unchanged.
    """
    from postrender.engine import post_render
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
    from postrender import golden as golden_mod

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
    from postrender import golden as golden_mod

    for case in golden_mod.find_cases(Path(directory)):
        click.echo(f"{'updated  ' if golden_mod.update(case) else 'unchanged'} {case.directory}")
