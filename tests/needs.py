"""A test that needs a tool this machine lacks: skipped, except under CI.

CI (``CI`` set to anything but empty, 0 or false; ``.ci/run`` sets it) must exercise
every feature, so there the missing tool is a failure: a skip would hide that the real
Helm, kustomize or Slurm was never run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def missing(reason: str, what: str) -> NoReturn:
    """Skip with ``reason``, or fail under CI saying which tests could not run."""
    if under_ci():
        pytest.fail(f"CI must run {what}, but: {reason}", pytrace=False)
    pytest.skip(reason)


def built_or_on_path(name: str) -> str | None:
    """A tool ``make e2e-build`` builds at a pinned version (its cache, as tools/e2e/build.sh
    lays it out), else one on PATH."""
    cache = Path(os.environ.get("SLINKY_E2E_CACHE") or Path.home() / ".cache/slinky-pr/e2e")
    built = cache / "bin" / name
    return str(built) if os.access(built, os.X_OK) else shutil.which(name)
