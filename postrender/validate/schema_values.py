"""The quick schema check's checks of one value: is it JSON as jsonschema_rs reads it, and
does it keep a schema's scalar keywords (enum, const, minimum/maximum, lengths, pattern).

Used by :mod:`postrender.validate.schemacheck`, which compiles whole schemas from them.
"""

from __future__ import annotations

from postrender.validate.patterns import MAX_PATTERN_INPUT, searcher

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeAlias

    # Whether an instance is certainly valid.
    Check: TypeAlias = Callable[[Any], bool]
    # A compiled schema: one check per Python type, for values of exactly that type. A type
    # with no entry is never certainly valid.
    Table: TypeAlias = dict[type, Check]

# Kubernetes formats unknown to jsonschema_rs, which ignores them (ignore_unknown_formats).
_IGNORED_FORMATS = frozenset(("int32", "int64"))
# jsonschema_rs holds integers in 64 bits (signed or unsigned); beyond that, not sure.
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1
_INF = float("inf")


class Unsupported(Exception):
    """The schema uses something the quick check does not model."""


# Every check in a Table also checks that its whole value is JSON, so any of them can stand
# in for the plain ones here. Types are compared exactly: jsonschema_rs refuses subclasses.


def true(_: Any) -> bool:
    return True


def encodable(text: str) -> bool:
    """Whether ``text`` has no lone surrogate, which cannot be handed to jsonschema_rs."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_str(value: str) -> bool:
    return value.isascii() or encodable(value)


def json_int(value: int) -> bool:
    return _INT_MIN <= value <= _INT_MAX


def json_float(value: float) -> bool:
    return value - value == 0.0  # False for nan and the infinities


def _json(value: Any) -> bool:
    """Whether ``value`` is JSON: the empty schema, inlined for schemaless subtrees."""
    kind = type(value)
    if kind is str:
        return value.isascii() or encodable(value)
    if kind is dict:
        return json_dict(value)
    if kind is list:
        return json_list(value)
    if kind is int:
        return json_int(value)
    if kind is float:
        return json_float(value)
    return kind is bool or value is None


def json_list(value: list[Any]) -> bool:
    return all(map(_json, value))


def json_dict(value: dict[Any, Any]) -> bool:
    for key, item in value.items():
        if type(key) is not str or not (key.isascii() or encodable(key)) or not _json(item):
            return False
    return True


SCALARS = frozenset((type(None), bool, int, float, str))
ANY: Table = {
    type(None): true,
    bool: true,
    int: json_int,
    float: json_float,
    str: json_str,
    list: json_list,
    dict: json_dict,
}


# --- scalar keywords ---------------------------------------------------------------------


def count(schema: dict[str, Any], keyword: str) -> int | None:
    value = schema.get(keyword)
    if value is not None and (type(value) is not int or value < 0):
        raise Unsupported(value)
    return value


def value_range(schema: dict[str, Any]) -> tuple[float, float]:
    """minimum and maximum (infinite when absent). Python compares ints and floats exactly,
    as jsonschema_rs does."""
    low, high = schema.get("minimum", -_INF), schema.get("maximum", _INF)
    if type(low) not in (int, float) or type(high) not in (int, float):
        raise Unsupported((low, high))
    return low, high


def integer_check(schema: dict[str, Any]) -> Check:
    least, most = value_range(schema)
    if least == -_INF and most == _INF:
        return json_int
    return lambda value: least <= value <= most and _INT_MIN <= value <= _INT_MAX


def float_check(schema: dict[str, Any], integral: bool) -> Check:
    least, most = value_range(schema)
    if integral:  # is_integer() is False for nan and the infinities too
        return lambda value: value.is_integer() and least <= value <= most
    return lambda value: value - value == 0.0 and least <= value <= most


def equal_to(values: object) -> Table:
    """The table of enum (or const) ``values``, equal as JSON values are: ``1 == 1.0`` but
    ``True != 1``. Arrays and objects as values are not supported."""
    if type(values) is not list or not all(
        type(value) in SCALARS and ANY[type(value)](value) for value in values
    ):
        raise Unsupported(values)
    table: Table = {}
    if None in values:
        table[type(None)] = true
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


def string_check(schema: dict[str, Any], validate_formats: bool) -> Check | None:
    form = schema.get("format")
    if form is not None and type(form) is not str:
        raise Unsupported(form)
    if validate_formats and form is not None and form not in _IGNORED_FORMATS:
        return None  # an asserted format (date-time) is not modelled: no string is certain
    least = count(schema, "minLength") or 0
    most = count(schema, "maxLength")
    longest = _INF if most is None else most
    pattern = schema.get("pattern")
    if pattern is None:
        if not least and most is None:
            return json_str
        # len() counts code points, as JSON Schema does.
        return lambda value: least <= len(value) <= longest and json_str(value)
    if type(pattern) is not str:
        raise Unsupported(pattern)
    longest = min(longest, MAX_PATTERN_INPUT)

    def check(value: str) -> bool:
        # Only printable ASCII, where Python's re and ECMA-262 agree: \d, \w and \s are
        # Unicode-aware in one and not the other, $ and . treat line breaks differently.
        if not (least <= len(value) <= longest and value.isascii() and value.isprintable()):
            return False
        return searcher(pattern)(value) is not None

    return check
