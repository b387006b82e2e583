"""Read a rendered manifest stream into documents and write it back.

Every document keeps its exact input text. Only documents that a transform changed
are serialized again; all others are written back byte for byte, so comments,
quoting and key order of untouched documents survive.

Accepted forms (DOMAIN.md §3): Helm 3 (``---`` + ``# Source:``), Helm 4 (kyaml,
``postrenderer.helm.sh/postrender-filename`` annotation, hooks included), plain
``helm template`` output and ``kind: List`` documents.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from postrender.emit import Unusual, Writer
from postrender.errors import EXIT_INPUT, Problem, SlinkyError

FILENAME_ANNOTATION = "postrenderer.helm.sh/postrender-filename"
# 2.7 times the 4,000-NodeSet benchmark release (5.9 MB); the worst inputs under this cap
# cost minutes and GiBs, not tens of minutes (docs/hostile-input.md, "Bounds").
DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024
# Aliases may add at most this many nodes to the whole stream ("billion laughs"). Counted
# for the stream, not per document: a million small bombs would otherwise each pass.
MAX_EXPANDED_NODES = 1_000_000
# Deeper documents are refused before anything recurses over them: the constructor, the
# dumper and the schema validator all recurse, and Python's limit (1000 frames) would
# otherwise decide, differently depending on the caller's stack. Kubernetes objects,
# CRDs included, stay far below this.
MAX_DEPTH = 100

_SEPARATOR = re.compile(r"---(?=[ \t\r\n]|$)")
_DOC_END = re.compile(r"\.\.\.(?=[ \t\r\n]|$)")
_SOURCE = re.compile(r"#\s*Source:\s*(\S+)")


class _Loader(yaml.CSafeLoader):
    """libyaml's C parser, safe constructors only, and duplicate keys refused."""

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


class _Dumper(yaml.CSafeDumper):
    """Write like Helm and kyaml do: literal blocks, double quotes, empty nulls."""


_STR = "tag:yaml.org,2002:str"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


@functools.lru_cache(maxsize=8192)
def _style(data: str) -> str | None:
    """Literal block for multi-line text; double quotes for a string that would read back
    as another type ("26.05", "true", ""), as kyaml and Helm write it (libyaml would pick
    single quotes). Cached: a release repeats the same strings in every NodeSet."""
    if "\n" in data:
        return "|"
    if not data or any(rx.match(data) for _, rx in _IMPLICIT.get(data[0], ())):
        return '"'
    return None


def _represent_str(dumper: _Dumper, data: str) -> yaml.Node:
    return dumper.represent_scalar(_STR, data, style=_style(data))


def _represent_none(dumper: _Dumper, _: None) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(type(None), _represent_none)


@dataclass
class Document:
    """One document of the stream: its exact text and, if it has content, its object."""

    index: int
    raw: str
    head: str  # the separator line and comments before the content, kept on rewrite
    body: Any
    source: str | None  # template file: "# Source:" line or the Helm 4 annotation
    changed: bool = False
    added: bool = False

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", "")) if isinstance(self.body, dict) else ""

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", "")) if isinstance(self.body, dict) else ""

    @property
    def name(self) -> str:
        meta = self.body.get("metadata") if isinstance(self.body, dict) else None
        return str(meta.get("name", "")) if isinstance(meta, dict) else ""

    @property
    def label(self) -> str:
        """How errors name this document: kind/name (source file), or its position."""
        what = f"{self.kind}/{self.name}" if self.kind else f"document {self.index + 1}"
        return f"{what} ({self.source})" if self.source else what

    def objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (JSON pointer prefix, object): the document itself, or each item of a List."""
        if not isinstance(self.body, dict):
            return
        items = self.body.get("items")
        if self.kind == "List" and isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    yield f"/items/{i}", item
        else:
            yield "", self.body


@dataclass
class Stream:
    """The whole release as read from stdin."""

    documents: list[Document]
    newline: str = "\n"
    added: list[Document] = field(default_factory=list)

    @property
    def helm4(self) -> bool:
        """Whether this is Helm 4's post-renderer input (filename annotations, no comments)."""
        return not any(_SOURCE.search(d.head) for d in self.documents) and any(
            FILENAME_ANNOTATION in d.raw for d in self.documents
        )

    def added_head(self, source: str) -> str:
        """Head for a document slinky-pr adds. Helm 4 writes its own ``# Source:`` line from
        the annotation and keeps ours as a comment, so a second one is left out there."""
        return "---\n" if self.helm4 else f"---\n# Source: {source}\n"

    def added_annotations(self, source: str) -> dict[str, str]:
        """Annotations for a document slinky-pr adds. Helm 4 maps a document to its template
        by this annotation and removes it; Helm 3 would apply it to the cluster as is."""
        return {FILENAME_ANNOTATION: source} if self.helm4 else {}

    @property
    def chart(self) -> str:
        """The chart name, the first part of the template paths (``slurm``)."""
        for doc in self.documents:
            if doc.source and "/" in doc.source:
                return doc.source.split("/", 1)[0]
        return "slurm"


def _split(text: str) -> list[str]:
    """Cut the stream into document chunks at ``---`` lines and after ``...`` lines.

    YAML forbids document markers at column 0 inside block or flow scalars, so a
    line scan cuts exactly where a YAML parser would.
    """
    chunks: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if _SEPARATOR.match(line) and current:
            chunks.append("".join(current))
            current = []
        current.append(line)
        if _DOC_END.match(line):
            chunks.append("".join(current))
            current = []
    if current:
        chunks.append("".join(current))
    return chunks


def _head(chunk: str) -> str:
    """The separator line and the comment/blank lines before the content."""
    end = 0
    for line in chunk.splitlines(keepends=True):
        stripped = line.strip()
        is_separator = end == 0 and _SEPARATOR.match(line)
        if is_separator and stripped not in ("---",) and not stripped[3:].lstrip().startswith("#"):
            return "---" + ("\r\n" if line.endswith("\r\n") else "\n")  # content on the --- line
        if is_separator or not stripped or stripped.startswith("#"):
            end += len(line)
            continue
        break
    return chunk[:end]


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


def _source_of(head: str, body: Any) -> str | None:
    match = _SOURCE.search(head)
    if match:
        return match.group(1)
    meta = body.get("metadata") if isinstance(body, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(annotations, dict) and isinstance(annotations.get(FILENAME_ANNOTATION), str):
        return str(annotations[FILENAME_ANNOTATION])
    return None


def decode(data: bytes | bytearray, max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> str:
    """Bytes from stdin to text: UTF-8 only, size-capped, a leading BOM dropped."""
    if len(data) > max_bytes:
        # The CLI reads at most max_bytes + 1 bytes, so the real size is not known here.
        raise SlinkyError(
            [
                Problem(
                    f"input is over the limit of {max_bytes} bytes",
                    hint="raise it with --max-input-bytes or SLINKY_PR_MAX_INPUT_BYTES",
                )
            ],
            exit_code=EXIT_INPUT,
            title="cannot read the manifest stream",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SlinkyError(
            [Problem(f"input is not UTF-8: byte {exc.start} (line {line}) is invalid")],
            exit_code=EXIT_INPUT,
            title="cannot read the manifest stream",
        ) from None
    return text.removeprefix("\ufeff")


# Line breaks for YAML (and libyaml). A lone "\r" is one: an old-Mac stream that is
# passed through must not gain a "\n" between its documents.
_YAML_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # what libyaml counts as one


def _parse(chunk: str, alias_budget: int) -> tuple[Any, int]:
    """One document to objects, and how many nodes its aliases added.

    Composed first, then measured, then constructed, so nothing recursive or expanding
    runs over a document that is too deep or a bomb.
    """
    loader = _Loader(chunk)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, 0
        added = 0
        if "*" in chunk:  # every alias is written with a "*"
            depth, expanded, distinct = _measure(node)
            added = expanded - distinct
        elif len(chunk) > MAX_DEPTH:
            depth = _tree_depth(node)
        else:
            depth = 0  # every level of nesting takes at least one character
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if added > alias_budget:
            raise ValueError(f"aliases expand the stream by more than {MAX_EXPANDED_NODES} nodes")
        return loader.construct_document(node), added
    finally:
        loader.dispose()


def _tab_hint(chunk: str, mark: Any) -> str | None:
    """libyaml says "found character that cannot start any token" for a tab in indentation."""
    lines = chunk.splitlines()
    line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    indent = line[: len(line) - len(line.lstrip())]
    return "this line is indented with a tab: YAML indents with spaces" if "\t" in indent else None


def read_stream(text: str) -> Stream:
    """Parse every document; collect all unreadable documents into one error."""
    documents: list[Document] = []
    problems: list[Problem] = []
    line_offset = 0
    last_source: str | None = None
    alias_budget = MAX_EXPANDED_NODES
    for index, chunk in enumerate(_split(text)):
        head = _head(chunk)
        where = f"document {index + 1}"
        body = None
        try:
            body, added = _parse(chunk, alias_budget)
            alias_budget -= added
        except yaml.reader.ReaderError as exc:
            # libyaml reports a bad character by byte offset, not by line.
            line = (
                line_offset
                + len(_LINE_BREAK.findall(chunk.encode()[: exc.position].decode(errors="ignore")))
                + 1
            )
            problems.append(Problem(f"invalid YAML at line {line}: {exc.reason}", document=where))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            at = f"line {line_offset + mark.line + 1}" if mark else "unknown line"
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            problems.append(
                Problem(
                    f"invalid YAML at {at}: {reason}", document=where, hint=_tab_hint(chunk, mark)
                )
            )
        except ValueError as exc:
            problems.append(
                Problem(f"refused (starts at line {line_offset + 1}): {exc}", document=where)
            )
        source = _source_of(head, body)
        if source is not None:
            last_source = source
        # Helm 3 writes "# Source:" only before a template's first document.
        documents.append(Document(index, chunk, head, body, source or last_source))
        line_offset += len(_LINE_BREAK.findall(chunk))
    if problems:
        raise SlinkyError(problems, exit_code=EXIT_INPUT, title="cannot read the manifest stream")
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    return Stream(documents, newline)


def _pyyaml_dump(body: Any) -> str:
    return yaml.dump(
        body,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


def _quote(value: str) -> str:
    """PyYAML's text for a single-line string that is not plainly safe."""
    text = _pyyaml_dump({"k": value})[:-1]
    if not text.startswith("k: ") or _LINE_BREAK.search(text):
        raise Unusual  # written on several lines: its indentation depends on the context
    return text[3:]


_WRITER = Writer(_quote, lambda value: _style(value) == '"')


def dump(body: Any) -> str:
    """Serialize one object the way changed documents are written: PyYAML's output, from
    the fast writer when the object is in its case (postrender/emit.py)."""
    try:
        return _WRITER.document(body)
    except Unusual:
        return _pyyaml_dump(body)


def _end_marker(raw: str) -> str:
    """The ``...`` line a document ended with, kept on rewrite: the next document may start
    without ``---`` and would otherwise be read as part of this one."""
    last = raw.splitlines(keepends=True)[-1:] or [""]
    return last[0] if _DOC_END.match(last[0]) else ""


def write_stream(stream: Stream) -> str:
    """Untouched documents verbatim, changed ones re-serialized, added ones last."""
    parts: list[str] = []
    for doc in [*stream.documents, *stream.added]:
        text = (
            doc.head + dump(doc.body) + _end_marker(doc.raw)
            if doc.changed or doc.added
            else doc.raw
        )
        if parts and parts[-1][-1:] not in _YAML_BREAKS:  # only an input without a final newline
            parts.append(stream.newline)
        parts.append(text)
    return "".join(parts)
