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
- in a manifest, a plain scalar means what it means to Kubernetes (:func:`kube_plain`,
  go-yaml v2's rules: ``10:30`` and dates are strings, ``y`` is true, ``1e3`` a float),
  and ``postrender.pyyaml_io`` resolves plain scalars the same way; in a profile, it
  becomes null, bool, int or string by PyYAML's YAML 1.1 rules, and a float, timestamp
  or another int form (``0x1F``, ``1_000``, ``1:30``) is declined.

``tests/test_blockyaml.py`` holds every accepted document equal to PyYAML's reading;
``tests/e2e/test_kube_yaml.py`` holds :func:`kube_plain` to Kubernetes' own YAML reader.
"""

from __future__ import annotations

import functools
import re

# Importing typing costs ~7 ms of every run; mypy and ruff treat this name as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Path = tuple[str | int, ...]


class Declined(Exception):
    """The text is outside this reader's case; PyYAML must read it."""


_NOT_ASCII = re.compile(r"[^\n -~]+")  # anything but printable ASCII and line feeds
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
_NOT_PLAIN_START = frozenset("?:,[]{}#&*!|>'\"%@`")
# Where a plain scalar ends in a flow collection; a ":" inside one (a URL) is allowed.
_FLOW_STOP = re.compile(r"[,\[\]{}]|:[ ,\[\]{}]|:$| #")
# libyaml refuses some other characters after a ":" in a flow plain scalar ("a:?b").
_FLOW_ODD_COLON = re.compile(r":[^A-Za-z0-9/._-]")
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
_MAX_KEY = 256
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


def _kube_key(text: str) -> Any:
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
            key = _kube_key(text) if plain and not self._keys_as_written else text
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
            value, end = _quoted(rest)
            _only_comment(rest[end:])
        elif first == "[" or first == "{":
            value, end = _flow(rest, 0, self._keys_as_written, depth + 1, self._max_depth)
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
            after = content[_quoted(content)[1] :]
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
        key, end = _quoted(content)
        after = content[end:]
        if end > _MAX_KEY:
            raise Declined
        if after[:2] == ": ":
            return key, after[2:].lstrip(" "), False
        if after == ":":
            return key, "", False
        raise Declined
    if first in _NOT_PLAIN_START or first == "-":
        raise Declined
    colon = content.find(": ")
    if colon < 0:
        if not content.endswith(":"):
            raise Declined  # not a key: a scalar, or an error
        colon = len(content) - 1
    key = content[:colon].rstrip(" ")
    if " #" in key or colon > _MAX_KEY or any(c in key for c in ",[]{}"):
        raise Declined
    return key, content[colon + 2 :].lstrip(" "), True


def _plain(text: str) -> str:
    """A one-line plain scalar's text: up to a comment, trailing spaces dropped."""
    first = text[0]
    if first in _NOT_PLAIN_START or (first == "-" and (len(text) == 1 or text[1] == " ")):
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


def _quoted(text: str, start: int = 0) -> tuple[str, int]:
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


def _skip_spaces(text: str, pos: int) -> int:
    while text.startswith(" ", pos):
        pos += 1
    return pos


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _flow(
    text: str, start: int, keys_as_written: bool, depth: int, max_depth: int
) -> tuple[Any, int]:
    """A one-line flow collection at ``text[start]``: its value and the index past it."""
    if depth >= max_depth:
        raise Declined  # as in _Reader._node
    closing = "]" if text[start] == "[" else "}"
    pos = _skip_spaces(text, start + 1)
    items: list[Any] = []
    mapping: dict[Any, Any] = {}
    if text.startswith(closing, pos):
        return (items if closing == "]" else mapping), pos + 1
    while True:
        if closing == "}":
            key_at = pos
            key, pos = _flow_scalar(text, pos, keys_as_written, depth, max_depth, key=True)
            if isinstance(key, (dict, list)) or not text.startswith(": ", pos) or key in mapping:
                raise Declined
            if pos - key_at > _MAX_KEY:
                raise Declined
            value_at = _skip_spaces(text, pos + 2)
            mapping[key], pos = _flow_scalar(text, value_at, keys_as_written, depth, max_depth)
        else:
            value, pos = _flow_scalar(text, pos, keys_as_written, depth, max_depth)
            if text.startswith(":", pos):
                raise Declined  # "[a: b]": a one-pair mapping
            items.append(value)
        if text.startswith(closing, pos):
            return (items if closing == "]" else mapping), pos + 1
        if not text.startswith(",", pos):
            raise Declined
        pos = _skip_spaces(text, pos + 1)
        if pos == len(text) or text[pos] in ",]}":
            raise Declined  # empty entries and trailing commas


def _flow_scalar(
    text: str, start: int, keys_as_written: bool, depth: int, max_depth: int, key: bool = False
) -> tuple[Any, int]:
    """One entry of a flow collection (a nested collection, a quoted or a plain scalar) at
    ``text[start]``: its value and the index past it and the spaces after it. A plain
    ``key`` stays as written if ``keys_as_written``; nested mappings keep that rule."""
    if start == len(text):
        raise Declined
    first = text[start]
    if first == "[" or first == "{":
        value, end = _flow(text, start, keys_as_written, depth + 1, max_depth)
    elif first == '"' or first == "'":
        value, end = _quoted(text, start)
    else:
        stop = _FLOW_STOP.search(text, start)
        if stop is None or stop.group() == " #":
            raise Declined
        plain = text[start : stop.start()].rstrip(" ")
        if not plain or first in _NOT_PLAIN_START or (first == "-" and plain[1:2] in ("", " ")):
            raise Declined
        if ":" in plain and _FLOW_ODD_COLON.search(plain):
            raise Declined
        if keys_as_written:
            value = plain if key else resolve_plain(plain)
        else:
            value = _kube_key(plain) if key else kube_plain(plain)
        end = start + len(plain)
    return value, _skip_spaces(text, end)
