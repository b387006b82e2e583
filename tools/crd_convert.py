"""One CRD's OpenAPI v3 schema as a standalone JSON Schema, and its CEL rules
(``tools/crd2schema.py`` says how Kubernetes' extensions map onto JSON Schema)."""

from __future__ import annotations

import re
from typing import Any

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
GENERATOR = "tools/crd2schema.py"


# Schema keywords whose value is a single subschema / a list of subschemas / a name->subschema
# map. Only these are recursed into, so a *property* called "description" or "nullable" is
# never mistaken for a keyword.
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
_SUBSCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA_MAP_KEYS = ("properties", "patternProperties")

# Keywords dropped from the output: documentation, and Kubernetes extensions that are either
# consumed by the conversion or have no JSON Schema equivalent.
_DROPPED_KEYS = frozenset(
    {
        "description",
        "nullable",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-validations",
    }
)

# Kubernetes qualified name ("[prefix/]name", prefix a DNS-1123 subdomain, name <= 63 chars)
# and label value (<= 63 chars, may be empty). The API server enforces both; checking them
# here reports the mistake at render time with the offending key.
_QUALIFIED_NAME = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$"
)
_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"


def _string_map(value_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "propertyNames": {"maxLength": 317, "pattern": _QUALIFIED_NAME},
        "additionalProperties": value_schema,
    }


def object_meta_schema() -> dict[str, Any]:
    """Return the schema used for top-level ``metadata`` (ObjectMeta).

    CRDs declare ``metadata`` as a bare ``type: object`` because the API server validates it
    itself; without this, a misspelt ``lables:`` or a non-string label value would pass.
    """
    nullable_string = {"type": ["string", "null"]}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "annotations": _string_map({"type": "string"}),
            "creationTimestamp": nullable_string,
            "deletionGracePeriodSeconds": {"type": "integer"},
            "deletionTimestamp": nullable_string,
            "finalizers": {"type": ["array", "null"], "items": {"type": "string"}},
            "generateName": {"type": "string"},
            "generation": {"type": "integer"},
            "labels": _string_map({"type": "string", "maxLength": 63, "pattern": _LABEL_VALUE}),
            "managedFields": {"type": ["array", "null"], "items": {"type": "object"}},
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "ownerReferences": {"type": ["array", "null"], "items": {"type": "object"}},
            "resourceVersion": {"type": "string"},
            "selfLink": {"type": "string"},
            "uid": {"type": "string"},
        },
    }


def _add_null(schema: dict[str, Any]) -> None:
    """Make ``schema`` accept JSON null, as ``nullable: true`` does for the API server."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            schema["type"] = [*types, "null"]
    elif "anyOf" in schema:
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]


def convert_schema(node: dict[str, Any]) -> dict[str, Any]:
    """Convert one OpenAPI v3 (structural, Kubernetes-flavoured) schema node to JSON Schema."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key in _SUBSCHEMA_MAP_KEYS:
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_KEYS and isinstance(value, dict):
            out[key] = convert_schema(value)
        elif key in _SUBSCHEMA_LIST_KEYS:
            out[key] = [convert_schema(sub) for sub in value]
        else:
            out[key] = value

    if node.get("x-kubernetes-int-or-string") is True:
        # controller-gen emits anyOf [integer, string] next to the marker; a type list says
        # the same thing and gives a shorter error message.
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]

    preserve_unknown = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not preserve_unknown:
        out["additionalProperties"] = False

    # The API server replaces a null by the declared default before validating (a null
    # without a default is refused): chart 1.1 renders `scalingMode: null` and the like.
    if node.get("nullable") is True or "default" in node:
        _add_null(out)
    return out


def cel_rules(node: dict[str, Any], path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every non-transition ``x-kubernetes-validations`` rule under ``node``, with its path."""
    found = [
        {"path": list(path), **{k: v for k, v in rule.items() if k != "optionalOldSelf"}}
        for rule in node.get("x-kubernetes-validations", [])
        if not re.search(r"\boldSelf\b", rule["rule"])
    ]
    for name, sub in sorted((node.get("properties") or {}).items()):
        found += cel_rules(sub, (*path, name))
    for key in ("items", "additionalProperties"):
        sub = node.get(key)
        if isinstance(sub, dict):
            found += cel_rules(sub, (*path, "*"))
    return found


def configmap_schema() -> dict[str, Any]:
    """Return the hand-written schema for core/v1 ConfigMap (strict)."""
    key_names = {"maxLength": 253, "pattern": r"^[-._a-zA-Z0-9]+$"}
    return {
        "$schema": SCHEMA_DIALECT,
        "$comment": (
            f"Hand-written in {GENERATOR} from the Kubernetes core/v1 ConfigMap API "
            "(k8s.io/api core/v1 types.go); not derived from a CRD."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": "v1"},
            "kind": {"const": "ConfigMap"},
            "metadata": object_meta_schema(),
            # Helm renders an empty map as null; the API server treats that as empty.
            "data": {
                "type": ["object", "null"],
                "propertyNames": key_names,
                "additionalProperties": {"type": "string"},
            },
            "binaryData": {
                "type": ["object", "null"],
                "propertyNames": key_names,
                "additionalProperties": {"type": "string", "contentEncoding": "base64"},
            },
            "immutable": {"type": ["boolean", "null"]},
        },
    }
