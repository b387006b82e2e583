"""Read the plain block YAML that Helm renders, in Python, as the PyYAML path reads it.

``import yaml`` costs ~30 ms of every ``helm upgrade`` here (PyYAML compiles its reader and
resolver patterns at import), more than reading a typical release. Rendered manifests
and partition profiles are nearly always a narrow case of YAML: block mappings and
sequences, one-line scalars, ``|`` blocks, small one-line flow collections. This module
reads exactly that case and raises :class:`Declined` for anything else: the caller then
hands the document to PyYAML (libyaml), which reads it or reports the error. It never
reports a YAML error itself, so what it accepts must mean what PyYAML says it means:

- only characters YAML calls printable, and ``\\n`` for line breaks (no tabs, CR, other
  Unicode breaks: their rules are subtle);
- no anchors, aliases, tags, directives, ``?`` keys, ``>`` or ``|+`` blocks, multi-line
  plain or quoted scalars, duplicate keys, or anything PyYAML would refuse;
- in a manifest, a plain scalar means what it means to Kubernetes (``scalars.kube_plain``,
  go-yaml v2's rules: ``10:30`` and dates are strings, ``y`` is true, ``1e3`` a float),
  and ``postrender.yaml.pyyaml`` resolves plain scalars the same way; in a profile, it
  becomes null, bool, int or string by PyYAML's YAML 1.1 rules, and a float, timestamp
  or another int form (``0x1F``, ``1_000``, ``1:30``) is declined.

``tests/yaml/test_fast_reader.py`` holds every accepted document equal to PyYAML's reading;
``tests/e2e/test_kube_yaml.py`` holds ``scalars.kube_plain`` to Kubernetes' own YAML reader.
"""

from __future__ import annotations

import re

from postrender.yaml.flow import flow_collection
from postrender.yaml.scalars import (
    MAX_KEY,
    NOT_PLAIN_START,
    Declined,
    kube_key,
    kube_plain,
    quoted,
    resolve_plain,
)

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

    Path = tuple[str | int, ...]

# The reader's refusal is part of its interface: callers catch ``fast_reader.Declined``.
__all__ = ["Declined", "load"]

_NOT_ASCII = re.compile(r"[^\n -~]+")  # anything but printable ASCII and line feeds


def load(
    text: str, max_depth: int, keys_as_written: bool = False, lines: dict[Path, int] | None = None
) -> Any:
    """One document (a stream chunk, ``---`` line and comments included) as PyYAML reads it.

    ``keys_as_written`` keeps mapping keys as their text (``1: x`` has the key ``"1"``),
    as partition profiles read them; ``lines`` receives the 1-based line of every value by
    path. Deeper than ``max_depth`` levels is declined (PyYAML's path reports it).
    """
    for run in _NOT_ASCII.findall(text):
        _check_printable(run)
    return _Reader(text.split("\n"), max_depth, keys_as_written, lines).document()


def _check_printable(run: str) -> None:
    """YAML's printable characters beyond ASCII, less line breaks and a byte order mark.
    Checked by hand: that character class costs ~10 ms to compile as a pattern."""
    for char in run:
        if char in "\u2028\u2029\ufeff" or not (
            "\xa0" <= char <= "\ud7ff" or "\ue000" <= char <= "\ufffd" or char >= "\U00010000"
        ):
            raise Declined


class _Reader:
    """A cursor over the lines of one document. A node's reader returns with the cursor
    past everything the node used (on the next content line, if it has looked for it)."""

    __slots__ = ("_i", "_keys_as_written", "_lines", "_max_depth", "_record")

    def __init__(
        self,
        lines: list[str],
        max_depth: int,
        keys_as_written: bool,
        record: dict[Path, int] | None,
    ) -> None:
        self._lines = lines
        self._i = 0
        self._max_depth = max_depth
        self._keys_as_written = keys_as_written
        self._record = record

    def document(self) -> Any:
        first = self._lines[0]
        if first.startswith("---"):
            rest = first[3:]
            if rest and not (rest[0] == " " and rest.lstrip(" ")[:1] in ("", "#")):
                raise Declined  # content on the "---" line
            self._i = 1
        indent = self._next_indent()
        if indent < 0:
            return None
        path: Path | None = None if self._record is None else ()
        self._mark(path, self._i)
        value = self._node(indent, 1, path)
        if self._next_indent() >= 0:
            raise Declined  # a second node at the top: an error for PyYAML to report
        return value

    def _mark(self, path: Path | None, line_index: int) -> None:
        """Record that the value at ``path`` starts on this line (profiles only)."""
        if path is not None and self._record is not None:
            self._record[path] = line_index + 1

    def _next_indent(self) -> int:
        """Skip blank and comment lines; the indentation of the next line, or -1 at the end."""
        lines = self._lines
        i = self._i
        while i < len(lines):
            line = lines[i]
            content = line.lstrip(" ")
            if content and content[0] != "#":
                if line.startswith(("---", "...")):
                    raise Declined  # document markers are the stream splitter's business
                self._i = i
                return len(line) - len(content)
            i += 1
        self._i = i
        return -1

    def _node(self, indent: int, depth: int, path: Path | None) -> Any:
        """The block collection whose first line is the current one, at ``indent``."""
        if depth >= self._max_depth:
            raise Declined  # PyYAML counts the scalars at the bottom as one more level
        content = self._lines[self._i][indent:]
        if content[:2] == "- " or content == "-":
            return self._sequence(indent, depth, path)
        return self._mapping(indent, depth, path)

    def _mapping(self, indent: int, depth: int, path: Path | None) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        lines = self._lines
        while True:
            text, rest, plain = _split_key(lines[self._i], indent)
            key = kube_key(text) if plain and not self._keys_as_written else text
            if key in out:
                raise Declined  # duplicate keys are refused with a message by PyYAML's path
            sub = None if path is None else (*path, text)
            out[key] = self._value(rest, indent, depth, sub, in_mapping=True)
            following = self._next_indent()
            if following < indent:
                return out
            if following > indent:
                raise Declined

    def _sequence(self, indent: int, depth: int, path: Path | None) -> list[Any]:
        out: list[Any] = []
        lines = self._lines
        while True:
            line = lines[self._i]
            if line[indent : indent + 2] not in ("- ", "-"):
                return out  # the next key of the mapping this sequence is a value of
            item = line[indent + 1 :].lstrip(" ")
            sub = None if path is None else (*path, len(out))
            if item[:2] == "- " or item == "-":
                raise Declined  # "- - a": compact nested sequences
            if item and item[0] not in "[{#|" and _is_key_line(item):
                # "- key: value": a mapping whose first key sits on the item's line.
                column = len(line) - len(item)
                lines[self._i] = " " * column + item
                self._mark(sub, self._i)
                out.append(self._node(column, depth + 1, sub))
            else:
                out.append(self._value(item, indent, depth, sub, in_mapping=False))
            following = self._next_indent()
            if following < indent:
                return out
            if following > indent:
                raise Declined

    def _value(
        self, rest: str, indent: int, depth: int, path: Path | None, in_mapping: bool
    ) -> Any:
        """The value after ``key:`` or ``-`` (``rest``: the line past them, stripped), on
        the current line or, if ``rest`` is empty, on the lines below."""
        line_no = self._i
        self._mark(path, line_no)
        self._i = line_no + 1
        if not rest or rest[0] == "#":
            following = self._next_indent()
            if following < indent:
                return None
            content = self._lines[self._i][following:]
            is_item = content[:2] == "- " or content == "-"
            if following == indent and not (in_mapping and is_item):
                return None  # the next key or item: this value is null
            if not is_item and not _is_key_line(content):
                raise Declined  # a scalar on the lines below its key
            self._mark(path, self._i)
            return self._node(following, depth + 1, path)
        first = rest[0]
        if first == "|":
            self._i = line_no
            return self._literal(rest, indent)
        if first == '"' or first == "'":
            value, end = quoted(rest)
            _only_comment(rest[end:])
        elif first == "[" or first == "{":
            value, end = flow_collection(rest, 0, self._keys_as_written, depth + 1, self._max_depth)
            _only_comment(rest[end:])
            if path is not None and self._record is not None:
                _record_flow(self._record, value, path, line_no + 1)
        else:
            text = _plain(rest)
            value = resolve_plain(text) if self._keys_as_written else kube_plain(text)
        if self._next_indent() > indent:
            raise Declined  # a one-line scalar that goes on below: multi-line, or an error
        return value

    def _literal(self, header: str, indent: int) -> str:
        """A ``|`` or ``|-`` block below the current line; ``indent`` is its key's."""
        chomp, _, comment = header[1:].partition(" ")
        if chomp not in ("", "-") or comment.lstrip(" ")[:1] not in ("", "#"):
            raise Declined  # "|+", "|2", or text after the header
        lines = self._lines
        i = self._i + 1
        blank_run = 0
        width = -1
        body: list[str] = []
        while i < len(lines):
            line = lines[i]
            content = line.lstrip(" ")
            if not content:
                if len(line) > max(width, 0):
                    raise Declined  # all-space lines longer than the indentation
                blank_run += 1
                body.append("")
                i += 1
                continue
            here = len(line) - len(content)
            if here <= indent or (width >= 0 and here < width):
                break
            if width < 0:
                width = here
            body.append(line[width:])
            blank_run = 0
            i += 1
        if width < 0 or (i == len(lines) and not blank_run):
            raise Declined  # an empty block, or one that ends the text without a newline
        del body[len(body) - blank_run :]
        self._i = i
        return "\n".join(body) + ("\n" if chomp == "" else "")


def _record_flow(record: dict[Path, int], value: Any, path: Path, line: int) -> None:
    """Every value of a one-line flow collection is on that line."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        sub = (*path, key)
        record[sub] = line
        if isinstance(item, (dict, list)):
            _record_flow(record, item, sub, line)


def _is_key_line(content: str) -> bool:
    """Whether a line's content (past its indentation) is ``key: ...`` or ``key:``."""
    if content[0] in "\"'":
        try:
            after = content[quoted(content)[1] :]
        except Declined:
            return False
        return after[:2] == ": " or after == ":"
    colon = content.find(": ")
    return colon > 0 or content.endswith(":")


def _split_key(line: str, indent: int) -> tuple[str, str, bool]:
    """``key: rest`` at ``indent``: the key's text, the rest (stripped), and whether the
    key is plain (quoted keys are strings as they are)."""
    content = line[indent:]
    first = content[0]
    if first == '"' or first == "'":
        key, end = quoted(content)
        after = content[end:]
        if end > MAX_KEY:
            raise Declined
        if after[:2] == ": ":
            return key, after[2:].lstrip(" "), False
        if after == ":":
            return key, "", False
        raise Declined
    if first in NOT_PLAIN_START or first == "-":
        raise Declined
    colon = content.find(": ")
    if colon < 0:
        if not content.endswith(":"):
            raise Declined  # not a key: a scalar, or an error
        colon = len(content) - 1
    key = content[:colon].rstrip(" ")
    if " #" in key or colon > MAX_KEY or any(c in key for c in ",[]{}"):
        raise Declined
    return key, content[colon + 2 :].lstrip(" "), True


def _plain(text: str) -> str:
    """A one-line plain scalar's text: up to a comment, trailing spaces dropped."""
    first = text[0]
    if first in NOT_PLAIN_START or (first == "-" and (len(text) == 1 or text[1] == " ")):
        raise Declined
    comment = text.find(" #")
    if comment >= 0:
        text = text[:comment]
    text = text.rstrip(" ")
    if ": " in text or text.endswith(":"):
        raise Declined  # "a: b: c" is an error
    return text


def _only_comment(after: str) -> None:
    """After a quoted scalar or flow collection, only spaces and a comment may follow."""
    if after and not (after[0] == " " and after.lstrip(" ")[:1] in ("", "#")):
        raise Declined
