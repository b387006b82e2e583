"""``slinky-pr``: the post-renderer command Helm runs on every install and upgrade.

Kept apart from the ``slinky`` tool (slinky.py, click) because it starts on every
``helm upgrade``: argparse and nothing else beyond what the pipeline needs. It reads
the manifests on stdin and writes them patched on stdout; on any error it writes
nothing to stdout, exits with the code of the error (README, "Exit codes") and also
appends the message to the log file, because Helm 4 never shows stderr.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from postrender import __version__
from postrender.cli import logfile
from postrender.errors import EXIT_INTERNAL, EXIT_USAGE, SlinkyError, printable
from postrender.yaml.stream import DEFAULT_MAX_INPUT_BYTES

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import BinaryIO

    from postrender.model.profiles import Profile

CONFIG_ENV = "SLINKY_PR_CONFIG"
MAX_INPUT_ENV = "SLINKY_PR_MAX_INPUT_BYTES"


def load_profile_option(config: str | None, cluster: str | None) -> Profile | None:
    """The profile from --config or $SLINKY_PR_CONFIG, or None when neither is set."""
    from postrender.model.profiles import load_profile

    path = config or os.environ.get(CONFIG_ENV)
    return load_profile(path, cluster) if path else None


def read_capped(stream: BinaryIO, cap: int) -> bytearray:
    """At most ``cap + 1`` bytes: one past the cap is enough to refuse, so memory stays
    bounded by the cap however much is piped in. Read in pieces because ``read(n)``
    allocates ``n`` bytes up front; one growing buffer, not pieces and a join (2x)."""
    data = bytearray()
    while len(data) <= cap:
        piece = stream.read(min(1 << 20, cap + 1 - len(data)))
        if not piece:
            break
        data += piece
    return data


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class _HelpFormatter(argparse.HelpFormatter):
    """argparse makes a formatter for every add_argument call, and each asks shutil for the
    terminal width: importing shutil alone is ~5 ms of every ``helm upgrade``. Only --help
    and usage errors format anything; ``os`` answers the same question."""

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS") or os.get_terminal_size(2).columns)
        except (OSError, ValueError):
            columns = 80
        super().__init__(prog, width=columns - 2)


def parser() -> argparse.ArgumentParser:
    """The command line of ``slinky-pr``."""
    p = argparse.ArgumentParser(
        prog="slinky-pr",
        formatter_class=_HelpFormatter,
        description="Helm post-renderer: read manifests on stdin, write them patched on stdout. "
        "NodeSets annotated slinky-pr/partition=<name> get what that partition of the profile "
        "needs. On any error nothing is written to stdout.",
    )
    p.add_argument(
        "--config", "-c", metavar="FILE", help=f"partition profiles (default: ${CONFIG_ENV})"
    )
    p.add_argument(
        "--cluster", metavar="NAME", help="cluster of the profile file, if it has several"
    )
    p.add_argument(
        "--log-file", metavar="FILE", help=f"also append errors here (default: ${logfile.ENV})"
    )
    p.add_argument(
        "--max-input-bytes",
        metavar="N",
        type=_positive,
        default=None,
        help=f"refuse larger input streams (default: ${MAX_INPUT_ENV}, else 16 MiB)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="list every change on stderr")
    p.add_argument("--version", action="version", version=f"slinky-pr {__version__}")
    return p


def _report(message: str, log: str | None) -> None:
    """Error to stderr and, if configured, the log file."""
    if log is not None and logfile.append(log, message):
        message += f"\n(also written to {printable(log)})"
    print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the post-renderer; the exit code is returned (0 on success)."""
    if sys.stderr is None:
        # Started with stderr closed (``2>&-``): print() and argparse would then write
        # messages to stdout, which must carry nothing but the manifests.
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process
    args = parser().parse_args(argv)
    log = logfile.resolve(args.log_file)
    max_bytes = args.max_input_bytes
    try:
        if max_bytes is None:
            max_bytes = _positive(os.environ.get(MAX_INPUT_ENV) or str(DEFAULT_MAX_INPUT_BYTES))
    except ValueError:
        _report(f"slinky-pr: ${MAX_INPUT_ENV} (--max-input-bytes) must be a positive number", log)
        return EXIT_USAGE
    try:
        from postrender.pipeline import post_render
        from postrender.yaml.stream import decode

        profile = load_profile_option(args.config, args.cluster)
        text = decode(read_capped(sys.stdin.buffer, max_bytes), max_bytes)
        result = post_render(text, profile)
        # Encoded here, inside the guard: UTF-8 whatever the locale says, and a failure
        # cannot leave half a stream on stdout.
        output = result.output.encode("utf-8")
    except SlinkyError as exc:
        _report(exc.format(), log)
        return exc.exit_code
    except Exception:  # a bug: still nothing on stdout, and the traceback where it can be found
        import traceback

        lines = traceback.format_exc().splitlines()  # its messages may quote input names
        _report("slinky-pr internal error:\n" + "\n".join(map(printable, lines)), log)
        return EXIT_INTERNAL
    if args.verbose:
        for change in result.changes:
            print(printable(f"{change.op} {change.path}: {change.reason}"), file=sys.stderr)
        for note in result.notes:
            print(f"note: {printable(note)}", file=sys.stderr)
    sys.stdout.buffer.write(output)
    sys.stdout.buffer.flush()
    return 0


def entry() -> None:
    """Console-script entry point."""
    # A short-lived process whose objects are mostly one big, acyclic tree: the cyclic
    # garbage collector would rescan the whole growing heap again and again (time grows
    # faster than the release), and would free next to nothing.
    gc.disable()
    sys.exit(main())
