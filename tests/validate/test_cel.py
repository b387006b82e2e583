"""The CRDs' own CEL rules (postrender/validate/cel.py): celquick held to cel-python, Kubernetes'
extension functions, and the rules the hand-written Karpenter checks used to restate."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from karpenter_objects import ec2nodeclass

from postrender.errors import EXIT_INVALID, SlinkyError
from postrender.model.profiles import load_profile
from postrender.pipeline import post_render
from postrender.validate import cel_quick as celquick
from postrender.validate.cel import with_defaults
from postrender.validate.cel_library import FUNCTIONS, evaluate
from postrender.validate.schemas import schema_of, schema_validator, validate_document

ROOT = Path(__file__).resolve().parents[2]
RULES: dict[str, list[dict[str, Any]]] = {
    path.name.removesuffix(".cel.json") + ".json": json.loads(path.read_text())["rules"]
    for path in sorted((ROOT / "schemas" / "k8s").glob("*.cel.json"))
}
SAMPLE = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.3.0-rc1_gpu-cpu.yaml"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("apiVersion"), str) and isinstance(node.get("kind"), str):
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _testdata_objects() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "testdata").rglob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text("utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # the hostile-input cases
        for doc in docs:
            found += _objects(doc)
    return found


def _locations(value: Any, path: list[str], at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if value is None:
        return
    if not path:
        yield at
    elif path[0] == "*":
        if isinstance(value, (dict, list)):
            keys = list(value) if isinstance(value, dict) else range(len(value))
            for key in keys:
                yield from _locations(value[key], path[1:], (*at, key))
    elif isinstance(value, dict) and path[0] in value:
        yield from _locations(value[path[0]], path[1:], (*at, path[0]))


def _get(value: Any, at: tuple[Any, ...]) -> Any:
    for key in at:
        value = value[key]
    return value


def _put(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    out = copy.deepcopy(value)
    _get(out, at[:-1])[at[-1]] = new
    return out


def _mutants(value: Any, words: list[str]) -> Iterator[Any]:
    """The value, and values one edit away: a key dropped, a field of another type or
    a word of the rule's own text, a list emptied or doubled."""
    yield value
    replacements: list[Any] = [True, False, 0, 1, 2, -1, "", "x", "1", [], {}, ["1", "2"], *words]
    if isinstance(value, dict):
        for key in value:
            yield {k: v for k, v in value.items() if k != key}
            for other in replacements:
                yield {**value, key: other}
            if isinstance(value[key], (dict, list)):
                for inner in _mutants(value[key], words):
                    yield {**value, key: inner}
    elif isinstance(value, list):
        yield []
        yield value + value[:1]
        for i, item in enumerate(value[:3]):
            for inner in _mutants(item, words):
                yield [*value[:i], inner, *value[i + 1 :]]
    else:
        yield from replacements


PER_RULE = 150  # schema-valid values per rule: enough for both answers, quick to run


def _cases() -> Iterator[tuple[str, Any]]:
    """(rule, the value its node has) for testdata objects and their schema-valid mutants,
    defaults applied: what the API server would evaluate."""
    objects = _testdata_objects()
    for name, rules in RULES.items():
        schema = schema_of(name)
        validator = schema_validator(name)
        kind = schema["properties"]["kind"]["const"]
        api = schema["properties"]["apiVersion"]["const"]
        mine = [o for o in objects if o["kind"] == kind and o["apiVersion"] == api]
        for rule in rules:
            words = [w.strip("'\"") for w in rule["rule"].replace("(", " ").split() if "'" in w]
            seen: set[str] = set()
            for obj in mine:
                for at in _locations(obj, rule["path"]):
                    for mutant in _mutants(copy.deepcopy(_get(obj, at)), words[:6]):
                        key = json.dumps(mutant, sort_keys=True, default=str)
                        if key in seen or len(seen) >= PER_RULE:
                            continue
                        doc = _put(obj, at, mutant) if at else mutant
                        if not validator.is_valid(doc):
                            continue
                        seen.add(key)
                        yield rule["rule"], _get(with_defaults(doc, schema), at)


def test_celquick_agrees_with_cel_python_wherever_it_is_sure() -> None:
    sure = {True: 0, False: 0}
    for rule, value in _cases():
        quick = celquick.evaluate(rule, value)
        if quick is celquick.UNSURE:
            continue
        assert evaluate(rule, value) is quick, (rule, value)
        sure[quick] += 1
    # Meaningful only if both answers were exercised often.
    assert sure[True] > 1000 and sure[False] > 50, sure


def test_every_slinky_rule_is_in_the_quick_subset() -> None:
    # Else a typical post-render (Controller, NodeSets) would load cel-python.
    slinky = [r["rule"] for name, rules in RULES.items() if "slinky" in name for r in rules]
    assert slinky and all(celquick.parse(rule) is not None for rule in slinky)


def test_every_rule_compiles_and_runs_on_cel_python() -> None:
    # Each rule with a value in testdata gives True or False on one of them: no unknown
    # function or overload (find and split are Kubernetes' own; cel-python lacks them).
    every = {r["rule"] for rules in RULES.values() for r in rules}
    for rule in every:
        assert not str(evaluate(rule, {})).startswith("the rule does not compile"), rule
    tried: set[str] = set()
    ran: set[str] = set()
    for rule, value in _cases():
        tried.add(rule)
        if rule not in ran and isinstance(evaluate(rule, value), bool):
            ran.add(rule)
    assert ran == tried and len(ran) > 40
    assert any(".find(" in rule for rule in ran) and any(".split(" in rule for rule in ran)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("self.find('[0-9]+') == '123'", "abc123def45", True),
        ("self.find('^([^/]+)') == 'karpenter.sh'", "karpenter.sh/nodepool", True),
        ("self.find('x') == ''", "abc", True),
        ("self.split('@') == ['al2023', 'latest']", "al2023@latest", True),
        ("self.split('@')[0] == 'al2023'", "al2023", True),
        ("self.split(',', 2) == ['a', 'b,c']", "a,b,c", True),
        ("self.split(',', 0).size() == 0", "a,b", True),
        ("self.split(',', -1).size() == 3", "a,b,c", True),
    ],
)
def test_kubernetes_extension_functions(rule: str, value: str, expected: bool) -> None:
    assert set(FUNCTIONS) == {"find", "split"}
    assert evaluate(rule, value) is expected


def _nodeset(update: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "slinky.slurm.net/v1beta1",
        "kind": "NodeSet",
        "metadata": {"name": "w"},
        "spec": {"controllerRef": {"name": "slurm"}, "updateStrategy": update},
    }


def test_scheduled_update_without_start_time_is_refused() -> None:
    # The CRD rule the API server applies (issue 14's example).
    found = validate_document(_nodeset({"type": "ScheduledUpdate"}))
    assert [(p.path, "startTime" in p.message) for p in found] == [("spec.updateStrategy", True)]
    ok = {
        "type": "ScheduledUpdate",
        "scheduledUpdate": {"startTime": "2026-12-24T00:00:00Z", "duration": "1h"},
    }
    assert validate_document(_nodeset(ok)) == []
    assert validate_document(_nodeset({"type": "RollingUpdate"})) == []


def test_the_post_renderer_refuses_it_with_document_and_path() -> None:
    text = SAMPLE.read_text().replace(
        "    scheduledUpdate: {}\n    type: RollingUpdate\n", "    type: ScheduledUpdate\n", 1
    )
    with pytest.raises(SlinkyError) as info:
        post_render(text, load_profile(str(PROFILES)))
    assert info.value.exit_code == EXIT_INVALID
    message = info.value.format()
    assert "NodeSet/slinky-slurm-worker-cpu" in message and "at spec.updateStrategy" in message
    assert "scheduledUpdate.startTime and scheduledUpdate.duration are required" in message


def test_schema_defaults_apply_before_the_rules() -> None:
    # Controller 1.0.1's rule reads self.external, which the CRD defaults to false.
    controller = {
        "apiVersion": "slinky.slurm.net/v1beta1",
        "kind": "Controller",
        "metadata": {"name": "c"},
        "spec": {"slurmKeyRef": {"name": "k", "key": "k"}, "jwtKeyRef": {"name": "j", "key": "j"}},
    }
    assert validate_document(controller) == []
    controller["spec"]["external"] = True
    assert any("externalConfig" in p.message for p in validate_document(controller))


def _pool(**node_spec: Any) -> dict[str, Any]:
    spec = {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "d"}}
    spec.update(node_spec)
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "p"},
        "spec": {"template": {"spec": {"requirements": [], **spec}}},
    }


@pytest.mark.parametrize(
    ("obj", "path", "words"),
    [
        (
            _pool(
                requirements=[{"key": "karpenter.sh/nodepool", "operator": "In", "values": ["x"]}]
            ),
            "spec.template.spec.requirements[0].key",
            'label "karpenter.sh/nodepool" is restricted',
        ),
        (
            _pool(requirements=[{"key": "example.com/a", "operator": "In", "values": []}]),
            "spec.template.spec.requirements",
            "operator 'In' must have a value",
        ),
        (
            _pool(requirements=[{"key": "example.com/b", "operator": "Gt", "values": ["1", "2"]}]),
            "spec.template.spec.requirements",
            "single positive integer",
        ),
        (
            _pool(
                requirements=[
                    {"key": "example.com/c", "operator": "In", "values": ["1"], "minValues": 2}
                ]
            ),
            "spec.template.spec.requirements",
            "at least that many values",
        ),
        (ec2nodeclass(instanceProfile="p"), "spec", "exactly one of ['role', 'instanceProfile']"),
        (ec2nodeclass(role=None), "spec", "exactly one of ['role', 'instanceProfile']"),
        (
            ec2nodeclass(amiSelectorTerms=[{"alias": "al2023"}]),
            "spec.amiSelectorTerms[0].alias",
            "family@version",
        ),
        (
            ec2nodeclass(amiSelectorTerms=[{"alias": "al2023@latest"}, {"id": "ami-1"}]),
            "spec.amiSelectorTerms",
            "'alias' is mutually exclusive",
        ),
        (
            ec2nodeclass(amiSelectorTerms=[{"id": "ami-1"}]),
            "spec",
            "must specify amiFamily",
        ),
        (
            ec2nodeclass(amiFamily="Bottlerocket"),
            "spec",
            "amiFamily must be 'AL2023' or 'Custom'",
        ),
        (ec2nodeclass(subnetSelectorTerms=[]), "spec.subnetSelectorTerms", "cannot be empty"),
        (
            ec2nodeclass(securityGroupSelectorTerms=[{"tags": {"a": ""}}]),
            "spec.securityGroupSelectorTerms[0].tags",
            "empty tag keys or values",
        ),
        (
            ec2nodeclass(blockDeviceMappings=[{"ebs": {"volumeType": "gp3"}}]),
            "spec.blockDeviceMappings[0].ebs",
            "snapshotID or volumeSize",
        ),
        (
            ec2nodeclass(tags={"karpenter.sh/nodepool": "x"}),
            "spec.tags",
            "restricted tag matching karpenter.sh/nodepool",
        ),
    ],
)
def test_karpenter_crd_rules(obj: dict[str, Any], path: str, words: str) -> None:
    # The cases postrender/validate/karpenter.py restated by hand, now the CRDs' own rules.
    found = validate_document(obj)
    assert any(p.path == path and words in p.message for p in found), found


def test_valid_karpenter_objects_pass_the_crd_rules() -> None:
    ok = [{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["4"]}]
    assert validate_document(_pool(requirements=ok)) == []
    assert validate_document(ec2nodeclass()) == []


def test_generated_karpenter_objects_need_no_cel_python() -> None:
    # The NodePool and EC2NodeClass rules slinky-pr's own objects meet (find, split,
    # matches, int, filter included) are answered by celquick in a fresh interpreter.
    case = ROOT / "testdata" / "golden" / "karpenter-gpu-efa-p5"
    code = (
        "import sys, yaml\n"
        "from postrender.pipeline import post_render\n"
        "from postrender.model.profiles import load_profile\n"
        f"case = {str(case)!r}\n"
        "cfg = yaml.safe_load(open(case + '/slinky-golden.yaml'))\n"
        "post_render(open(case + '/' + cfg['input']).read(), "
        "load_profile(case + '/' + cfg['profiles']))\n"
        "print('celpy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]


def test_transition_rules_are_left_out() -> None:
    # oldSelf rules run only on updates of stored objects; the CRDs have some.
    crds = "".join(p.read_text() for p in (ROOT / "testdata" / "upstream" / "crds").glob("*.yaml"))
    assert "oldSelf" in crds
    assert not any("oldSelf" in r["rule"] for rules in RULES.values() for r in rules)
