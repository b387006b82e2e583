"""The CRDs' own CEL rules (``x-kubernetes-validations``), as the API server runs them.

``schemas/k8s/<schema>.cel.json`` (generated with the schemas from the CRDs) lists a
schema's rules by the path of the node they sit on, with their ``celquick`` trees. For a
document its schema accepts, every rule is evaluated on every node present at its path
(``*``: each list item or map value), after the schema's defaults are applied as the API
server applies them (a rule reading ``self.external`` sees ``false`` when the chart leaves
it out). ``postrender.validate.cel_quick`` answers the common forms; cel-python
(``postrender.validate.cel_library``) the rest.
"""

from __future__ import annotations

import functools

from postrender import switches
from postrender.validate import cel_quick as celquick

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


@functools.cache
def _rules(schema_name: str) -> list[dict[str, Any]]:
    import json

    from postrender.resources import schema_text

    try:
        text = schema_text("k8s", schema_name.removesuffix(".json") + ".cel.json")
    except FileNotFoundError:
        return []  # most schemas carry no rule
    rules: list[dict[str, Any]] = json.loads(text)["rules"]
    return rules


def with_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with the schema's ``default``s filled in for absent object fields."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else {})
            out[key] = with_defaults(item, sub)
        for key, sub in properties.items():
            if key not in out and "default" in sub:
                out[key] = with_defaults(sub["default"], sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [with_defaults(item, schema["items"]) for item in value]
    return value


def _sub(schema: dict[str, Any], key: str) -> dict[str, Any]:
    """The schema of field ``key`` (``*``: a list item or a map value)."""
    if key == "*":
        inner = schema.get("items", schema.get("additionalProperties"))
    else:
        inner = (schema.get("properties") or {}).get(key, schema.get("additionalProperties"))
    return inner if isinstance(inner, dict) else {}


def _nodes(
    value: Any, schema: dict[str, Any], path: list[str], at: list[str | int]
) -> Iterator[tuple[list[str | int], Any]]:
    """Every node at ``path``, defaults applied (only there: copying whole documents
    costs 15 % of a post-render of thousands of NodeSets)."""
    if value is None:
        return  # absent or null: the API server runs no rule there
    if not path:
        yield at, with_defaults(value, schema)
        return
    head, rest = path[0], path[1:]
    inner = _sub(schema, head)
    if head == "*":
        if isinstance(value, (dict, list)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                yield from _nodes(item, inner, rest, [*at, key])
    elif isinstance(value, dict):
        if head in value:
            yield from _nodes(value[head], inner, rest, [*at, head])
        elif "default" in inner:
            yield from _nodes(inner["default"], inner, rest, [*at, head])


def rule_problems(
    schema_name: str, doc: dict[str, Any], schema: dict[str, Any]
) -> list[tuple[list[str | int], str]]:
    """(path, message) for every rule of ``schema_name`` that ``doc`` breaks."""
    rules = _rules(schema_name)
    if not rules:
        return []
    problems = []
    for rule in rules:
        for at, value in _nodes(doc, schema, rule["path"], []):
            tree = rule.get("quick")
            if tree is None or switches.LIBRARY_PATH:
                verdict = celquick.UNSURE
            else:
                verdict = celquick.evaluate_tree(tree, value)
            if verdict is celquick.UNSURE:
                from postrender.validate.cel_library import evaluate
                from postrender.validate.json_values import jsonable

                verdict = evaluate(rule["rule"], jsonable(value))
            if verdict is True:
                continue
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            if verdict is not False:
                message = f"{message} ({verdict})"
            problems.append((at, message))
    return problems
