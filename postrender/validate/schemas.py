"""Validate rendered documents against the JSON Schemas generated from the upstream CRDs.

The schemas live in ``schemas/k8s`` (package ``postrender.schemas``) and are produced by
``tools/crd2schema.py``; ``index.json`` maps ``apiVersion/kind`` to one or more schema files
(one per upstream release whose shape differs). A document is valid if it matches any of
them, so manifests rendered by older charts are accepted alongside current ones.

This runs on the post-renderer's hot path: the schema files are loaded on first use only,
and each schema is compiled once per process. A valid document is recognised by the
pure-Python check of ``postrender.validate.schemacheck``; ``jsonschema_rs`` (~28 ms to import) is
loaded only to decide and explain what that check is not sure of.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from postrender import switches
from postrender.errors import Problem
from postrender.validate.json_values import jsonable

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

    import jsonschema_rs

    from postrender.validate.schema_values import Check

_SCHEMA_DIR = "k8s"
_INDEX = "index.json"
# Long messages embed the offending value (e.g. a whole object); cut them to stay readable.
_MAX_MESSAGE = 300
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_path(parts: Iterable[str | int]) -> str:
    """Render a JSON instance path as ``a.b[0].c``; keys with dots or slashes are quoted.

    >>> format_path(["metadata", "labels", "app.kubernetes.io/name"])
    'metadata.labels["app.kubernetes.io/name"]'
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


def _read_schema_text(name: str) -> str:
    from postrender.resources import schema_text

    return schema_text(_SCHEMA_DIR, name)


@functools.cache
def _index() -> dict[str, tuple[str, ...]]:
    import json

    raw: dict[str, Any] = json.loads(_read_schema_text(_INDEX))
    # "$comment" (provenance) is not an apiVersion/kind entry.
    return {key: tuple(names) for key, names in raw.items() if not key.startswith("$")}


@functools.cache
def schema_of(name: str) -> dict[str, Any]:
    import json

    schema: dict[str, Any] = json.loads(_read_schema_text(name))
    return schema


@functools.cache
def schema_validator(name: str) -> jsonschema_rs.Validator:
    import jsonschema_rs

    # Formats are checked (date-time fields such as scheduledUpdate.startTime); the
    # Kubernetes-only formats (int32, int64, ...) are unknown to the validator and ignored.
    return jsonschema_rs.validator_for(
        schema_of(name), validate_formats=True, ignore_unknown_formats=True
    )


@functools.cache
def quick_check(name: str) -> Check | None:
    from postrender.validate.schemacheck import compile_schema

    return compile_schema(schema_of(name), validate_formats=True)  # as schema_validator


def known_kind(api_version: str, kind: str) -> bool:
    """Return True if a schema exists for ``apiVersion``/``kind``."""
    return f"{api_version}/{kind}" in _index()


def schema_names(api_version: str, kind: str) -> tuple[str, ...]:
    """Return the schema files (newest shape first) for ``apiVersion``/``kind``, or ``()``."""
    return _index().get(f"{api_version}/{kind}", ())


def _shorten(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return message[: _MAX_MESSAGE - 3] + "..."


def _problems(error: jsonschema_rs.ValidationError) -> Iterable[Problem]:
    unexpected = getattr(error.kind, "unexpected", None)
    if error.kind.name == "additionalProperties" and unexpected:
        # One problem per unknown field, located at the field itself: "spec.taintKubeNodes:
        # unknown field" is easier to act on than a list attached to the parent object.
        for key in unexpected:
            yield Problem(f"unknown field {key!r}", path=format_path([*error.instance_path, key]))
        return
    inner = getattr(error.kind, "error", None)
    if error.kind.name == "propertyNames" and inner is not None and isinstance(inner.instance, str):
        # Point at the bad key (e.g. a label key) rather than at the whole map.
        path = format_path([*error.instance_path, inner.instance])
        yield Problem(_shorten(f"invalid key: {inner.message}"), path=path)
        return
    yield Problem(_shorten(error.message), path=format_path(error.instance_path))


def _errors(validator: jsonschema_rs.Validator, doc: Any) -> list[Problem]:
    found = {problem for error in validator.iter_errors(doc) for problem in _problems(error)}
    return sorted(found, key=lambda p: (p.path or "", p.message))


def validate_document(doc: dict[str, Any]) -> list[Problem]:
    """Validate one Kubernetes document; return its problems, or ``[]`` if it is valid.

    Documents whose ``apiVersion``/``kind`` has no schema (Secrets, Services, ...) are not
    checked and return ``[]``. A document a schema accepts is then held to that CRD's CEL
    rules (``postrender.validate.cel``). When several shapes exist for the kind and the document
    fails all of them, the problems of the shape with the fewest problems are returned (the newest
    shape wins a tie), since that is most likely the one the author meant.
    """
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return []
    names = schema_names(api_version, kind)
    if not names:
        return []
    # The quick check takes ~3 times as long per document as jsonschema_rs (a NodeSet:
    # ~35 us against ~12 us) but spares its import (~28 ms): a loss of ~0.1 s on a
    # 4,000-NodeSet release, a third of the run on a typical one.
    for name in names:
        check = None if switches.LIBRARY_PATH else quick_check(name)
        if check is not None and check(doc):
            return _rule_problems(name, doc)  # certainly valid: jsonschema_rs would agree

    try:
        return _validate(names, doc)
    except ValueError:
        # Raised for values JSON cannot hold; convert once, only on this rare path.
        return _validate(names, jsonable(doc))


def _rule_problems(name: str, doc: dict[str, Any]) -> list[Problem]:
    """The CRD's CEL rules, on a document its schema ``name`` accepts."""
    from postrender.validate.cel import rule_problems

    found = rule_problems(name, doc, schema_of(name))
    return [Problem(message, path=format_path(path)) for path, message in found]


def _validate(names: tuple[str, ...], instance: Any) -> list[Problem]:
    best: list[Problem] | None = None
    for name in names:
        validator = schema_validator(name)
        if validator.is_valid(instance):
            return _rule_problems(name, instance)
        problems = _errors(validator, instance)
        if best is None or len(problems) < len(best):
            best = problems
    return best or []
