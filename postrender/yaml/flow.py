"""One-line flow collections (``[a, b]``, ``{k: v}``) in the YAML the fast reader reads."""

from __future__ import annotations

import re

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

# Where a plain scalar ends in a flow collection; a ":" inside one (a URL) is allowed.
_FLOW_STOP = re.compile(r"[,\[\]{}]|:[ ,\[\]{}]|:$| #")
# libyaml refuses some other characters after a ":" in a flow plain scalar ("a:?b").
_FLOW_ODD_COLON = re.compile(r":[^A-Za-z0-9/._-]")


def flow_collection(
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
            if pos - key_at > MAX_KEY:
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


def _skip_spaces(text: str, pos: int) -> int:
    while text.startswith(" ", pos):
        pos += 1
    return pos


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
        value, end = flow_collection(text, start, keys_as_written, depth + 1, max_depth)
    elif first == '"' or first == "'":
        value, end = quoted(text, start)
    else:
        stop = _FLOW_STOP.search(text, start)
        if stop is None or stop.group() == " #":
            raise Declined
        plain = text[start : stop.start()].rstrip(" ")
        if not plain or first in NOT_PLAIN_START or (first == "-" and plain[1:2] in ("", " ")):
            raise Declined
        if ":" in plain and _FLOW_ODD_COLON.search(plain):
            raise Declined
        if keys_as_written:
            value = plain if key else resolve_plain(plain)
        else:
            value = kube_key(plain) if key else kube_plain(plain)
        end = start + len(plain)
    return value, _skip_spaces(text, end)
