"""Write changed documents as YAML text, fast, byte for byte as :func:`stream.dump` would.

PyYAML's dumper spends most of its time in its Python representer, building a node per
value before libyaml emits it: on a 2,000-NodeSet release that is as long as parsing the
whole stream. Kubernetes objects are a narrow case (string keys; strings, integers,
booleans, nulls; block style), so this module writes them directly, one line per
key or item, and hands anything outside that case back to PyYAML:

- a whole document goes to PyYAML (:class:`Unusual`) if a key is not a short plain
  string, a multi-line string is not a plain literal block, or a value has another type;
- a single-line string that is not plainly safe is quoted by PyYAML once and cached.

``tests/yaml/test_fast_writer.py`` holds the output equal to PyYAML's on every document in testdata
and on generated ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


class Unusual(Exception):
    """The value is outside the fast writer's case; PyYAML writes the document."""


# Characters that never make a plain scalar special, wherever they are; ":" and " " are
# allowed between two of them (": " and " #" would start a value or a comment).
_SAFE = r"[A-Za-z0-9_/.=+(),;<>^$~@%-]"
_PLAIN = re.compile(rf"[A-Za-z0-9_/.(]{_SAFE}*(?:[ :]{_SAFE}+)*")
_BLOCK_LINE = re.compile(r"(?:[\x20-\x7e]*[\x21-\x7e])?")  # no trailing blank, no tab
# PyYAML writes a simple key only up to this length, and "? key" beyond it.
_MAX_SIMPLE_KEY = 128
# libyaml breaks a line at a space past its width (65,536 here): strings this long, with
# the indentation and key in front, go to PyYAML rather than have the break computed here.
_MAX_SCALAR = 1 << 15


class Writer:
    """Emits block-style YAML. ``quote(s)`` returns PyYAML's text for a single-line string
    that is not plainly safe (or raises :class:`Unusual`); ``needs_quotes(s)`` says whether
    a string would read back as another type ("true", "26.05"), which PyYAML double-quotes."""

    def __init__(self, quote: Callable[[str], str], needs_quotes: Callable[[str], bool]):
        self._quote = quote
        self._needs_quotes = needs_quotes
        # a release repeats the same strings in every NodeSet; bounded by the input cap
        self._strings: dict[str, str] = {}
        self._seen: set[int] = set()  # containers written in the current document

    def document(self, body: Any) -> str:
        """The YAML text of one document whose top level is a non-empty mapping or list."""
        lines: list[str] = []
        self._seen.clear()
        if isinstance(body, dict) and body:
            self._mapping(body, 0, "", lines)
        elif isinstance(body, list) and body:
            self._sequence(body, 0, "", lines)
        else:
            raise Unusual
        lines.append("")
        return "\n".join(lines)

    def _string(self, value: str) -> str:
        """A single-line string as PyYAML writes it."""
        text = self._strings.get(value)
        if text is None:
            if not value:
                text = '""'  # as PyYAML writes it
            elif value.startswith("...") or not _PLAIN.fullmatch(value):  # "..." ends a document
                text = self._quote(value)
            elif self._needs_quotes(value):
                text = f'"{value}"'  # nothing in a plain-safe string needs an escape
            else:
                text = value
            self._strings[value] = text
        return text

    def _key(self, key: Any) -> str:
        """Keys are plain-safe strings (quoted when they read back as another type); libyaml
        writes some other keys as "? key" lines."""
        if not isinstance(key, str) or len(key) >= _MAX_SIMPLE_KEY or not _PLAIN.fullmatch(key):
            raise Unusual
        return self._string(key)

    def _scalar(self, value: Any, indent: int, lines: list[str], prefix: str) -> None:
        """``prefix`` ("key:" or "-", already indented) followed by a scalar value."""
        if isinstance(value, str):
            if "\n" in value:
                self._literal(value, indent, lines, prefix)
                return
            if len(value) > _MAX_SCALAR:
                raise Unusual
            lines.append(f"{prefix} {self._string(value)}")
        elif value is None:
            lines.append(prefix)
        elif value is True:
            lines.append(f"{prefix} true")
        elif value is False:
            lines.append(f"{prefix} false")
        elif type(value) is int:
            lines.append(f"{prefix} {value}")
        elif value == {} or value == []:
            self._enter(value)  # an empty collection can be shared too
            lines.append(f"{prefix} {'{}' if isinstance(value, dict) else '[]'}")
        else:
            raise Unusual

    def _literal(self, value: str, indent: int, lines: list[str], prefix: str) -> None:
        """A ``|`` block: printable ASCII lines without leading or trailing blanks at the
        ends, ending in at most one newline; anything else is PyYAML's to write."""
        body = value[:-1] if value.endswith("\n") else value
        parts = body.split("\n")
        if body.endswith("\n") or value[0] == " " or not parts[0]:
            raise Unusual
        if not all(_BLOCK_LINE.fullmatch(part) for part in parts):
            raise Unusual
        lines.append(f"{prefix} |" if value.endswith("\n") else f"{prefix} |-")
        pad = " " * (indent + 2)
        lines.extend(pad + part if part else "" for part in parts)

    def _enter(self, collection: dict[Any, Any] | list[Any]) -> None:
        """An object reached twice is PyYAML's to write (in full: postrender/yaml/pyyaml.py)."""
        key = id(collection)
        if key in self._seen:
            raise Unusual
        self._seen.add(key)

    def _mapping(self, mapping: dict[Any, Any], indent: int, first: str, lines: list[str]) -> None:
        """A non-empty mapping at column ``indent``; its first line starts with ``first``
        (a sequence item's "- ") instead of spaces."""
        self._enter(mapping)
        pad = " " * indent
        lead = first or pad
        for key, value in mapping.items():
            prefix = f"{lead}{self._key(key)}:"
            lead = pad
            if isinstance(value, dict) and value:
                lines.append(prefix)
                self._mapping(value, indent + 2, "", lines)
            elif isinstance(value, list) and value:
                lines.append(prefix)
                self._sequence(value, indent, "", lines)  # PyYAML does not indent these
            else:
                self._scalar(value, indent, lines, prefix)

    def _sequence(self, items: list[Any], indent: int, first: str, lines: list[str]) -> None:
        self._enter(items)
        pad = " " * indent
        lead = first or pad
        for item in items:
            if isinstance(item, dict) and item:
                self._mapping(item, indent + 2, f"{lead}- ", lines)
            elif isinstance(item, list) and item:
                self._sequence(item, indent + 2, f"{lead}- ", lines)
            else:
                self._scalar(item, indent, lines, f"{lead}-")
            lead = pad
