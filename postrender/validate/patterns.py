"""Which regular expressions Python's ``re`` reads as ECMA-262 does, for the quick schema check.

jsonschema_rs runs a schema's ``pattern`` with ECMA-262 semantics; ``postrender.validate.
schemacheck`` runs it with Python's ``re``, so only patterns both read alike
(:func:`portable_pattern`) may make a string certainly valid.
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from collections.abc import Callable

# Python's regex engine backtracks where jsonschema_rs's is linear: a pattern only runs on
# strings up to this length, which bounds the worst case (ours take well under 1 ms).
MAX_PATTERN_INPUT = 1024


def _no_match(_: str) -> None:
    return None


@functools.cache
def searcher(pattern: str) -> Callable[[str], object]:
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
