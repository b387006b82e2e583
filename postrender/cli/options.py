"""Options and error handling that the ``slinky`` subcommands share."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

from postrender.cli.slinky_pr import CONFIG_ENV
from postrender.errors import SlinkyError

P = ParamSpec("P")
R = TypeVar("R")


COLOR_MODES = ("always", "auto", "never")
COLOR_META = "slinky.color"  # the group's --color, for the subcommand that colours


def colour_options(func: Callable[P, R]) -> Callable[P, R]:
    """``--color[=WHEN]`` (Helm 4's flag: always, auto, never) and ``--no-color``."""
    func = click.option("--no-color", "no_color", is_flag=True, help="Same as --color=never.")(func)
    return color_flag("--color", "--colour", metavar="[WHEN]")(func)


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


def color_flag(*names: str, **kwargs: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
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


def guard(func: Callable[P, R]) -> Callable[P, R]:
    """Map SlinkyError to its message and exit code for the ``slinky`` subcommands."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SlinkyError as exc:
            click.echo(exc.format(), err=True)
            sys.exit(exc.exit_code)

    return wrapper


def render_options(func: Callable[P, R]) -> Callable[P, R]:
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


def profile_options(func: Callable[P, R]) -> Callable[P, R]:
    """``--config``/``-c`` and ``--cluster``: the partition profiles a subcommand uses."""
    func = click.option("--cluster", metavar="NAME", help="Cluster of the profile file to use.")(
        func
    )
    return click.option(
        "--config", "-c", metavar="FILE", help=f"Partition profiles (default: ${CONFIG_ENV})."
    )(func)
