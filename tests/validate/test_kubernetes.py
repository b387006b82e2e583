"""Kubernetes rules for labels, tolerations and resources."""

from __future__ import annotations

import pytest

from postrender.validate.kubernetes import (
    label_key_problems,
    label_value_problems,
    resources_problems,
    tolerates,
    toleration_problems,
)


@pytest.mark.parametrize("key", ["role", "karpenter.sh/nodepool", "vpc.amazonaws.com/efa.present"])
def test_valid_label_keys(key: str) -> None:
    assert label_key_problems(key) == []


@pytest.mark.parametrize(
    "key", ["://vpc.amazonaws.com", "a/b/c", "-bad", "x" * 64, "UPPER.example/x"]
)
def test_invalid_label_keys(key: str) -> None:
    assert label_key_problems(key)


def test_label_values() -> None:
    assert label_value_problems("true") == []
    assert label_value_problems(True)  # unquoted YAML bool
    assert label_value_problems("a b")


def test_toleration_rules() -> None:
    assert (
        list(toleration_problems({"key": "k", "operator": "Exists", "effect": "NoSchedule"})) == []
    )
    assert [p for _, p in toleration_problems({"key": "k", "operator": "Exists", "value": "v"})]
    assert [
        p
        for _, p in toleration_problems(
            {"key": "k", "value": "v", "effect": "NoSchedule", "tolerationSeconds": 5}
        )
    ]
    assert [p for _, p in toleration_problems({"key": "k", "effect": "Sometimes"})]


def test_tolerates_matches_effect_and_value() -> None:
    taint = {"key": "slinky.io/usage", "value": "gpu-task", "effect": "NoSchedule"}
    assert tolerates(
        {
            "key": "slinky.io/usage",
            "operator": "Equal",
            "value": "gpu-task",
            "effect": "NoSchedule",
        },
        taint,
    )
    assert tolerates({"operator": "Exists"}, taint)
    assert not tolerates(
        {"key": "slinky.io/usage", "operator": "Exists", "effect": "NoExecute"}, taint
    )
    assert not tolerates({"key": "slinky.io/usage", "value": "other"}, taint)


def test_resources_rules() -> None:
    ok = {
        "limits": {"nvidia.com/gpu": 8, "hugepages-2Mi": "5120Mi"},
        "requests": {"nvidia.com/gpu": 8, "hugepages-2Mi": "5120Mi", "memory": "1Gi"},
    }
    assert list(resources_problems(ok)) == []
    assert list(resources_problems({"requests": {"vpc.amazonaws.com/efa": 4}}))  # no limit
    assert list(
        resources_problems({"limits": {"nvidia.com/gpu": 8}, "requests": {"nvidia.com/gpu": 4}})
    )
    assert list(resources_problems({"limits": {"nvidia.com/gpu": "0.5"}}))
    assert list(resources_problems({"limits": {"hugepages-2Mi": "1Gi"}}))  # no cpu/memory request
