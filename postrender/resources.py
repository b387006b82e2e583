"""Data files shipped with slinky-pr: JSON schemas and the instance catalogue.

Installed, ``schemas/`` is the package ``postrender.schemas`` (see pyproject.toml); in a
source checkout it sits beside ``postrender/``. Plain ``os.path``, not importlib.resources
or pathlib: see tests/test_import_cost.py.
"""

from __future__ import annotations

import functools
import os

_PACKAGE = os.path.dirname(os.path.realpath(__file__))


@functools.cache
def _schemas() -> str:
    installed = os.path.join(_PACKAGE, "schemas")
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE), "schemas")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def schema_text(*parts: str) -> str:
    """A file under ``schemas/``, e.g. ``schema_text("k8s", "index.json")``."""
    return _read(os.path.join(_schemas(), *parts))


def data_text(name: str) -> str:
    """A file under ``postrender/data/``."""
    return _read(os.path.join(_PACKAGE, "data", name))
