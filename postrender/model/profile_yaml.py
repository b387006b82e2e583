"""Reading a partition profile with PyYAML, when :mod:`postrender.yaml.fast_reader` declines it.

That is for profiles with anchors, floats, unusual quoting, or YAML errors: PyYAML reads
them (or says where they are wrong), and every value is checked on the way: aliases can
make a cycle or a billion laughs, tags can ask for types JSON has no place for.
Imported only then: PyYAML's import alone costs ~30 ms of a ``helm upgrade``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from postrender.errors import EXIT_PROFILE, Problem, SlinkyError
from postrender.model.profile_doc import (
    MAX_PROFILE_DEPTH,
    MAX_PROFILE_NODES,
    TITLE,
    Path,
    format_path,
)


class _ProfileLoader(yaml.CSafeLoader):
    """libyaml's parser (the pure-Python one costs more than the whole post-render of a
    typical release), YAML 1.1 without sexagesimal integers: ``DefaultTime: 30:00`` stays
    a string."""


_ProfileLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}
_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+)$"),
    list("-+0123456789"),
)


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _Refused(Exception):
    """A value the loader cannot turn into data; aborts building with one problem."""

    def __init__(self, message: str, node: yaml.Node, hint: str | None = None) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.hint = hint


def _text(value: str, node: yaml.Node) -> str:
    """A ``"\\ud800"`` escape yields a string no encoder (nor the validator) accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused("text with a lone surrogate escape (\\uD800-\\uDFFF)", node) from None
    return value


def _scalar(loader: _ProfileLoader, node: yaml.Node) -> Any:
    """A scalar as JSON-compatible data (what the schema validator accepts)."""
    try:
        value = loader.construct_object(node)
    except yaml.YAMLError as exc:  # a tag with no safe constructor: !!python/...
        raise _Refused(str(getattr(exc, "problem", None) or "unreadable value"), node) from None
    except Exception as exc:  # bad tagged scalars raise KeyError, ValueError, ...
        raise _Refused(f"cannot read this value ({type(exc).__name__})", node) from None
    if isinstance(value, str):
        return _text(value, node)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused(f"{value} is not a finite number", node)  # JSON has no inf or nan
    if not isinstance(value, (int, float, type(None))):  # bool is an int
        raise _Refused(
            f"a YAML {type(value).__name__} is not a profile value", node, "quote it as a string"
        )
    return value


def _build(
    loader: _ProfileLoader,
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    problems: list[Problem],
    src: str,
    walk: list[int] | None = None,
    open_nodes: set[int] | None = None,
) -> Any:
    """Node tree to Python values, recording each path's line and flagging duplicate keys.

    ``walk`` counts nodes visited (aliases re-visit theirs) and ``open_nodes`` holds the
    collections being built, to refuse bombs and recursive aliases before they hang.
    """
    walk = [0] if walk is None else walk
    open_nodes = set() if open_nodes is None else open_nodes
    walk[0] += 1
    if walk[0] > MAX_PROFILE_NODES:
        raise _Refused(f"more than {MAX_PROFILE_NODES} values (aliases expanded)", node)
    if len(path) > MAX_PROFILE_DEPTH:
        raise _Refused(f"nested deeper than {MAX_PROFILE_DEPTH} levels", node)
    if id(node) in open_nodes:
        raise _Refused("recursive alias", node)
    lines[path] = node.start_mark.line + 1
    if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        return _scalar(loader, node)
    if node.tag not in (_MAP_TAG, _SEQ_TAG):  # built as plain maps and lists: a tag would lie
        raise _Refused(f"tag {node.tag} is not allowed in a profile", node)
    open_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        out_list = [
            _build(loader, n, (*path, i), lines, problems, src, walk, open_nodes)
            for i, n in enumerate(node.value)
        ]
        open_nodes.discard(id(node))
        return out_list
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Refused("a mapping key must be a scalar", key_node)
        key = _text(key_node.value, key_node)  # as written: "1: x" is the key "1"
        if key in out:
            problems.append(
                Problem(
                    f"duplicate key {key!r}",
                    profile=f"{src}:{key_node.start_mark.line + 1}",
                    path=format_path((*path, key)),
                    hint="YAML keeps only the last one; remove the other",
                )
            )
        out[key] = _build(loader, value_node, (*path, key), lines, problems, src, walk, open_nodes)
    open_nodes.discard(id(node))
    return out


def read(text: str, src: str) -> tuple[Any, dict[Path, int], list[Problem]]:
    """The profile's data, the line of every value by path, and its duplicate keys."""
    lines: dict[Path, int] = {}
    problems: list[Problem] = []
    try:
        loader = _ProfileLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise SlinkyError(
                [Problem("the profile file is empty", profile=src)], EXIT_PROFILE, TITLE
            )
        data = _build(loader, node, (), lines, problems, src)
    except yaml.reader.ReaderError as exc:  # libyaml gives a byte offset, not a line
        line = text.encode("utf-8", "surrogatepass")[: exc.position].count(b"\n") + 1
        raise SlinkyError(
            [Problem(f"invalid YAML: {exc.reason}", profile=f"{src}:{line}")], EXIT_PROFILE, TITLE
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{src}:{mark.line + 1}" if mark else src
        reason = getattr(exc, "problem", None) or str(exc)
        raise SlinkyError(
            [Problem(f"invalid YAML: {reason}", profile=where)], EXIT_PROFILE, TITLE
        ) from None
    except _Refused as exc:
        raise SlinkyError(
            [Problem(str(exc), profile=f"{src}:{exc.line}", hint=exc.hint)], EXIT_PROFILE, TITLE
        ) from None
    return data, lines, problems
