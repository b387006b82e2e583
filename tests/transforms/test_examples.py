"""Every transform's docstring example runs: the documentation of each filter is a test."""

from __future__ import annotations

import doctest
import importlib

import pytest

from postrender.transforms import pipeline

MODULES = sorted({transform.__module__ for transform in pipeline()})


@pytest.mark.parametrize("name", MODULES)
def test_the_example_of_each_transform_runs(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module)
    assert attempted > 0, f"{name} has no example"
    assert failed == 0


def test_a_broken_example_fails() -> None:
    # The control: an example whose output no longer matches is reported.
    from postrender.transforms import scheduling

    broken = scheduling.__doc__.replace("~1nodepool: gpu-pool", "~1nodepool: cpu-pool")
    test = doctest.DocTestParser().get_doctest(
        broken, vars(scheduling), "broken", "scheduling.py", 0
    )
    runner = doctest.DocTestRunner()
    runner.run(test, out=lambda _: None)
    assert runner.failures == 1
