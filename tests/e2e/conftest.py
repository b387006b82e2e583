"""The end-to-end suite (``make e2e``): real Helm CLIs, a kube-apiserver, the Slinky operator.

Every test under tests/e2e/ carries the ``e2e`` marker, and those that use the control
plane or the chart of the operator under test the ``operator`` marker too. ``make test``
deselects ``e2e`` (the quick suite needs no Go toolchain); ``make e2e`` selects only it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
            # What runs against the operator and chart under test (SLINKY_E2E_OPERATOR):
            # `make e2e` runs these once per operator pin, the rest once.
            if {"cluster", "chart"} & set(getattr(item, "fixturenames", ())):
                item.add_marker(pytest.mark.operator)


# The control plane, chart and Helm fixtures live in e2e_stack (tools/e2e/devcluster.py).
from e2e_stack import chart, cluster  # noqa: E402, F401
