"""pytest plugin: every ``slinky-golden.yaml`` directory becomes a test.

Declared as a ``pytest11`` entry point, so installing slinky-pr is enough. Run
``pytest --update-golden`` to rewrite expectations; failures show the same
per-document diff as ``slinky golden check``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from postrender.golden import cases as golden


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite slinky-pr golden expectations"
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == golden.CASE_FILE:
        return GoldenFile.from_parent(parent, path=file_path)
    return None


class GoldenFile(pytest.File):
    def collect(self) -> Any:
        yield GoldenItem.from_parent(self, name=self.path.parent.name)


class GoldenFailure(Exception):
    """A case whose output differs from its expectation."""


class GoldenItem(pytest.Item):
    def runtest(self) -> None:
        case = golden.Case.load(self.path.parent)
        if self.config.getoption("update_golden"):
            golden.update(case)
            return
        verdict = golden.check(case)
        if not verdict.ok:
            raise GoldenFailure(verdict.diff)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GoldenFailure):
            return f"golden case {self.path.parent} differs:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"golden: {self.path.parent.name}"
