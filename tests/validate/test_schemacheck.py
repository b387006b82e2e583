"""postrender.validate.schemacheck against jsonschema_rs, the validator it stands in for.

The quick check may say "certainly valid" only where jsonschema_rs agrees; otherwise a bad
document would pass unexplained. Every test here would fail if it ever said so wrongly, and
the shipped schemas and valid test documents must take the quick path, or it saves nothing.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from postrender.model import profile_schema
from postrender.validate import schemas as validate
from postrender.validate.patterns import MAX_PATTERN_INPUT, portable_pattern
from postrender.validate.schemacheck import compile_schema

ROOT = Path(__file__).resolve().parents[2]
K8S_SCHEMAS = sorted(p.name for p in (ROOT / "schemas" / "k8s").glob("*.json"))
K8S_SCHEMAS.remove("index.json")
K8S_SCHEMAS = [name for name in K8S_SCHEMAS if not name.endswith(".cel.json")]  # CEL rules
PROFILE = "profile.schema.json"
SAMPLE = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.3.0-rc1_gpu-cpu.yaml"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
# The one pattern left to jsonschema_rs: "." repeated backtracks badly in Python's re.
KARPENTER_SCHEDULE = (
    r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$"
)


def _rs_valid(validator: jsonschema_rs.Validator, instance: Any) -> bool:
    try:
        return bool(validator.is_valid(instance))
    except (ValueError, TypeError, OverflowError):  # refuses what is not JSON: not valid
        return False


@functools.cache
def _pair(name: str) -> tuple[Callable[[Any], bool], jsonschema_rs.Validator]:
    """The quick check and the jsonschema_rs validator the post-renderer uses for a schema."""
    if name == PROFILE:
        quick = profile_schema.quick_check()
        # As in profile_schema.schema_problems.
        reference = jsonschema_rs.validator_for(profile_schema.profile_schema())
    else:
        quick = validate.quick_check(name)
        reference = validate.schema_validator(name)
    assert quick is not None, f"{name} does not compile: it would never take the quick path"
    return quick, reference


def _agrees(name: str, instance: Any) -> bool:
    """The quick verdict, after checking jsonschema_rs accepts whatever it accepts."""
    quick, reference = _pair(name)
    certain = quick(instance)
    if certain:
        assert _rs_valid(reference, instance), f"{name} quick-accepts what jsonschema_rs refuses"
    return certain


def _schema_names(doc: object) -> tuple[str, ...]:
    if not isinstance(doc, dict):
        return ()
    if "clusters" in doc:
        return (PROFILE,)
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str):
        return validate.schema_names(api_version, kind)
    return ()


@functools.cache
def _testdata() -> list[tuple[str, Any]]:
    """(file, document) for every YAML document under testdata/ that has a schema."""
    found = []
    for path in sorted((ROOT / "testdata").rglob("*.yaml")):
        try:
            docs = list(yaml.load_all(path.read_text("utf-8"), Loader=yaml.CSafeLoader))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # deliberately broken inputs
        found += [(str(path.relative_to(ROOT)), doc) for doc in docs if _schema_names(doc)]
    return found


# --- the shipped schemas --------------------------------------------------------------


@pytest.mark.parametrize("name", [*K8S_SCHEMAS, PROFILE])
def test_every_schema_compiles(name: str) -> None:
    _pair(name)


def _patterns(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def _all_patterns() -> set[str]:
    return {
        pattern
        for path in [*(ROOT / "schemas" / "k8s").glob("*.json"), ROOT / "schemas" / PROFILE]
        for pattern in _patterns(json.loads(path.read_text("utf-8")))
    }


def test_schema_patterns_are_portable_but_one() -> None:
    # A pattern that is not portable leaves every string under it to jsonschema_rs.
    assert {p for p in _all_patterns() if not portable_pattern(p)} == {KARPENTER_SCHEDULE}


def test_every_valid_testdata_document_takes_the_quick_path() -> None:
    checked = certain = 0
    for where, doc in _testdata():
        for name in _schema_names(doc):
            checked += 1
            quick = _agrees(name, doc)
            certain += quick
            if _rs_valid(_pair(name)[1], doc):
                assert quick, f"{where}: valid under {name}, but not quick-accepted"
    # Guards against passing vacuously: the fixtures hold well over a hundred documents.
    assert checked > 150 and certain > 100


# --- the keywords, one by one -----------------------------------------------------------

SURROGATE = "\ud800"


class _StrSubclass(str):
    pass


# (schema, instance, quick verdict); the formats are asserted as for the CRD schemas.
CASES: list[tuple[dict[str, Any], Any, bool]] = [
    ({"type": "integer"}, 1, True),
    ({"type": "integer"}, 1.0, True),  # draft 2020-12: an integral number is an integer
    ({"type": "integer"}, -0.0, True),
    ({"type": "integer"}, 1.5, False),
    ({"type": "integer"}, True, False),  # a bool is not a number
    ({"type": "integer"}, 2**64 - 1, True),
    ({"type": "integer"}, 2**64, False),  # beyond 64 bits: not sure
    ({"type": "integer"}, -(2**63) - 1, False),
    ({"type": "number"}, float("inf"), False),
    ({"type": "number"}, 0.5, True),
    ({}, float("nan"), False),
    ({"type": "boolean"}, 0, False),
    ({"type": ["string", "null"]}, None, True),
    ({"type": ["string", "null"]}, 0, False),
    ({"enum": ["a", 1]}, 1.0, True),  # JSON equality: 1 == 1.0
    ({"enum": ["a", 1]}, True, False),  # but True != 1
    ({"enum": ["a", 1]}, "b", False),
    ({"enum": [None]}, None, True),
    ({"const": True}, 1, False),
    ({"const": True}, True, True),
    ({"const": 1}, True, False),
    ({"const": "NodeSet", "type": "string"}, "NodeSet", True),
    ({"minimum": 1, "maximum": 2}, 1.0, True),
    ({"minimum": 1, "maximum": 2}, 2.5, False),
    ({"minimum": 1}, "0", True),  # applies to numbers only
    ({"type": "integer", "minimum": 0, "maximum": 5}, 5.0, True),
    ({"maxLength": 1}, "é", True),
    ({"maxLength": 1}, "😀", True),  # code points, not UTF-16 units
    ({"maxLength": 1}, "ab", False),
    ({"minLength": 2}, "a", False),
    ({"maxLength": 1}, 10, True),
    ({"type": "string"}, SURROGATE, False),  # cannot be handed to jsonschema_rs
    ({"type": "string"}, _StrSubclass("a"), False),
    ({"pattern": "a"}, "xay", True),  # search, not match
    ({"pattern": "^a$"}, "a", True),
    ({"pattern": "^a$"}, "xa", False),
    ({"pattern": "^a$"}, "a\n", False),  # Python's $ would match before the newline
    ({"pattern": "^\\d$"}, "3", True),
    ({"pattern": "^\\d$"}, "٣", False),  # Python's \d is Unicode-aware
    ({"pattern": "^[^\\n]+$"}, "x\ty", False),  # control characters: not sure
    ({"pattern": "^a{2}$"}, "a" * 2, True),
    ({"pattern": "^a*$"}, "a" * (MAX_PATTERN_INPUT + 1), False),
    ({"pattern": "^x{2,1}$"}, "xx", False),  # Python cannot compile it (nor jsonschema_rs)
    ({"pattern": "^a$"}, 5, True),
    ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z", False),
    ({"type": "string", "format": "date-time"}, 5, False),
    ({"format": "date-time"}, 5, True),  # formats apply to strings only
    ({"type": "string", "format": "int64"}, "abc", True),  # unknown formats are ignored
    ({"type": "string", "contentEncoding": "base64"}, "not base64!", True),  # annotation
    ({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}, ["a"], True),
    ({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}, [], False),
    ({"type": "array", "items": {"type": "string"}}, ["a", 1], False),
    ({"type": "array"}, ("a",), False),  # a tuple is not JSON as jsonschema_rs reads it
    ({"type": "array"}, [datetime.date(2026, 1, 1)], False),
    ({"type": "object"}, {"a": {"b": [1, None, "x", 0.5, True]}}, True),
    ({"type": "object"}, {1: "x"}, False),
    ({"type": "object"}, {SURROGATE: "x"}, False),
    ({"type": "object"}, {"a": b"x"}, False),
    ({"type": "object"}, {"a": {1, 2}}, False),
    (
        {"properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False},
        {"a": "x"},
        True,
    ),
    ({"properties": {"a": {}}, "required": ["a"]}, {}, False),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 1}, False),
    ({"properties": {"a": {}}, "additionalProperties": False}, {_StrSubclass("a"): 1}, False),
    ({"additionalProperties": {"type": "string"}}, {"a": "x", "b": "y"}, True),
    ({"additionalProperties": {"type": "string"}}, {"a": 1}, False),
    ({"propertyNames": {"maxLength": 2}}, {"ab": 1}, True),
    ({"propertyNames": {"maxLength": 2}}, {"abc": 1}, False),
    ({"propertyNames": {"maxLength": 2}, "properties": {"abc": {}}}, {"abc": 1}, False),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"a-b": 1}, False),
    ({"maxProperties": 1}, {"a": 1}, True),
    ({"maxProperties": 1}, {"a": 1, "b": 2}, False),
    ({"additionalProperties": True, "description": "annotations are ignored"}, {"x": 1}, True),
    (
        {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "const": "auto"}]},
        1.0,
        True,
    ),
    ({"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "const": "auto"}]}, 0, False),
    ({"oneOf": [{"type": "integer"}, {"type": "string", "const": "auto"}]}, "auto", True),
    ({"oneOf": [{"type": "integer"}, {"type": "string", "const": "auto"}]}, None, False),
    ({"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["YES", "NO"]}]}, False, True),
    ({"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"a": 1}, True),
    (
        {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"a": 1, "b": 1},
        False,
    ),
    ({"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, {}, False),
    ({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, "x", False),
    ({"items": False}, [], True),
    ({"items": False}, [1], False),
]


@pytest.mark.parametrize(("schema", "instance", "expected"), CASES, ids=lambda v: repr(v)[:40])
def test_keyword(schema: dict[str, Any], instance: Any, expected: bool) -> None:
    check = compile_schema(schema, validate_formats=True)
    assert check is not None
    assert check(instance) is expected
    if expected:
        reference = jsonschema_rs.validator_for(
            schema, validate_formats=True, ignore_unknown_formats=True
        )
        assert _rs_valid(reference, instance)


def test_format_is_an_annotation_unless_validated() -> None:
    # profile_schema.schema_problems asks jsonschema_rs without validate_formats: draft 2020-12's
    # default, where format only annotates.
    schema = {"type": "string", "format": "date-time"}
    check = compile_schema(schema, validate_formats=False)
    assert check is not None and check("tomorrow")
    assert jsonschema_rs.validator_for(schema).is_valid("tomorrow")


def test_deep_nesting_is_left_to_jsonschema_rs() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(sys.getrecursionlimit() * 2):
        inner.append([])
        inner = inner[0]
    check = compile_schema({"type": "object"}, validate_formats=True)
    assert check is not None and not check({"a": deep})


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"anyOf": [{"type": "string"}]},
        {"allOf": [{"type": "string"}]},
        {"not": {"type": "string"}},
        {"patternProperties": {"^a": {}}},
        {"exclusiveMinimum": 0},
        {"minProperties": 1},
        {"items": [{"type": "string"}]},
        {"enum": [[1]]},
        {"const": {"a": 1}},
        {"minimum": "1"},
        {"maxLength": -1},
        {"required": "a"},
        {"$schema": "http://json-schema.org/draft-07/schema#"},
        {"oneOf": [{"type": "integer"}, {"type": "number"}]},  # 1 would match both
        {"oneOf": [{"minimum": 1}, {"type": "string"}]},  # no type: overlaps everything
        {"propertyNames": False},
        {"properties": {"a": {"$ref": "#"}}},
        {"type": "uuid"},
    ],
    ids=lambda v: repr(v)[:40],
)
def test_unsupported_schemas_do_not_compile(schema: dict[str, Any]) -> None:
    assert compile_schema(schema, validate_formats=True) is None


# --- mutated documents and profiles ------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if type(value) is dict:
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif type(value) is list:
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _scalars(value: Any) -> Iterator[Any]:
    if type(value) is dict:
        for key, item in value.items():
            yield key
            yield from _scalars(item)
    elif type(value) is list:
        for item in value:
            yield from _scalars(item)
    else:
        yield value


@functools.cache
def _bases() -> list[tuple[tuple[str, ...], Any]]:
    """The quick-accepted testdata documents and profiles, with their schemas."""
    named = [(_schema_names(doc), doc) for _, doc in _testdata()]
    return [(names, doc) for names, doc in named if any(_pair(n)[0](doc) for n in names)]


@functools.cache
def _donors() -> list[Any]:
    """Scalars of valid documents: enum values, names, quantities that keep a mutant valid."""
    return sorted({repr(s): s for _, doc in _bases() for s in _scalars(doc)}.values(), key=repr)


TRICKY = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    -0.0,
    1.5,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    float("nan"),
    float("inf"),
    "",
    " ",
    "a\n",
    "gpu-partition\n",
    "a\r",
    "x\ty",
    "é",
    "٣",
    SURROGATE,
    "a" * 64,
    "a" * (MAX_PATTERN_INPUT + 1),
    "NoSchedule",
    "25%",
    "10m",
    "auto",
    "YES",
    "2026-01-01T00:00:00Z",
    datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    b"x",
    (1,),
    [],
    {},
    ["x"],
    {"x": "y"},
]
TRICKY_KEYS = [
    "bad key",
    "a/b/c",
    "é",
    "x" * 400,
    "",
    "-a",
    "a-",
    "a\n",
    1,
    None,
    True,
    "app.kubernetes.io/name",
    "nvidia.com/gpu",
    "extraConfg",
    _StrSubclass("name"),
]


def _values() -> st.SearchStrategy[Any]:
    donors = st.sampled_from(_donors())
    return st.one_of(
        donors,
        st.sampled_from(TRICKY),
        st.text(max_size=12),
        st.integers(),
        st.floats(),
        st.lists(donors, max_size=2),
        st.dictionaries(
            st.sampled_from([s for s in _donors() if type(s) is str]), donors, max_size=2
        ),
    )


def _keys() -> st.SearchStrategy[Any]:
    strings = [s for s in _donors() if type(s) is str]
    return st.one_of(st.sampled_from(strings), st.sampled_from(TRICKY_KEYS), st.text(max_size=8))


def _tweaks(value: Any) -> list[Any]:
    """Near misses of one value: off by one, another JSON type, a stray character."""
    if type(value) is str:
        longest = ((value or "a") * 64)[:64]  # one past Kubernetes' label value limit
        return [value + "\n", value + "é", " " + value, value.upper(), longest, value[:-1]]
    if type(value) is bool:
        return [int(value), str(value).lower()]
    if type(value) is int:
        return [value + 1, value - 1, float(value), value + 0.5, -value, str(value), value == 1]
    if type(value) is float:
        return [value + 0.5, int(value) if value.is_integer() else value * 2]
    if value is None:
        return ["", {}, []]
    return [None, [], {}, "x"]


@st.composite
def _mutants(draw: st.DrawFn) -> tuple[tuple[str, ...], Any]:
    names, base = draw(st.sampled_from(_bases()))
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        leaves = [p for p in paths if type(_at(doc, p)) not in (dict, list)]
        if draw(st.booleans()) and leaves:  # values more often than whole subtrees
            paths = leaves
        path = draw(st.sampled_from(paths))
        target = _at(doc, path)
        op = draw(st.sampled_from(["replace", "tweak", "delete", "add", "rename"]))
        if op in ("replace", "tweak") and path:
            new = draw(_values() if op == "replace" else st.sampled_from(_tweaks(target)))
            _at(doc, path[:-1])[path[-1]] = new
        elif op == "delete" and path:
            del _at(doc, path[:-1])[path[-1]]
        elif op == "add" and type(target) is dict:
            target[draw(_keys())] = draw(_values())
        elif op == "add" and type(target) is list:
            target.append(draw(_values()))
        elif op == "rename" and type(target) is dict and target:
            key = draw(st.sampled_from(sorted(target, key=repr)))
            new_key = draw(st.one_of(st.sampled_from(_tweaks(key)), _keys()))
            target[new_key] = target.pop(key)
    return names, doc


@settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_mutants())
def test_mutants_quick_accepted_only_if_valid(mutant: tuple[tuple[str, ...], Any]) -> None:
    names, doc = mutant
    for name in names:
        event("quick-accepted" if _agrees(name, doc) else "left to jsonschema_rs")


# --- the post-renderer ---------------------------------------------------------------


def test_quick_path_spares_jsonschema_rs(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = next(d for _, d in _testdata() if isinstance(d, dict) and d.get("kind") == "NodeSet")

    def refused(name: str) -> None:
        raise AssertionError("jsonschema_rs used for a valid document")

    monkeypatch.setattr(validate, "schema_validator", refused)
    assert validate.validate_document(doc) == []
