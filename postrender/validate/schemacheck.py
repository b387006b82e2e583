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
written in syntax ECMA-262 and Python's ``re`` read alike (:func:`portable_pattern`).
"""

from __future__ import annotations

import functools
import re

# Importing typing costs ~7 ms of each run; mypy and ruff treat any name TYPE_CHECKING as
# typing's constant, so these imports are for the type checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeAlias

    # Whether an instance is certainly valid.
    Check: TypeAlias = Callable[[Any], bool]
    # A compiled schema: one check per Python type, for values of exactly that type. A type
    # with no entry is never certainly valid.
    Table: TypeAlias = dict[type, Check]

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
# Kubernetes formats unknown to jsonschema_rs, which ignores them (ignore_unknown_formats).
_IGNORED_FORMATS = frozenset(("int32", "int64"))
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
# jsonschema_rs holds integers in 64 bits (signed or unsigned); beyond that, not sure.
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1
_INF = float("inf")
# Python's regex engine backtracks where jsonschema_rs's is linear: a pattern only runs on
# strings up to this length, which bounds the worst case (ours take well under 1 ms).
MAX_PATTERN_INPUT = 1024


class _Unsupported(Exception):
    """The schema uses something this module does not model."""


def compile_schema(schema: object, *, validate_formats: bool) -> Check | None:
    """Compile a draft 2020-12 ``schema`` to a check that returns True only for instances
    that are certainly valid; None if the schema uses anything unsupported.

    ``validate_formats`` must be what jsonschema_rs is given (with unknown formats ignored);
    False makes ``format`` an annotation, draft 2020-12's default.
    """
    try:
        table = _compile(schema, validate_formats)
    except _Unsupported:
        return None

    def check(instance: Any) -> bool:
        handler = table.get(type(instance))
        try:
            return handler is not None and handler(instance)
        except RecursionError:  # nested deeper than Python recurses: jsonschema_rs decides
            return False

    return check


# --- any JSON value ---------------------------------------------------------------------
# Every check in a Table also checks that its whole value is JSON, so any of them can stand
# in for the plain ones here. Types are compared exactly: jsonschema_rs refuses subclasses.


def _true(_: Any) -> bool:
    return True


def _encodable(text: str) -> bool:
    """Whether ``text`` has no lone surrogate, which cannot be handed to jsonschema_rs."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_str(value: str) -> bool:
    return value.isascii() or _encodable(value)


def _json_int(value: int) -> bool:
    return _INT_MIN <= value <= _INT_MAX


def _json_float(value: float) -> bool:
    return value - value == 0.0  # False for nan and the infinities


def _json(value: Any) -> bool:
    """Whether ``value`` is JSON: the empty schema, inlined for schemaless subtrees."""
    kind = type(value)
    if kind is str:
        return value.isascii() or _encodable(value)
    if kind is dict:
        return _json_dict(value)
    if kind is list:
        return _json_list(value)
    if kind is int:
        return _json_int(value)
    if kind is float:
        return _json_float(value)
    return kind is bool or value is None


def _json_list(value: list[Any]) -> bool:
    return all(map(_json, value))


def _json_dict(value: dict[Any, Any]) -> bool:
    for key, item in value.items():
        if type(key) is not str or not (key.isascii() or _encodable(key)) or not _json(item):
            return False
    return True


_SCALARS = frozenset((type(None), bool, int, float, str))
_ANY: Table = {
    type(None): _true,
    bool: _true,
    int: _json_int,
    float: _json_float,
    str: _json_str,
    list: _json_list,
    dict: _json_dict,
}


# --- compiling ----------------------------------------------------------------------------


def _compile(schema: object, validate_formats: bool) -> Table:
    """The Table of ``schema``; raises _Unsupported for anything not modelled."""
    if schema is True:
        return _ANY
    if schema is False:
        return {}
    if type(schema) is not dict or not schema.keys() <= _KEYWORDS:
        raise _Unsupported(schema)
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise _Unsupported(schema["$schema"])  # another draft, other rules
    names = _type_names(schema)
    allowed = _py_types_of(names)
    table: Table = {}
    if type(None) in allowed:
        table[type(None)] = _true
    if bool in allowed:
        table[bool] = _true
    if int in allowed:
        table[int] = _integer(schema)
    if float in allowed:
        table[float] = _float(schema, integral="number" not in names)
    if str in allowed:
        string = _string(schema, validate_formats)
        if string is not None:
            table[str] = string
    if list in allowed:
        table[list] = _array(schema, validate_formats)
    if dict in allowed:
        table[dict] = _object(schema, validate_formats)
    for keyword in ("enum", "const"):
        if keyword in schema:
            values = schema["enum"] if keyword == "enum" else [schema["const"]]
            table = _intersect(_equal_to(values), table)
    if "oneOf" in schema:
        table = _intersect(table, _one_of(schema["oneOf"], validate_formats))
    return table


def _type_names(schema: dict[str, Any]) -> frozenset[str]:
    names = schema.get("type", list(_PY_TYPES))
    names = [names] if type(names) is str else names
    if type(names) is not list or not set(names) <= _PY_TYPES.keys():
        raise _Unsupported(names)
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
        if other is _ANY[py_type]:
            out[py_type] = one
        elif one is _ANY[py_type]:
            out[py_type] = other
        else:
            out[py_type] = _both(one, other)
    return out


def _both(first: Check, second: Check) -> Check:
    return lambda value: first(value) and second(value)


def _count(schema: dict[str, Any], keyword: str) -> int | None:
    value = schema.get(keyword)
    if value is not None and (type(value) is not int or value < 0):
        raise _Unsupported(value)
    return value


def _range(schema: dict[str, Any]) -> tuple[float, float]:
    """minimum and maximum (infinite when absent). Python compares ints and floats exactly,
    as jsonschema_rs does."""
    low, high = schema.get("minimum", -_INF), schema.get("maximum", _INF)
    if type(low) not in (int, float) or type(high) not in (int, float):
        raise _Unsupported((low, high))
    return low, high


def _integer(schema: dict[str, Any]) -> Check:
    least, most = _range(schema)
    if least == -_INF and most == _INF:
        return _json_int
    return lambda value: least <= value <= most and _INT_MIN <= value <= _INT_MAX


def _float(schema: dict[str, Any], integral: bool) -> Check:
    least, most = _range(schema)
    if integral:  # is_integer() is False for nan and the infinities too
        return lambda value: value.is_integer() and least <= value <= most
    return lambda value: value - value == 0.0 and least <= value <= most


def _equal_to(values: object) -> Table:
    """The table of enum (or const) ``values``, equal as JSON values are: ``1 == 1.0`` but
    ``True != 1``. Arrays and objects as values are not supported."""
    if type(values) is not list or not all(
        type(value) in _SCALARS and _ANY[type(value)](value) for value in values
    ):
        raise _Unsupported(values)
    table: Table = {}
    if None in values:
        table[type(None)] = _true
    booleans = tuple(value for value in values if type(value) is bool)
    if booleans:
        table[bool] = booleans.__contains__
    numbers = tuple(value for value in values if type(value) in (int, float))
    if numbers:  # only ever compared with ints and floats, so True never meets 1
        table[int] = table[float] = numbers.__contains__
    strings = frozenset(value for value in values if type(value) is str)
    if strings:
        table[str] = strings.__contains__
    return table


def _one_of(branches: object, validate_formats: bool) -> Table:
    """oneOf, in the two forms that are exact without knowing when a branch fails.

    Branches that only require properties ("exactly one of role or instanceProfile"): each
    holds exactly when its names are all present. Or branches accepting disjoint types: at
    most one can hold, so "exactly one" is "any one", and each type gets the table of the
    one branch taking it.
    """
    if type(branches) is not list or not branches:
        raise _Unsupported(branches)
    if len(branches) > 1 and all(
        type(branch) is dict and branch.keys() <= _ANNOTATIONS | {"required"} for branch in branches
    ):
        alternatives = [_required(branch) for branch in branches]

        def exactly_one(value: dict[Any, Any]) -> bool:
            return sum(all(name in value for name in names) for names in alternatives) == 1

        # Every branch holds for a non-object (required ignores them): only objects pass.
        return {dict: _both(exactly_one, _json_dict)}
    table: Table = {}
    taken: frozenset[type] = frozenset()
    for branch in branches:
        if type(branch) is dict:
            accepted = _py_types_of(_type_names(branch))
        else:
            accepted = frozenset(_ANY) if branch is True else frozenset()
        if accepted & taken:
            raise _Unsupported(branches)
        taken |= accepted
        table.update(_compile(branch, validate_formats))
    return table


def _string(schema: dict[str, Any], validate_formats: bool) -> Check | None:
    form = schema.get("format")
    if form is not None and type(form) is not str:
        raise _Unsupported(form)
    if validate_formats and form is not None and form not in _IGNORED_FORMATS:
        return None  # an asserted format (date-time) is not modelled: no string is certain
    least = _count(schema, "minLength") or 0
    most = _count(schema, "maxLength")
    longest = _INF if most is None else most
    pattern = schema.get("pattern")
    if pattern is None:
        if not least and most is None:
            return _json_str
        # len() counts code points, as JSON Schema does.
        return lambda value: least <= len(value) <= longest and _json_str(value)
    if type(pattern) is not str:
        raise _Unsupported(pattern)
    longest = min(longest, MAX_PATTERN_INPUT)

    def check(value: str) -> bool:
        # Only printable ASCII, where Python's re and ECMA-262 agree: \d, \w and \s are
        # Unicode-aware in one and not the other, $ and . treat line breaks differently.
        if not (least <= len(value) <= longest and value.isascii() and value.isprintable()):
            return False
        return _searcher(pattern)(value) is not None

    return check


def _array(schema: dict[str, Any], validate_formats: bool) -> Check:
    items = _compile(schema.get("items", True), validate_formats)
    least = _count(schema, "minItems") or 0
    most = _count(schema, "maxItems")
    longest = _INF if most is None else most
    if items is _ANY and not least and most is None:
        return _json_list

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
        raise _Unsupported(names)
    return names


def _object(schema: dict[str, Any], validate_formats: bool) -> Check:
    properties = schema.get("properties", {})
    if type(properties) is not dict:
        raise _Unsupported(properties)
    required = _required(schema)
    known = {key: _compile(sub, validate_formats) for key, sub in properties.items()}
    extra = _compile(schema.get("additionalProperties", True), validate_formats)
    key_ok: Check | None = None
    if "propertyNames" in schema:
        key_ok = _compile(schema["propertyNames"], validate_formats).get(str)
        if key_ok is None:  # no key could be certain
            raise _Unsupported(schema["propertyNames"])
        # Known names are checked once, here; a refused one makes its property uncertain.
        known = {key: table if key_ok(key) else {} for key, table in known.items()}
    most = _count(schema, "maxProperties")
    largest = _INF if most is None else most
    if not known and extra is _ANY and key_ok is None and not required and most is None:
        return _json_dict

    def check(value: dict[Any, Any]) -> bool:
        if len(value) > largest:
            return False
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            table = known.get(key)
            if table is None:
                if type(key) is not str or not (key.isascii() or _encodable(key)):
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


# --- patterns -----------------------------------------------------------------------------


def _no_match(_: str) -> None:
    return None


@functools.cache
def _searcher(pattern: str) -> Callable[[str], object]:
    """``pattern`` compiled for ASCII strings, at first use (compiling costs start-up time).
    A pattern that is not :func:`portable_pattern` matches nothing: no string is certain."""
    if not portable_pattern(pattern):
        return _no_match
    try:
        return re.compile(pattern, re.ASCII).search
    except (re.error, OverflowError):
        return _no_match


# Escapes both dialects read alike: classes, control characters, punctuation as itself.
_CLASS_ESCAPES = frozenset("dDwWsS")
_CONTROL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_ESCAPES = _CLASS_ESCAPES | _CONTROL_ESCAPES.keys() | frozenset("\\/.-+*?()[]{}|^$")


def portable_pattern(pattern: str) -> bool:
    """Whether ``pattern`` keeps to syntax ECMA-262 and Python's ``re`` read alike.

    Allowed: printable ASCII literals; ``^ $ |``; groups ``(...)`` and ``(?:...)``;
    quantifiers ``* + ? {n} {n,} {n,m}`` after an atom, optionally lazy; escapes of
    ``\\d \\D \\w \\W \\s \\S \\n \\t \\r \\f \\v`` and of punctuation; character classes
    (:func:`_class_end`). Refused, among others: ``.``, whose unbounded repeats
    (``(.+)\\s(.+)...``) backtrack badly in Python; back references and ``\\b``; lookaround,
    named groups and inline flags; ``{`` and ``}`` other than in a quantifier (ECMA reads
    ``a{,3}`` literally, Python as a quantifier); ``\\Z`` and ``\\A`` (letters in ECMA).
    """
    if not (pattern.isascii() and pattern.isprintable()):
        return False
    i, depth, atom = 0, 0, False  # atom: whether a quantifier may follow
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "\\":
            if i == len(pattern) or pattern[i] not in _ESCAPES:
                return False
            i += 1
            atom = True
        elif char == "[":
            i = _class_end(pattern, i)
            if i < 0:
                return False
            atom = True
        elif char == "(":
            if pattern.startswith("?", i):
                if not pattern.startswith("?:", i):
                    return False
                i += 2
            depth += 1
            atom = False
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
            atom = True
        elif char in "*+?{":
            if not atom:
                return False
            if char == "{":
                end = pattern.find("}", i)
                low, _, high = pattern[i:end].partition(",")  # {n}, {n,} or {n,m}
                if end < 0 or not low.isdigit() or not (high.isdigit() or not high):
                    return False
                i = end + 1
            if pattern.startswith("?", i):  # lazy: matches the same strings
                i += 1
            atom = False
        elif char in ".]}":
            return False
        else:
            atom = char not in "^$|"
    return depth == 0


def _class_end(pattern: str, start: int) -> int:
    """Index just past the class whose ``[`` is before ``start``, or -1 if it is not
    portable: a ``]`` first, a ``[`` inside or a doubled ``- & ~ |`` (Python warns, a
    future version may read set operations) are refused, and ``-`` must be first, last or
    between two single characters in order (ECMA reads ``[\\d-a]`` literally, Python fails).
    """
    i = start + 1 if pattern.startswith("^", start) else start
    first = i
    previous = ""  # the single character just read, a possible range start
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and i > first:
            return i + 1
        if char in "[]" or (char in "-&~|" and pattern.startswith(char, i + 1)):
            return -1
        if char == "-" and i > first and pattern[i + 1 : i + 2] != "]":
            end, i = _class_char(pattern, i + 1)
            if not previous or not end or end < previous:
                return -1
            previous = ""
            continue
        previous, i = _class_char(pattern, i)
        if i < 0:
            return -1
    return -1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """The single character at ``i`` in a class ("" for ``\\d`` and the like) and the index
    after it; index -1 if there is none or its escape is not portable."""
    if i >= len(pattern):
        return "", -1
    if pattern[i] != "\\":
        return pattern[i], i + 1
    escaped = pattern[i + 1 : i + 2]
    if not escaped or escaped not in _ESCAPES:
        return "", -1
    if escaped in _CLASS_ESCAPES:
        return "", i + 2
    return _CONTROL_ESCAPES.get(escaped, escaped), i + 2
