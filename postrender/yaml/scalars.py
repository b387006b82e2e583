"""The meaning of one scalar in the YAML :mod:`postrender.yaml.fast_reader` reads.

A plain scalar as Kubernetes reads it (:func:`kube_plain`) and as PyYAML reads it
(:func:`resolve_plain`), whether a string needs quoting to read back as itself
(:func:`reads_as_string`), and one-line quoted scalars (:func:`quoted`). Anything unsure
raises :class:`Declined`, so the caller hands the text to PyYAML.
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


class Declined(Exception):
    """The text is outside this reader's case; PyYAML must read it."""


_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_NUMBER_START = frozenset("-+.0123456789")
# Every character an int, float or timestamp can hold: "1Gi" or "500m" has another, so it
# is a string without compiling the pattern below.
_NUMBER_CHARS = "0123456789+-._: \tabcdefABCDEFxXoOiInNtTzZ"
# Characters that cannot start a plain scalar here ("-", "?", ":" can when a non-space
# follows; "-" is accepted that way, the other two are declined as rare).
NOT_PLAIN_START = frozenset("?:,[]{}#&*!|>'\"%@`")
_SINGLE_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_QUOTE_OR_ESCAPE = re.compile(r'["\\]')
# libyaml refuses a simple (one-line) key whose ":" is 1,024 or more characters from its
# start (bytes or characters); well below that, to be sure.
MAX_KEY = 256
# Python refuses to convert longer digit strings (PyYAML's path reports it).
_MAX_DIGITS = 4000


# How Kubernetes reads a plain scalar: sigs.k8s.io/yaml with go-yaml v2 (YAML 1.1 words
# plus "y"/"n", Go's integer and float syntax, no sexagesimal; a timestamp stays the
# string it is). Only a scalar starting with one of these characters can be a non-string.
_GO_HINTS = frozenset("+-0123456789.yYnNtTfFoO~")
_GO_WORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_INT64 = 1 << 63


@functools.cache
def _go_syntax() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Go's integer syntax (strconv base 0), go-yaml's float pattern, and Go's float syntax
    for a number starting with "."; compiled on first use."""
    integer = re.compile(
        r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))"
    )
    floating = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
    dotted = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")
    return integer, floating, dotted


def kube_plain(text: str) -> Any:
    """The value of a plain scalar as Kubernetes reads it (go-yaml v2's resolve)."""
    if not text:
        return None
    if text[0] not in _GO_HINTS:
        return text
    if text in _GO_WORDS:
        return _GO_WORDS[text]
    integer, floating, dotted = _go_syntax()
    if text[0] == ".":
        return _finite(text) if dotted.fullmatch(text) else text
    if text[0] not in _NUMBER_START:
        return text
    plain = text.replace("_", "")  # go-yaml drops every "_" before parsing a number
    match = integer.fullmatch(plain)
    if match:
        sign, hexa, octal, binary, old_octal, decimal = match.groups()
        digits, base = next(
            (d, b) for d, b in ((hexa, 16), (octal, 8), (binary, 2), (old_octal, 8), (decimal, 10))
            if d is not None
        )  # fmt: skip
        digits = digits.lstrip("0") or "0"
        if len(digits) <= 64:  # longer cannot fit 64 bits (nor trip int()'s digit limit)
            value = int(digits, base)
            if sign == "-" and value <= _INT64:
                return -value
            if value < _INT64 or (not sign and value < 2 * _INT64):  # int64, else uint64
                return value
    if floating.fullmatch(plain):
        return _finite(plain, text)
    return text


def _finite(number: str, text: str | None = None) -> Any:
    """A float as Go parses it: out of range is an error, and go-yaml keeps the text as
    written (``_`` included)."""
    value = float(number)
    return (text or number) if value in (float("inf"), float("-inf")) else value


def kube_key(text: str) -> Any:
    """A plain mapping key in a manifest; ``<<`` merges, which PyYAML's path does."""
    if text == "<<":
        raise Declined
    return kube_plain(text)


def resolve_plain(text: str) -> Any:
    """The value of a plain scalar, as PyYAML resolves it; :class:`Declined` if unsure."""
    if text in _NULLS:
        return None
    value = _BOOLS.get(text)
    if value is not None:
        return value
    if text[0] in _NUMBER_START:
        if _DECIMAL.fullmatch(text) and len(text) < _MAX_DIGITS:
            return int(text)
        if not text.strip(_NUMBER_CHARS) and ("o" in text or _yaml11_number().fullmatch(text)):
            # A float, another int form or a timestamp: PyYAML builds it. "0o17" is a
            # string in manifests but octal in profiles (profile_yaml's int rule).
            raise Declined
    elif text in ("<<", "="):  # merge and value keys
        raise Declined
    return text


def reads_as_string(text: str) -> bool:
    """Whether a plain scalar with this text reads back as this string in YAML 1.1 (PyYAML),
    in YAML 1.2's core schema and in Kubernetes (go-yaml); else writers quote it: "true",
    "", "26.05", "0x1F", "2025-01-01", "10:30", "y", "1e3", "0o17", "08"."""
    if text in _NULLS or text in _BOOLS or text in ("<<", "="):
        return False
    if not isinstance(kube_plain(text), str):
        return False
    if text[0] not in _NUMBER_START or text.strip(_NUMBER_CHARS):
        return True
    # go-yaml's float pattern is YAML 1.2's; "1e999" is a string to Go, infinity to 1.2.
    return not (_yaml11_number().fullmatch(text) or _go_syntax()[1].fullmatch(text))


@functools.cache
def _yaml11_number() -> re.Pattern[str]:
    """What PyYAML reads as an int, float or timestamp (YAML 1.1 types, as PyYAML has them:
    a float needs a ".", ints may be octal, hex, binary, sexagesimal or have "_").
    Compiled on first use: most plain scalars never need it."""
    integer = r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+|0|[1-9][0-9_]*(?::[0-5]?[0-9])*)"
    floating = (
        r"[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|\.(?:inf|Inf|INF))"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|\.(?:nan|NaN|NAN)"
    )
    timestamp = (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # a date alone has two-digit month and day
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
        r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
    )
    return re.compile(f"{integer}|{floating}|{timestamp}")


def quoted(text: str, start: int = 0) -> tuple[str, int]:
    """A one-line quoted scalar at ``text[start]``: its value and the index past it.
    Positions, not slices, so a long line with many entries stays linear."""
    if text[start] == "'":
        out = []
        i = start + 1
        while True:
            end = text.find("'", i)
            if end < 0:
                raise Declined  # continues on the next line
            out.append(text[i:end])
            if text.startswith("'", end + 1):
                out.append("'")
                i = end + 2
                continue
            return "".join(out), end + 1
    parts = []
    i = start + 1
    while True:
        special = _QUOTE_OR_ESCAPE.search(text, i)
        if special is None:
            raise Declined  # continues on the next line
        end = special.start()
        parts.append(text[i:end])
        if text[end] == '"':
            return "".join(parts), end + 1
        code = text[end + 1 : end + 2]
        if code in _SINGLE_ESCAPES:
            parts.append(_SINGLE_ESCAPES[code])
            i = end + 2
            continue
        digits = _HEX_ESCAPES.get(code)
        hex_text = text[end + 2 : end + 2 + digits] if digits else ""
        if not digits or len(hex_text) != digits or not _is_hex(hex_text):
            raise Declined
        point = int(hex_text, 16)
        if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
            raise Declined
        parts.append(chr(point))
        i = end + 2 + digits


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
