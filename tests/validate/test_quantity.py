"""Kubernetes quantities compared as amounts, not text (apimachinery's grammar)."""

from __future__ import annotations

import pytest

from postrender.validate.kubernetes import resources_problems
from postrender.validate.quantity import (
    parse_quantity,
    quantity_float,
    same_quantity,
    whole_quantity,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", (0, 1)),
        (8, (8, 1)),
        ("+8", (8, 1)),
        ("-1", (-1, 1)),
        ("1Ki", (1024, 1)),
        ("1Mi", (1024**2, 1)),
        ("5Gi", (5 * 1024**3, 1)),
        ("1Ti", (1024**4, 1)),
        ("1Pi", (1024**5, 1)),
        ("1Ei", (1024**6, 1)),
        ("1k", (1000, 1)),
        ("1M", (10**6, 1)),
        ("1G", (10**9, 1)),
        ("1T", (10**12, 1)),
        ("1P", (10**15, 1)),
        ("1E", (10**18, 1)),  # a suffix: exa, not an exponent
        ("500m", (1, 2)),
        ("1u", (1, 10**6)),
        ("1n", (1, 10**9)),
        ("1.5", (3, 2)),
        ("1.", (1, 1)),
        (".5Gi", (1024**3 // 2, 1)),
        ("1e3", (1000, 1)),
        ("1E3", (1000, 1)),
        ("1e+3", (1000, 1)),
        ("25e-2", (1, 4)),
        (1.5, (3, 2)),  # YAML floats: the JSON numbers the API server reads
        (4.0, (4, 1)),
        (1e-05, (1, 100000)),
    ],
)
def test_quantities_parse_to_their_exact_value(text: object, value: tuple[int, int]) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        "Gi",
        "1gi",
        "1KI",
        "1 Gi",
        " 1",
        "1e",
        "1e1.5",
        "1.2.3",
        "0x10",
        "1Gib",
        True,
        float("inf"),
        float("nan"),
        None,
    ],
)
def test_what_kubernetes_refuses_is_no_quantity(text: object) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("5Gi", "5120Mi"),
        ("1Gi", "1073741824"),
        ("1k", "1000"),
        ("0.5", "500m"),
        (8, "8"),
        ("1e3", "1k"),
        ("2Mi", "2048Ki"),
    ],
)
def test_equal_amounts_in_other_units_are_the_same(a: object, b: object) -> None:
    assert same_quantity(a, b)


def test_different_amounts_and_binary_against_decimal_differ() -> None:
    assert not same_quantity("1Gi", "1G")
    assert not same_quantity("5Gi", "5000Mi")
    assert whole_quantity("1k") == 1000
    assert whole_quantity("500m") is None
    assert quantity_float("64Gi") == 64 * 1024**3


def test_overlong_input_is_no_quantity_rather_than_slow() -> None:
    assert parse_quantity("9" * 5000) is None
    assert parse_quantity("1e999999999") is None


def test_requests_equal_to_limits_in_other_units_pass_the_resource_rules() -> None:
    resources = {
        "limits": {"hugepages-2Mi": "5Gi", "vpc.amazonaws.com/efa": "4"},
        "requests": {"hugepages-2Mi": "5120Mi", "vpc.amazonaws.com/efa": 4, "memory": "1Gi"},
    }
    assert list(resources_problems(resources)) == []
    resources["requests"]["hugepages-2Mi"] = "5G"
    assert [p.path for p in resources_problems(resources)] == [".requests[hugepages-2Mi]"]
