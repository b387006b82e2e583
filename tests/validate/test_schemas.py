"""Schemas generated from the CRDs (tools/crd2schema.py) and postrender.validate.schemas."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from postrender.errors import Problem
from postrender.validate.schemas import (
    format_path,
    known_kind,
    schema_names,
    validate_document,
)

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = REPO / "testdata" / "upstream"
RENDERED = sorted((UPSTREAM / "rendered").glob("*.yaml"))
SCHEMA_DIR = REPO / "schemas" / "k8s"


def _documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if isinstance(doc, dict)]


def _rendered(name: str, kind: str) -> dict[str, Any]:
    """Return a deep copy of the first ``kind`` document in a rendered file."""
    doc = next(d for d in _documents(UPSTREAM / "rendered" / name) if d.get("kind") == kind)
    return copy.deepcopy(doc)


@pytest.fixture
def nodeset() -> dict[str, Any]:
    return _rendered("slurm-1.3.0-rc1_gpu-cpu.yaml", "NodeSet")


@pytest.fixture
def controller() -> dict[str, Any]:
    return _rendered("slurm-1.3.0-rc1_gpu-cpu.yaml", "Controller")


def _nodepool_v1() -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu"},
        "spec": {
            "template": {
                "metadata": {"labels": {"slinky.slurm.net/partition": "gpu"}},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": "default",
                    },
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": ["p5.48xlarge"],
                        }
                    ],
                    "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
                },
            },
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "10m"},
            "limits": {"cpu": 1000, "nvidia.com/gpu": "64"},
        },
    }


def _nodepool_v1beta1() -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.sh/v1beta1",
        "kind": "NodePool",
        "metadata": {"name": "gpu"},
        "spec": {
            "template": {
                "spec": {
                    "nodeClassRef": {"name": "default"},
                    "requirements": [
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}
                    ],
                }
            },
            "disruption": {"consolidationPolicy": "WhenUnderutilized", "expireAfter": "720h"},
        },
    }


def _paths(problems: list[Problem]) -> list[str | None]:
    return [p.path for p in problems]


# --- the chart's own output ------------------------------------------------------------


@pytest.mark.parametrize("path", RENDERED, ids=[p.name for p in RENDERED])
def test_rendered_chart_output_validates_clean(path: Path) -> None:
    problems = {
        f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}": validate_document(doc)
        for doc in _documents(path)
    }
    assert {name: found for name, found in problems.items() if found} == {}


def test_rendered_fixtures_exercise_every_slinky_shape() -> None:
    # Guards the test above against passing vacuously (e.g. all kinds unknown).
    kinds = {
        (doc["apiVersion"], doc["kind"])
        for path in RENDERED
        for doc in _documents(path)
        if "apiVersion" in doc and known_kind(doc["apiVersion"], doc["kind"])
    }
    assert kinds == {
        ("slinky.slurm.net/v1beta1", "Controller"),
        ("slinky.slurm.net/v1beta1", "NodeSet"),
        ("slinky.slurm.net/v1beta1", "RestApi"),
    }


def test_chart_1_1_nodeset_needs_the_1_1_shape() -> None:
    # taintKubeNodes exists only in operator 1.1.x; without that shape this chart fails.
    doc = _rendered("slurm-1.1.2_gpu-cpu.yaml", "NodeSet")
    assert "taintKubeNodes" in doc["spec"]
    assert validate_document(doc) == []


# --- negative and edge cases -----------------------------------------------------------


def test_unknown_field_in_nodeset_spec_is_rejected(nodeset: dict[str, Any]) -> None:
    nodeset["spec"]["extraConfg"] = "Weight=1"
    assert validate_document(nodeset) == [
        Problem("unknown field 'extraConfg'", path="spec.extraConfg")
    ]


def test_unknown_top_level_field_is_rejected(nodeset: dict[str, Any]) -> None:
    nodeset["specs"] = {}
    assert _paths(validate_document(nodeset)) == ["specs"]


def test_wrong_type_is_rejected(nodeset: dict[str, Any]) -> None:
    nodeset["spec"]["replicas"] = "two"
    problems = validate_document(nodeset)
    assert _paths(problems) == ["spec.replicas"]
    assert "integer" in problems[0].message


def test_enum_is_enforced(nodeset: dict[str, Any]) -> None:
    nodeset["spec"]["scalingMode"] = "Deployment"
    assert _paths(validate_document(nodeset)) == ["spec.scalingMode"]


def test_nullable_fields_accept_null(controller: dict[str, Any], nodeset: dict[str, Any]) -> None:
    # The chart renders empty lists as bare keys ("configFileRefs:"), i.e. null.
    controller["spec"]["configFileRefs"] = None
    controller["spec"]["prologScriptRefs"] = None
    assert validate_document(controller) == []
    nodeset["spec"]["template"]["metadata"] = {"labels": None, "annotations": None}
    assert validate_document(nodeset) == []


def test_null_is_rejected_where_not_nullable(nodeset: dict[str, Any]) -> None:
    nodeset["spec"]["extraConf"] = None
    assert _paths(validate_document(nodeset)) == ["spec.extraConf"]


def test_null_takes_the_declared_default() -> None:
    # Chart 1.1.0 with nodesets that do not set these keys renders them null; the API server
    # puts the CRD's default in their place (tests/e2e/test_null_fields_stack.py).
    for rendered in ("slurm-1.1.2_gpu-cpu.yaml", "slurm-1.3.0-rc1_gpu-cpu.yaml"):
        doc = _rendered(rendered, "NodeSet")
        for key in ("scalingMode", "ordinalPadding", "workloadDisruptionProtection"):
            doc["spec"][key] = None
        assert validate_document(doc) == []


def test_preserve_unknown_fields_accepts_arbitrary_keys(nodeset: dict[str, Any]) -> None:
    # The pod template and slurmd container are schemaless in the CRD: anything passes here
    # (other checks in slinky-pr have to catch bad tolerations and selectors).
    nodeset["spec"]["template"]["spec"] = {
        "nodeSelector": {"node.kubernetes.io/instance-type": "p5.48xlarge"},
        "tolerations": [{"key": "nvidia.com/gpu", "effect": "NoScheduleTypo"}],
        "somethingInvented": {"nested": [1, 2, {"x": None}]},
    }
    nodeset["spec"]["slurmd"]["inventedField"] = True
    nodeset["spec"]["slurmd"]["resources"] = {"limits": {"nvidia.com/gpu": 8}}
    assert validate_document(nodeset) == []


def test_int_or_string(nodeset: dict[str, Any]) -> None:
    for value in (1, "25%"):
        nodeset["spec"]["updateStrategy"] = {"rollingUpdate": {"maxUnavailable": value}}
        assert validate_document(nodeset) == []
    nodeset["spec"]["updateStrategy"] = {"rollingUpdate": {"maxUnavailable": [1]}}
    assert _paths(validate_document(nodeset)) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable"
    ]


def test_pattern_single_line_partition_config(nodeset: dict[str, Any]) -> None:
    nodeset["spec"]["partition"] = {"enabled": True, "config": "MaxTime=1:00:00\nDefault=YES"}
    assert _paths(validate_document(nodeset)) == ["spec.partition.config"]


def test_metadata_is_checked(nodeset: dict[str, Any]) -> None:
    nodeset["metadata"]["labels"]["app.kubernetes.io/name"] = True  # unquoted YAML boolean
    nodeset["metadata"]["lables"] = {}
    assert _paths(validate_document(nodeset)) == [
        'metadata.labels["app.kubernetes.io/name"]',
        "metadata.lables",
    ]


def test_invalid_label_key_points_at_the_key(nodeset: dict[str, Any]) -> None:
    nodeset["metadata"]["labels"]["bad key"] = "x"
    problems = validate_document(nodeset)
    assert _paths(problems) == ['metadata.labels["bad key"]']
    assert problems[0].message.startswith("invalid key")


def test_yaml_timestamps_are_accepted(nodeset: dict[str, Any]) -> None:
    # yaml.safe_load turns an unquoted timestamp into a datetime; the API server sees a string.
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    nodeset["spec"]["updateStrategy"] = {
        "type": "ScheduledUpdate",
        "scheduledUpdate": {"startTime": start, "duration": "30m"},
    }
    assert validate_document(nodeset) == []
    nodeset["spec"]["updateStrategy"]["scheduledUpdate"]["startTime"] = "tomorrow"
    assert _paths(validate_document(nodeset)) == ["spec.updateStrategy.scheduledUpdate.startTime"]


def test_fewest_errors_shape_is_reported_and_newest_wins_a_tie(nodeset: dict[str, Any]) -> None:
    # taintKubeNodes is 1.1-only and pinToNode HEAD-only: one error against each shape.
    nodeset["spec"]["taintKubeNodes"] = True
    nodeset["spec"]["pinToNode"] = True
    assert validate_document(nodeset) == [
        Problem("unknown field 'taintKubeNodes'", path="spec.taintKubeNodes")
    ]


def test_unknown_kinds_are_not_checked() -> None:
    assert not known_kind("v1", "Secret")
    assert validate_document({"apiVersion": "v1", "kind": "Secret", "bogus": 1}) == []
    assert validate_document({"replicas": 1}) == []
    assert known_kind("slinky.slurm.net/v1beta1", "NodeSet")
    assert schema_names("slinky.slurm.net/v1beta1", "NodeSet")[0].endswith("_HEAD.json")


def test_karpenter_v1_nodepool() -> None:
    assert validate_document(_nodepool_v1()) == []


def test_karpenter_v1_nodepool_requires_nodeclassref_group() -> None:
    doc = _nodepool_v1()
    del doc["spec"]["template"]["spec"]["nodeClassRef"]["group"]
    problems = validate_document(doc)
    assert _paths(problems) == ["spec.template.spec.nodeClassRef"]
    assert "group" in problems[0].message


def test_karpenter_v1_disruption_requires_consolidate_after() -> None:
    doc = _nodepool_v1()
    del doc["spec"]["disruption"]["consolidateAfter"]
    assert _paths(validate_document(doc)) == ["spec.disruption"]


def test_karpenter_v1_taint_effect_path() -> None:
    doc = _nodepool_v1()
    doc["spec"]["template"]["spec"]["taints"][0]["effect"] = "NoExecution"
    assert _paths(validate_document(doc)) == ["spec.template.spec.taints[0].effect"]


def test_karpenter_v1beta1_nodepool_validates_against_v1beta1() -> None:
    doc = _nodepool_v1beta1()
    assert schema_names("karpenter.sh/v1beta1", "NodePool") == (
        "karpenter.sh_v1beta1_NodePool_v0.37.0.json",
    )
    assert validate_document(doc) == []
    # The same body is not a valid v1 NodePool (the shapes really differ).
    doc["apiVersion"] = "karpenter.sh/v1"
    assert validate_document(doc) != []


def test_ec2nodeclass_v1() -> None:
    doc: dict[str, Any] = {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "default"},
        "spec": {
            "role": "KarpenterNodeRole-demo",
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}],
        },
    }
    assert validate_document(doc) == []
    del doc["spec"]["amiSelectorTerms"]
    assert _paths(validate_document(doc)) == ["spec"]


def test_configmap() -> None:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "slurm-gres", "namespace": "slurm"},
        "data": {"gres.conf": "AutoDetect=nvidia\n"},
    }
    assert validate_document(doc) == []
    doc["data"] = None
    assert validate_document(doc) == []
    doc["data"] = {"gres.conf": 1}
    assert _paths(validate_document(doc)) == ['data["gres.conf"]']
    doc["data"] = {"bad/key": "x"}
    assert _paths(validate_document(doc)) == ['data["bad/key"]']
    doc["data"] = {}
    doc["spec"] = {}
    assert _paths(validate_document(doc)) == ["spec"]


def test_format_path() -> None:
    assert format_path([]) == ""
    assert format_path(["spec", "tolerations", 0, "effect"]) == "spec.tolerations[0].effect"
    assert format_path(["labels", 'a"b']) == 'labels["a\\"b"]'


# --- generated files -------------------------------------------------------------------


def _index() -> dict[str, Any]:
    index: dict[str, Any] = json.loads((SCHEMA_DIR / "index.json").read_text("utf-8"))
    return index


def test_index_and_schema_files_are_consistent() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    index = _index()
    assert "$comment" in index
    listed = {name for key, names in index.items() if key != "$comment" for name in names}
    on_disk = {p.name for p in SCHEMA_DIR.glob("*.json")} - {"index.json"}
    on_disk = {name for name in on_disk if not name.endswith(".cel.json")}  # CEL rules
    # The provider-neutral NodePool is generated for reference but deliberately not indexed.
    assert on_disk - listed == {"karpenter.sh_v1_NodePool_core.json"}
    assert listed <= on_disk
    for name in sorted(on_disk):
        schema = json.loads((SCHEMA_DIR / name).read_text("utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "$comment" in schema, name


def test_converter_reproduces_committed_schemas(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "crd2schema.py"),
            "--crds",
            str(UPSTREAM / "crds"),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in SCHEMA_DIR.glob("*.json")}
    assert sorted(fresh) == sorted(committed)
    assert [name for name in sorted(fresh) if fresh[name] != committed[name]] == []
