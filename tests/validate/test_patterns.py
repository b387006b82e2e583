"""Patterns both ECMA-262 (jsonschema_rs) and Python's ``re`` read alike
(``postrender.validate.patterns``); the schemas' own patterns are in test_schemacheck.py."""

from __future__ import annotations

import pytest

from postrender.validate.patterns import portable_pattern


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        r"^(?:a|b)+?$",
        r"a{2}b{2,}c{2,3}?",
        r"[-._a-zA-Z0-9]",
        r"[A-Za-z0-9/_:-]",
        r"[\d.\-\]]",
        r"^[^\n]+$",
        r"a\/b\.c",
        r"()|",
    ],
)
def test_portable_patterns(pattern: str) -> None:
    assert portable_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        ".",  # backtracks badly when repeated
        "a{,3}",  # ECMA: literal; Python: a quantifier
        "a{",
        "a}",
        "]",
        r"a\Z",  # ECMA: the letter Z
        r"\bword",
        r"(a)\1",
        "(?i)a",
        "(?<name>a)",
        "(?=a)",
        "(?P<name>a)",
        "a**",
        "a*+",
        "^*",
        "(*a)",
        "(a",
        "a)",
        "[]a]",  # ECMA: an empty class
        "[^]",
        "[a",
        r"[\d-a]",  # ECMA: literal "-"; Python: an error
        "[a-z-0]",
        "[z-a]",
        "[[a]]",  # Python warns of nested sets
        "[a--b]",
        "[a&&b]",
        r"[\b]",
        r"\u0041",
        "é",
        "a\tb",
        "a\\",
    ],
)
def test_unportable_patterns(pattern: str) -> None:
    assert not portable_pattern(pattern)
