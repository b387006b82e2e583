"""``slinky lint``: the command line around :func:`postrender.lint.lint`.

Exit codes: 0 no finding at or above ``--fail-on``; 1 some; 2 lint could not run (an input
cannot be read, a bad option or lint config, or a rule failed).
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from postrender.cli.options import HELM_ARGS, colour_options, profile_options, use_colour
from postrender.cli.slinky_pr import CONFIG_ENV
from postrender.errors import SlinkyError
from postrender.lint import RULES, load_config
from postrender.lint import report as report_mod
from postrender.lint.finding import SEVERITIES
from postrender.lint.locate import chart_name, in_chart, in_values
from postrender.lint.report import FORMATS
from postrender.lint.runner import lint as run_lint

EXIT_CLEAN, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2

#: Git hooks (pre-commit) run with an empty stdin: passing on it would check nothing.
NOTHING_TO_LINT = f"""nothing to lint: no profile, no cluster objects and an empty release
  (stdin was empty or a terminal; git hooks, pre-commit's included, get no stdin).
  Give a profile (--config FILE or ${CONFIG_ENV}) and a release: a rendered STREAM file, or
  CHART / --chart CHART with -f values.yaml, which runs `helm template` ($HELM_BIN or helm on
  PATH; without one, the helm-python-sdk package's engine).
  pre-commit: args: [--config, profiles.yaml, --chart, ., -f, values.yaml]"""


@click.command(context_settings=HELM_ARGS)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[STREAM|-|[NAME] CHART]")
@profile_options
@click.option(
    "--cluster-objects",
    "cluster_files",
    multiple=True,
    metavar="FILE",
    help="NodePools, EC2NodeClasses, eksctl ClusterConfig, EFA device plugin DaemonSet.",
)
@click.option("--chart", metavar="CHART", help="Render CHART instead of reading a stream.")
@click.option("--lint-config", metavar="FILE", help="Suppressions and severity overrides.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default="error",
    show_default=True,
    help="Exit 1 on findings this severe or more.",
)
@colour_options
@click.option("--list-rules", is_flag=True, help="List the rules and exit.")
def lint(
    args: tuple[str, ...],
    config: str | None,
    cluster: str | None,
    cluster_files: tuple[str, ...],
    chart: str | None,
    lint_config: str | None,
    fmt: str,
    fail_on: str,
    color: str | None,
    no_color: bool,
    list_rules: bool,
) -> None:
    """Check profiles, the rendered release and node pools for what breaks GPU partitions.

    STREAM is a rendered release (`helm template` output; `-` or nothing: stdin, unless it
    is a terminal). A CHART (a chart directory, .tgz or oci:// reference, anything with
    NAME before it or --repo, or --chart CHART) is rendered first with `helm template`'s
    own arguments and flags, passed to it unchanged (-f, --set, --set-string, --version,
    --kube-version, ...). The release is post-rendered with the profile first, as Helm
    would deploy it. `slinky explain RULE-ID` documents each rule.
    """
    if list_rules:
        click.echo(report_mod.list_rules(RULES), nl=False)
        return
    from postrender.render import render_template

    try:
        helm_args, stream_file = _release_source(args, chart)
    except click.UsageError as exc:  # a bad command line: still a document saying so
        click.echo(report_mod.cannot_run(exc.format_message(), fmt, RULES), nl=False)
        raise
    failure = None
    try:
        settings = load_config(lint_config, list(RULES)) if lint_config else None
        if helm_args is not None:
            text = render_template(helm_args)
        elif stream_file is None and sys.stdin.isatty():
            text = ""  # nothing piped in: lint the profile and the cluster objects alone
        else:
            from postrender.yaml.stream import decode

            stream_file = stream_file or "-"
            with click.open_file(stream_file, "rb") as handle:
                text = decode(handle.read())
        profile_path = config or os.environ.get(CONFIG_ENV)
        if not (profile_path or cluster_files or text.strip()):
            failure = f"slinky lint: {NOTHING_TO_LINT}"
        else:
            result = run_lint(
                text,
                stream_file=stream_file,
                profile_path=profile_path,
                cluster=cluster,
                cluster_files=cluster_files,
                config=settings,
            )
    except SlinkyError as exc:
        failure = exc.format()
    except OSError as exc:
        failure = f"slinky lint: {exc}"
    except Exception:  # a bug: say so, and never claim the release is clean
        failure = "slinky lint internal error:\n" + traceback.format_exc()
    if failure is not None:
        click.echo(report_mod.cannot_run(failure, fmt, RULES), nl=False)
        click.echo(failure, err=True)
        sys.exit(EXIT_CANNOT_RUN)
    if helm_args is not None:
        values, keys = _values_files(helm_args), _nodeset_keys(text)
        result.findings = in_chart(
            in_values(result.findings, values, keys), _local_charts(helm_args)
        )
    colour = use_colour(color, no_color)
    click.echo(report_mod.render(result, fmt, RULES, colour, fail_on), nl=False, color=colour)
    for error in result.errors:
        click.echo(f"slinky lint: {error}", err=True)
    if result.errors:
        sys.exit(EXIT_CANNOT_RUN)
    sys.exit(EXIT_FINDINGS if result.fails(fail_on) else EXIT_CLEAN)


def _release_source(
    args: tuple[str, ...], chart: str | None
) -> tuple[list[str] | None, str | None]:
    """`helm template` arguments when the release is rendered from a chart, else the
    stream file to read (None: stdin)."""
    from postrender.render import is_chart, split_template_args

    positionals, flags = split_template_args(args)
    flag_names = {flag for flag, _ in flags}
    if chart:
        if len(positionals) > 1 or (positionals and is_chart(positionals[0])):
            raise click.UsageError(f"two charts: {' '.join(positionals)} and --chart {chart}")
        return [*args, chart], None
    if len(positionals) == 2 or (
        len(positionals) == 1 and (is_chart(positionals[0]) or "--repo" in flag_names)
    ):
        return list(args), None
    if len(positionals) > 2:
        raise click.UsageError(f"expected [NAME] CHART or one STREAM, got {' '.join(positionals)}")
    if flags:
        raise click.UsageError(f"{', '.join(sorted(flag_names))}: helm template flags need a CHART")
    return None, positionals[0] if positionals else None


def _local_charts(helm_args: list[str] | None) -> dict[str, str]:
    """The chart directory rendered, by chart name, so findings can point into it."""
    from postrender.render import split_template_args

    positionals = split_template_args(helm_args)[0] if helm_args else []
    chart = positionals[-1] if positionals else None
    name = chart_name(chart) if chart and os.path.isdir(chart) else None
    return {name: chart} if name and chart else {}


def _values_files(helm_args: list[str]) -> list[str]:
    """The -f/--values files of a `helm template` command line, in order."""
    from postrender.render import split_template_args

    flags = split_template_args(helm_args)[1]
    named = [v for f, v in flags if f in ("-f", "--values") and v]
    return [path for value in named for path in value.split(",") if os.path.isfile(path)]


def _nodeset_keys(text: str) -> dict[str, str]:
    """``NodeSet/name`` → the chart's ``nodesets.<key>`` for the rendered release."""
    from postrender.model.nodeset import nodeset_key
    from postrender.yaml.stream import read_stream

    keys = {}
    for doc in read_stream(text).documents:
        for _, body in doc.objects():
            if body.get("kind") == "NodeSet" and isinstance(body.get("metadata"), dict):
                keys[f"NodeSet/{body['metadata'].get('name')}"] = nodeset_key(body)
    return keys
