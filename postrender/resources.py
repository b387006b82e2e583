"""Data files shipped with slinky-pr: JSON schemas and the instance catalogue.

Installed, ``schemas/`` is the package ``postrender.schemas`` (see pyproject.toml); in a
source checkout it sits beside ``postrender/``. Plain paths, not importlib.resources:
the post-renderer starts on every ``helm upgrade`` and that import alone costs more than
finding a file.
"""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def _schemas() -> Path:
    installed = _PACKAGE / "schemas"
    return installed if installed.is_dir() else _PACKAGE.parent / "schemas"


def schema_text(*parts: str) -> str:
    """A file under ``schemas/``, e.g. ``schema_text("k8s", "index.json")``."""
    return _schemas().joinpath(*parts).read_text(encoding="utf-8")


def data_text(name: str) -> str:
    """A file under ``postrender/data/``."""
    return (_PACKAGE / "data" / name).read_text(encoding="utf-8")
