"""A fast, exact "certainly valid" check for the JSON Schema subset our schemas use.

Importing ``jsonschema_rs`` costs ~28 ms of every ``helm upgrade`` (it pulls in decimal,
email.utils, socket...), yet nearly every document and profile is valid. The check compiled
here answers one question, in pure Python: is this instance *certainly* valid under draft
2020-12? ``True`` is exact: jsonschema_rs accepts the instance too. ``False`` means
"invalid, or not sure"; the caller then asks jsonschema_rs, which decides and explains. So
this module never produces a message, and any case it does not model exactly is "not sure".

Supported keywords: type, properties, additionalProperties, required, items (one schema),
enum and const (scalar values), pattern, propertyNames, format, minimum, maximum, minLength,
maxLength, minItems, maxItems, maxProperties, and oneOf whose branches accept disjoint types
or only require properties; annotations (description, default...) are ignored. A schema
with any other keyword does not compile (:func:`compile_schema` returns None).

Not sure, by design: values that are not JSON as jsonschema_rs reads them (datetime, bytes,
tuples, subclasses, non-str keys, nan, integers beyond 64 bits, lone surrogates); strings
under an asserted format other than the Kubernetes ones jsonschema_rs ignores (date-time);
and strings under a pattern unless the string is short, printable ASCII and the pattern is
written in syntax ECMA-262 and Python's ``re`` read alike (``patterns.portable_pattern``).
"""

from __future__ import annotations

from postrender.validate.schema_values import (
    ANY,
    Unsupported,
    count,
    encodable,
    equal_to,
    float_check,
    integer_check,
    json_dict,
    json_list,
    string_check,
    true,
)

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

    from postrender.validate.schema_values import Check, Table

_INF = float("inf")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_ANNOTATIONS = frozenset(
    ("$comment", "$id", "$schema", "contentEncoding", "default", "description", "examples", "title")
)
_KEYWORDS = _ANNOTATIONS | {
    "additionalProperties",
    "const",
    "enum",
    "format",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minimum",
    "oneOf",
    "pattern",
    "properties",
    "propertyNames",
    "required",
    "type",
}
# The Python types each JSON type may hold; "integer" includes floats with integral values.
_PY_TYPES: dict[str, frozenset[type]] = {
    "null": frozenset((type(None),)),
    "boolean": frozenset((bool,)),
    "integer": frozenset((int, float)),
    "number": frozenset((int, float)),
    "string": frozenset((str,)),
    "array": frozenset((list,)),
    "object": frozenset((dict,)),
}


def compile_schema(schema: object, *, validate_formats: bool) -> Check | None:
    """Compile a draft 2020-12 ``schema`` to a check that returns True only for instances
    that are certainly valid; None if the schema uses anything unsupported.

    ``validate_formats`` must be what jsonschema_rs is given (with unknown formats ignored);
    False makes ``format`` an annotation, draft 2020-12's default.
    """
    try:
        table = _compile(schema, validate_formats)
    except Unsupported:
        return None

    def check(instance: Any) -> bool:
        handler = table.get(type(instance))
        try:
            return handler is not None and handler(instance)
        except RecursionError:  # nested deeper than Python recurses: jsonschema_rs decides
            return False

    return check


def _compile(schema: object, validate_formats: bool) -> Table:
    """The Table of ``schema``; raises Unsupported for anything not modelled."""
    if schema is True:
        return ANY
    if schema is False:
        return {}
    if type(schema) is not dict or not schema.keys() <= _KEYWORDS:
        raise Unsupported(schema)
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise Unsupported(schema["$schema"])  # another draft, other rules
    names = _type_names(schema)
    allowed = _py_types_of(names)
    table: Table = {}
    if type(None) in allowed:
        table[type(None)] = true
    if bool in allowed:
        table[bool] = true
    if int in allowed:
        table[int] = integer_check(schema)
    if float in allowed:
        table[float] = float_check(schema, integral="number" not in names)
    if str in allowed:
        string = string_check(schema, validate_formats)
        if string is not None:
            table[str] = string
    if list in allowed:
        table[list] = _array(schema, validate_formats)
    if dict in allowed:
        table[dict] = _object(schema, validate_formats)
    for keyword in ("enum", "const"):
        if keyword in schema:
            values = schema["enum"] if keyword == "enum" else [schema["const"]]
            table = _intersect(equal_to(values), table)
    if "oneOf" in schema:
        table = _intersect(table, _one_of(schema["oneOf"], validate_formats))
    return table


def _type_names(schema: dict[str, Any]) -> frozenset[str]:
    names = schema.get("type", list(_PY_TYPES))
    names = [names] if type(names) is str else names
    if type(names) is not list or not set(names) <= _PY_TYPES.keys():
        raise Unsupported(names)
    return frozenset(names)


def _py_types_of(names: frozenset[str]) -> frozenset[type]:
    return frozenset().union(*(_PY_TYPES[name] for name in names))


def _intersect(first: Table, second: Table) -> Table:
    """The table of values valid under both tables (``first`` is tried first)."""
    out: Table = {}
    for py_type, one in first.items():
        other = second.get(py_type)
        if other is None:
            continue
        if other is ANY[py_type]:
            out[py_type] = one
        elif one is ANY[py_type]:
            out[py_type] = other
        else:
            out[py_type] = _both(one, other)
    return out


def _both(first: Check, second: Check) -> Check:
    return lambda value: first(value) and second(value)


def _one_of(branches: object, validate_formats: bool) -> Table:
    """oneOf, in the two forms that are exact without knowing when a branch fails.

    Branches that only require properties ("exactly one of role or instanceProfile"): each
    holds exactly when its names are all present. Or branches accepting disjoint types: at
    most one can hold, so "exactly one" is "any one", and each type gets the table of the
    one branch taking it.
    """
    if type(branches) is not list or not branches:
        raise Unsupported(branches)
    if len(branches) > 1 and all(
        type(branch) is dict and branch.keys() <= _ANNOTATIONS | {"required"} for branch in branches
    ):
        alternatives = [_required(branch) for branch in branches]

        def exactly_one(value: dict[Any, Any]) -> bool:
            return sum(all(name in value for name in names) for names in alternatives) == 1

        # Every branch holds for a non-object (required ignores them): only objects pass.
        return {dict: _both(exactly_one, json_dict)}
    table: Table = {}
    taken: frozenset[type] = frozenset()
    for branch in branches:
        if type(branch) is dict:
            accepted = _py_types_of(_type_names(branch))
        else:
            accepted = frozenset(ANY) if branch is True else frozenset()
        if accepted & taken:
            raise Unsupported(branches)
        taken |= accepted
        table.update(_compile(branch, validate_formats))
    return table


def _array(schema: dict[str, Any], validate_formats: bool) -> Check:
    items = _compile(schema.get("items", True), validate_formats)
    least = count(schema, "minItems") or 0
    most = count(schema, "maxItems")
    longest = _INF if most is None else most
    if items is ANY and not least and most is None:
        return json_list

    def check(value: list[Any]) -> bool:
        if not least <= len(value) <= longest:
            return False
        for item in value:
            handler = items.get(type(item))
            if handler is None or not handler(item):
                return False
        return True

    return check


def _required(schema: dict[str, Any]) -> list[str]:
    names = schema.get("required", [])
    if type(names) is not list or any(type(name) is not str for name in names):
        raise Unsupported(names)
    return names


def _object(schema: dict[str, Any], validate_formats: bool) -> Check:
    properties = schema.get("properties", {})
    if type(properties) is not dict:
        raise Unsupported(properties)
    required = _required(schema)
    known = {key: _compile(sub, validate_formats) for key, sub in properties.items()}
    extra = _compile(schema.get("additionalProperties", True), validate_formats)
    key_ok: Check | None = None
    if "propertyNames" in schema:
        key_ok = _compile(schema["propertyNames"], validate_formats).get(str)
        if key_ok is None:  # no key could be certain
            raise Unsupported(schema["propertyNames"])
        # Known names are checked once, here; a refused one makes its property uncertain.
        known = {key: table if key_ok(key) else {} for key, table in known.items()}
    most = count(schema, "maxProperties")
    largest = _INF if most is None else most
    if not known and extra is ANY and key_ok is None and not required and most is None:
        return json_dict

    def check(value: dict[Any, Any]) -> bool:
        if len(value) > largest:
            return False
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            table = known.get(key)
            if table is None:
                if type(key) is not str or not (key.isascii() or encodable(key)):
                    return False
                if key_ok is not None and not key_ok(key):
                    return False
                table = extra
            elif type(key) is not str:  # a str subclass equal to a known name
                return False
            handler = table.get(type(item))
            if handler is None or not handler(item):
                return False
        return True

    return check
