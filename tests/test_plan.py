"""The plan: transforms record JSON Patch operations and read the documents as planned,
while the stream itself stays as it was read."""

from __future__ import annotations

import copy

import pytest

from postrender.errors import SlinkyError
from postrender.model.profiles import parse_profile
from postrender.pipeline import plan
from postrender.plan import Plan, Why
from postrender.yaml.stream import read_stream

NODESET = """\
apiVersion: slinky.slurm.net/v1beta1
kind: NodeSet
metadata: {name: gpu}
spec:
  template:
    spec:
      nodeSelector: {kubernetes.io/os: linux}
"""
WHY = Why("test")


def test_planned_edits_are_visible_to_the_plan_and_absent_from_the_document() -> None:
    stream = read_stream(NODESET)
    doc = stream.documents[0]
    before = copy.deepcopy(doc.body)
    planned = Plan(stream)
    pod = ["spec", "template", "spec"]
    planned.set(doc, [*pod, "nodeSelector", "pool"], "gpu", WHY)
    planned.append(doc, [*pod, "tolerations"], {"key": "a"}, WHY)
    planned.append(doc, [*pod, "tolerations"], {"key": "b"}, WHY)
    planned.append(doc, [*pod, "tolerations"], {"key": "a"}, WHY)  # already planned: no change
    assert planned.lookup(doc, [*pod, "nodeSelector"]) == {
        "kubernetes.io/os": "linux",
        "pool": "gpu",
    }
    assert planned.lookup(doc, [*pod, "tolerations"]) == [{"key": "a"}, {"key": "b"}]
    assert [(c.op, c.path, c.value) for c in planned.changes] == [
        ("add", "/spec/template/spec/nodeSelector/pool", "gpu"),
        ("add", "/spec/template/spec/tolerations", [{"key": "a"}]),
        ("add", "/spec/template/spec/tolerations/-", {"key": "b"}),
    ]
    assert doc.body == before
    assert not doc.changed


def test_a_missing_parent_is_planned_once() -> None:
    stream = read_stream(NODESET)
    doc = stream.documents[0]
    planned = Plan(stream)
    planned.set(doc, ["spec", "slurmd", "resources", "limits", "a"], 1, WHY)
    planned.set(doc, ["spec", "slurmd", "resources", "limits", "b"], 2, WHY)
    assert [c.path for c in planned.changes] == [
        "/spec/slurmd",
        "/spec/slurmd/resources",
        "/spec/slurmd/resources/limits",
        "/spec/slurmd/resources/limits/a",
        "/spec/slurmd/resources/limits/b",
    ]
    assert "slurmd" not in doc.body["spec"]


def test_setting_the_value_already_there_plans_nothing() -> None:
    stream = read_stream(NODESET)
    planned = Plan(stream)
    path = ["spec", "template", "spec", "nodeSelector", "kubernetes.io/os"]
    planned.set(stream.documents[0], path, "linux", WHY)
    assert planned.changes == []


def test_a_failing_plan_leaves_the_stream_as_read() -> None:
    # The partition line needs slurmdbd: the partitions transform fails after the node
    # transforms have planned their edits, none of which may reach the documents.
    text = (
        NODESET.replace(
            "metadata: {name: gpu}", "metadata: {name: gpu, annotations: {slinky-pr/partition: p}}"
        )
        + "---\napiVersion: slinky.slurm.net/v1beta1\nkind: Controller\nmetadata: {name: c}\n"
        "spec: {extraConf: ''}\n"
    )
    profile = parse_profile(
        "clusters:\n  - name: c\n    partitions:\n      - name: p\n"
        "        nodeSelector: {pool: gpu}\n        options: {QOS: high}\n",
        "p.yaml",
    )
    stream = read_stream(text)
    fresh = [d.body for d in read_stream(text).documents]
    with pytest.raises(SlinkyError, match="profile cannot be applied"):
        plan(stream, profile)
    assert [d.body for d in stream.documents] == fresh
    assert stream.added == []
    assert not any(d.changed for d in stream.documents)
