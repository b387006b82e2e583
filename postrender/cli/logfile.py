"""Where errors go when nobody sees stderr.

Helm 4 never shows a post-renderer's stderr (only "plugin exited with error"), so
every failure is also appended to a log file: ``--log-file``, else
``$SLINKY_PR_LOG_FILE``, else, when running as a Helm plugin, the default below.
The file is created owner-only (0600): it may name objects of the release.
"""

from __future__ import annotations

import os
import stat
import time

# Paths are plain strings here, not pathlib: see tests/test_import_cost.py.

ENV = "SLINKY_PR_LOG_FILE"


def default_path() -> str:
    """``$XDG_STATE_HOME/slinky-pr/slinky-pr.log`` (``~/.local/state`` when unset)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "slinky-pr", "slinky-pr.log")


def resolve(option: str | None) -> str | None:
    """The log file in force: the option, the env var, or the default under Helm."""
    if option:
        return option
    if os.environ.get(ENV):
        return os.environ[ENV]
    if os.environ.get("HELM_PLUGIN_NAME") or os.environ.get("HELM_PLUGIN_DIR"):
        return default_path()
    return None


def append(path: str, text: str) -> bool:
    """Append a timestamped entry; False (never an exception) if the file cannot be written."""
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        # Non-blocking: opening a FIFO nobody reads would otherwise wait forever. Only a
        # regular file is written (a FIFO, a device or a socket is not a log).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK, 0o600)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return False
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            handle.write(f"--- {stamp} pid {os.getpid()}\n{text.rstrip()}\n")
        return True
    except OSError:
        return False
