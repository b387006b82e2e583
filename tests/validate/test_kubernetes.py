"""Kubernetes rules for labels, tolerations and resources."""

from __future__ import annotations

import pytest

from postrender.errors import Problem
from postrender.validate.kubernetes import (
    annotations_size_problems,
    label_key_problems,
    label_value_problems,
    labels_problems,
    nodeset_shape_problems,
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
    assert [
        p.path for p in toleration_problems({"key": "k", "operator": "Exists", "value": "v"})
    ] == [".value"]
    late = {"key": "k", "value": "v", "effect": "NoSchedule", "tolerationSeconds": 5}
    assert [p.path for p in toleration_problems(late, "tolerations[2]")] == [
        "tolerations[2].tolerationSeconds"
    ]
    assert [p.path for p in toleration_problems({"key": "k", "effect": "Sometimes"})] == [".effect"]


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


def test_problems_are_located_problems() -> None:
    """Every check yields the house's Problem, its path starting where the caller says the
    value sits; the document or profile is the caller's to attach."""
    at = "spec.template.metadata.labels"
    (problem,) = labels_problems({"role": True}, at)
    assert type(problem) is Problem
    assert (problem.path, problem.document, problem.profile) == (f"{at}[role]", None, None)
    assert "must be a string" in problem.message
    assert [p.path for p in labels_problems({"Bad Key": "x"}, "annotations", values=False)] == [
        "annotations[Bad Key]"
    ]
    (big,) = annotations_size_problems({"k": "x" * (256 * 1024)}, "metadata.annotations")
    assert big.path == "metadata.annotations" and "256 KiB" in big.message
    (limit,) = resources_problems({"requests": {"nvidia.com/gpu": 1}}, "spec.slurmd.resources")
    assert limit.path == "spec.slurmd.resources.limits[nvidia.com/gpu]"


def test_nodeset_shape_problems_are_located_in_their_document() -> None:
    nodeset = {"spec": {"slurmd": [], "template": {"spec": {"tolerations": ["x"]}}}}
    assert [p.path for p in nodeset_shape_problems(nodeset, "items.3.")] == [
        "items.3.spec.slurmd",
        "items.3.spec.template.spec.tolerations[0]",
    ]
    assert [p.message for p in nodeset_shape_problems(nodeset)] == [
        "must be a map, not a list",
        "a toleration must be a map, not a string",
    ]
