"""PyYAML (libyaml) reading and writing: what the fast paths hand over.

:mod:`postrender.yaml.fast_reader` reads, and :mod:`postrender.yaml.fast_writer` writes, the common
case in Python; anything outside it (aliases, tags, floats, unusual quoting, invalid YAML) comes
here. Imported only then: PyYAML's import alone costs ~30 ms of a ``helm upgrade``.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from postrender.yaml.fast_writer import Unusual
from postrender.yaml.scalars import kube_plain, reads_as_string
from postrender.yaml.text import LINE_BREAK, Unreadable

# Untagged plain scalars take the meaning Kubernetes gives them (scalars.kube_plain), not
# PyYAML's YAML 1.1 one: "10:30" is a string there, not 630; "0000-00-00" is a string, not
# a date PyYAML cannot build; "y" is true. A plain "<<" key still merges (go-yaml's too).
_KUBE_PLAIN = "tag:slinky-pr,2026:kube-plain"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.CSafeLoader):
    """libyaml's C parser, safe constructors only, duplicate keys refused, and plain
    scalars read as Kubernetes reads them."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        """Untagged plain scalars go to :func:`kube_plain` (a plain ``<<`` key merges)."""
        if kind is yaml.ScalarNode and implicit[0] and value != "<<":
            return _KUBE_PLAIN
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return, no-untyped-call]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Safe constructors fail on bad tagged scalars (``!!bool x``, ``!!int x``) with
        KeyError, ValueError or AttributeError whose messages quote the value, which may
        be Secret data: turn them into a YAML error that names the tag and the line only."""
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read this {node.tag.rsplit(':', 1)[-1]} value ({type(exc).__name__})",
                node.start_mark,
            ) from None


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (dict, list)):  # "? [a, b]": legal YAML, no JSON or Kubernetes key
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a scalar", key_node.start_mark
            )
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_Loader.add_constructor(_KUBE_PLAIN, lambda _, node: kube_plain(node.value))
# "<<" as a value (merge keys are taken out before anything is constructed) is the string.
_Loader.add_constructor(_MERGE, lambda _, node: node.value)


class _Dumper(yaml.CSafeDumper):
    """Write like Helm and kyaml do: literal blocks, double quotes, empty nulls."""

    def ignore_aliases(self, data: Any) -> bool:
        # No anchors: a value the plan put at two places is written twice, as Helm would.
        return True


_STR = "tag:yaml.org,2002:str"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


@functools.lru_cache(maxsize=8192)
def _style(data: str) -> str | None:
    """Literal block for multi-line text; double quotes for a string that would read back
    as another type in YAML 1.1, YAML 1.2 or Kubernetes ("26.05", "true", "y", "1e3", ""),
    as kyaml and Helm write it (libyaml would pick single quotes). Cached: a release
    repeats the same strings in every NodeSet."""
    if "\n" in data:
        return "|"
    if not data or not reads_as_string(data):
        return '"'
    if any(rx.match(data) for _, rx in _IMPLICIT.get(data[0], ())):
        return '"'
    return None


def _represent_str(dumper: _Dumper, data: str) -> yaml.Node:
    return dumper.represent_scalar(_STR, data, style=_style(data))


def _represent_none(dumper: _Dumper, _: None) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(type(None), _represent_none)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _tree_depth(root: yaml.Node) -> int:
    """Depth of an alias-free node tree; only collections are visited (the common, fast path)."""
    deepest = 1
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            continue
        if children:
            deepest = max(deepest, depth + 1)
            stack.extend((c, depth + 1) for c in children if not isinstance(c, yaml.ScalarNode))
    return deepest


def _measure(root: yaml.Node) -> tuple[int, int, int]:
    """Depth, size with aliases expanded (capped at 2**62) and distinct node count.

    Aliases make the node tree a graph: every node is visited once (memoized by identity),
    so a billion laughs costs its size in the input, not its expansion. A node reached
    again while still open is a recursive alias (``&a [*a]``), refused.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            size[key] = min(1 << 62, 1 + sum(size[id(c)] for c in children))  # no bignums
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
        elif key in open_nodes:
            raise yaml.constructor.ConstructorError(None, None, "recursive alias", node.start_mark)
        elif key not in size:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
    return depth[id(root)], size[id(root)], len(size)


def parse(
    chunk: str, first_line: int, alias_budget: int, max_depth: int, max_expanded: int
) -> tuple[Any, int]:
    """One document to objects, and how many nodes its aliases added; the document starts
    at line ``first_line`` of the stream. :class:`Unreadable` says what is wrong, where.

    Composed first, then measured, then constructed, so nothing recursive or expanding
    runs over a document that is too deep or a bomb.
    """
    try:
        return _compose_and_construct(chunk, alias_budget, max_depth, max_expanded)
    except yaml.reader.ReaderError as exc:
        # libyaml reports a bad character by byte offset, not by line.
        before = chunk.encode()[: exc.position].decode(errors="ignore")
        line = first_line + len(LINE_BREAK.findall(before))
        raise Unreadable(f"invalid YAML at line {line}: {exc.reason}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = f"line {first_line + mark.line}" if mark else "unknown line"
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise Unreadable(f"invalid YAML at {at}: {reason}", _tab_hint(chunk, mark)) from None
    except ValueError as exc:
        raise Unreadable(f"refused (starts at line {first_line}): {exc}") from None


def _compose_and_construct(
    chunk: str, alias_budget: int, max_depth: int, max_expanded: int
) -> tuple[Any, int]:
    loader = _Loader(chunk)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, 0
        added = 0
        if "*" in chunk:  # every alias is written with a "*"
            depth, expanded, distinct = _measure(node)
            added = expanded - distinct
        elif len(chunk) > max_depth:
            depth = _tree_depth(node)
        else:
            depth = 0  # every level of nesting takes at least one character
        if depth > max_depth:
            raise ValueError(f"nested deeper than {max_depth} levels")
        if added > alias_budget:
            raise ValueError(f"aliases expand the stream by more than {max_expanded} nodes")
        return loader.construct_document(node), added
    finally:
        loader.dispose()


def _tab_hint(chunk: str, mark: Any) -> str | None:
    """libyaml says "found character that cannot start any token" for a tab in indentation."""
    lines = chunk.splitlines()
    line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    indent = line[: len(line) - len(line.lstrip())]
    return "this line is indented with a tab: YAML indents with spaces" if "\t" in indent else None


def dump(body: Any) -> str:
    """One document as PyYAML writes it (what the fast writer's output is held equal to)."""
    return yaml.dump(
        body,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


def quote(value: str) -> str:
    """PyYAML's text for a single-line string that is not plainly safe."""
    text = dump({"k": value})[:-1]
    if not text.startswith("k: ") or LINE_BREAK.search(text):
        raise Unusual  # written on several lines: its indentation depends on the context
    return text[3:]
