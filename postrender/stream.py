"""Read a rendered manifest stream into documents and write it back.

Every document keeps its exact input text. Only documents that a transform changed
are serialized again; all others are written back byte for byte, so comments,
quoting and key order of untouched documents survive.

Accepted forms (DOMAIN.md §3): Helm 3 (``---`` + ``# Source:``), Helm 4 (kyaml,
``postrenderer.helm.sh/postrender-filename`` annotation, hooks included), plain
``helm template`` output and ``kind: List`` documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from postrender.errors import EXIT_INPUT, Problem, SlinkyError

FILENAME_ANNOTATION = "postrenderer.helm.sh/postrender-filename"
DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024
# A document whose aliases expand to more nodes than this is refused ("billion laughs").
MAX_EXPANDED_NODES = 1_000_000

_SEPARATOR = re.compile(r"---(?=[ \t\r\n]|$)")
_DOC_END = re.compile(r"\.\.\.(?=[ \t\r\n]|$)")
_SOURCE = re.compile(r"#\s*Source:\s*(\S+)")


class _Loader(yaml.CSafeLoader):
    """libyaml's C parser, safe constructors only, and duplicate keys refused."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
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


def _represent_str(dumper: _Dumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar(_STR, data, style="|")
    # A string that would read back as another type ("26.05", "true", "") needs quotes;
    # kyaml and Helm use double quotes, libyaml would pick single ones.
    if not data or any(rx.match(data) for _, rx in _IMPLICIT.get(data[0], ())):
        return dumper.represent_scalar(_STR, data, style='"')
    return dumper.represent_scalar(_STR, data)


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


def _expanded_size(obj: Any, budget: int) -> int:
    """Count nodes as a consumer would see them, aliases expanded; stop past ``budget``."""
    seen = 0
    stack = [obj]
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            return seen
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


def _source_of(head: str, body: Any) -> str | None:
    match = _SOURCE.search(head)
    if match:
        return match.group(1)
    meta = body.get("metadata") if isinstance(body, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(annotations, dict) and isinstance(annotations.get(FILENAME_ANNOTATION), str):
        return str(annotations[FILENAME_ANNOTATION])
    return None


def decode(data: bytes, max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> str:
    """Bytes from stdin to text: UTF-8 only, size-capped, a leading BOM dropped."""
    if len(data) > max_bytes:
        raise SlinkyError(
            [
                Problem(
                    f"input is {len(data)} bytes, over the limit of {max_bytes}",
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


def read_stream(text: str) -> Stream:
    """Parse every document; collect all unreadable documents into one error."""
    documents: list[Document] = []
    problems: list[Problem] = []
    line_offset = 0
    last_source: str | None = None
    for index, chunk in enumerate(_split(text)):
        head = _head(chunk)
        try:
            body = yaml.load(chunk, Loader=_Loader)
            if "&" in chunk and _expanded_size(body, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
                raise ValueError(f"aliases expand to more than {MAX_EXPANDED_NODES} nodes")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            where = f"line {line_offset + mark.line + 1}" if mark else "unknown line"
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            problems.append(
                Problem(f"invalid YAML at {where}: {reason}", document=f"document {index + 1}")
            )
            body = None
        except (ValueError, RecursionError) as exc:
            problems.append(Problem(f"refused: {exc}", document=f"document {index + 1}"))
            body = None
        source = _source_of(head, body)
        if source is not None:
            last_source = source
        # Helm 3 writes "# Source:" only before a template's first document.
        documents.append(Document(index, chunk, head, body, source or last_source))
        line_offset += chunk.count("\n")
    if problems:
        raise SlinkyError(problems, exit_code=EXIT_INPUT, title="cannot read the manifest stream")
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    return Stream(documents, newline)


def dump(body: Any) -> str:
    """Serialize one object the way changed documents are written."""
    return yaml.dump(
        body,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


def write_stream(stream: Stream) -> str:
    """Untouched documents verbatim, changed ones re-serialized, added ones last."""
    parts: list[str] = []
    for doc in [*stream.documents, *stream.added]:
        text = doc.head + dump(doc.body) if (doc.changed or doc.added) else doc.raw
        if parts and not parts[-1].endswith("\n"):
            parts.append(stream.newline)
        parts.append(text)
    return "".join(parts)
