"""Read a rendered manifest stream into documents and write it back.

Every document keeps its exact input text. Only documents that a transform changed
are serialized again; all others are written back byte for byte, so comments,
quoting and key order of untouched documents survive.

Accepted forms: Helm 3 (``---`` + ``# Source:``), Helm 4 (kyaml,
``postrenderer.helm.sh/postrender-filename`` annotation, hooks included), plain
``helm template`` output and ``kind: List`` documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from postrender import switches
from postrender.errors import EXIT_INPUT, Problem, SlinkyError
from postrender.yaml import fast_reader as blockyaml
from postrender.yaml.fast_writer import Unusual, Writer
from postrender.yaml.scalars import reads_as_string
from postrender.yaml.text import LINE_BREAK, Unreadable

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

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


# Plain classes, not dataclasses: see tests/test_import_cost.py.
class Document:
    """One document of the stream: its exact text and, if it has content, its object."""

    __slots__ = ("added", "before", "body", "changed", "head", "index", "raw", "source")

    def __init__(
        self,
        index: int,
        raw: str,
        head: str,
        body: Any,
        source: str | None,
        changed: bool = False,
        added: bool = False,
    ) -> None:
        self.index = index
        self.raw = raw
        self.head = head  # the separator line and comments before the content, kept on rewrite
        self.body = body
        self.source = source  # template file: "# Source:" line or the Helm 4 annotation
        self.changed = changed
        self.added = added
        # For an added document: the stream document that references it. Helm 3 creates
        # objects in stream order and the operator's webhook denies a Controller whose
        # configFileRefs name a ConfigMap that does not exist yet, so it is written first.
        self.before: Document | None = None

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


class Stream:
    """The whole release as read from stdin."""

    __slots__ = ("added", "documents", "newline")

    def __init__(self, documents: list[Document], newline: str = "\n") -> None:
        self.documents = documents
        self.newline = newline
        self.added: list[Document] = []

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


def split_documents(text: str) -> list[str]:
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


def _parse(chunk: str, first_line: int, alias_budget: int) -> tuple[Any, int]:
    """One document to objects, and how many nodes its aliases added: by the fast reader
    when the document is in its case (nearly always), else by PyYAML."""
    try:
        if not switches.LIBRARY_PATH:
            return blockyaml.load(chunk, MAX_DEPTH), 0
    except blockyaml.Declined:
        pass
    from postrender.yaml import pyyaml as pyyaml_io

    return pyyaml_io.parse(chunk, first_line, alias_budget, MAX_DEPTH, MAX_EXPANDED_NODES)


def read_stream(text: str) -> Stream:
    """Parse every document; collect all unreadable documents into one error."""
    documents: list[Document] = []
    problems: list[Problem] = []
    line_offset = 0
    last_source: str | None = None
    alias_budget = MAX_EXPANDED_NODES
    for index, chunk in enumerate(split_documents(text)):
        head = _head(chunk)
        where = f"document {index + 1}"
        body = None
        try:
            body, added = _parse(chunk, line_offset + 1, alias_budget)
            alias_budget -= added
        except Unreadable as exc:
            problems.append(Problem(str(exc), document=where, hint=exc.hint))
        source = _source_of(head, body)
        if source is not None:
            last_source = source
        # Helm 3 writes "# Source:" only before a template's first document.
        documents.append(Document(index, chunk, head, body, source or last_source))
        line_offset += len(LINE_BREAK.findall(chunk))
    if problems:
        raise SlinkyError(problems, exit_code=EXIT_INPUT, title="cannot read the manifest stream")
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    return Stream(documents, newline)


def _quote(value: str) -> str:
    from postrender.yaml import pyyaml as pyyaml_io

    return pyyaml_io.quote(value)


WRITER = Writer(_quote, lambda value: not reads_as_string(value))


def dump(body: Any) -> str:
    """Serialize one object the way changed documents are written: PyYAML's output, from
    the fast writer when the object is in its case (postrender/yaml/fast_writer.py)."""
    try:
        if not switches.LIBRARY_PATH:
            return WRITER.document(body)
    except Unusual:
        pass
    from postrender.yaml import pyyaml as pyyaml_io

    return pyyaml_io.dump(body)


def _end_marker(raw: str) -> str:
    """The ``...`` line a document ended with, kept on rewrite: the next document may start
    without ``---`` and would otherwise be read as part of this one."""
    last = raw.splitlines(keepends=True)[-1:] or [""]
    return last[0] if _DOC_END.match(last[0]) else ""


def _opens(head: str) -> bool:
    """Whether a document's head starts it with a ``---`` line."""
    return any(_SEPARATOR.match(line) for line in head.splitlines())


def output_order(stream: Stream) -> list[Document]:
    """Input order; an added document just before the document that references it, the
    others (referenced by nothing in the stream) last, in the order they were added."""
    ahead: dict[int, list[Document]] = {}
    last: list[Document] = []
    for doc in stream.added:
        if doc.before is None:
            last.append(doc)
        else:
            ahead.setdefault(id(doc.before), []).append(doc)
    order: list[Document] = []
    for doc in stream.documents:
        order.extend(ahead.get(id(doc), ()))
        order.append(doc)
    return order + last


def write_stream(stream: Stream) -> str:
    """Untouched documents verbatim, changed ones re-serialized, added ones where Helm 3 can
    apply them (:func:`output_order`)."""
    parts: list[str] = []
    previous: Document | None = None
    for doc in output_order(stream) if stream.added else stream.documents:
        text = (
            doc.head + dump(doc.body) + _end_marker(doc.raw)
            if doc.changed or doc.added
            else doc.raw
        )
        if parts and parts[-1][-1:] not in _YAML_BREAKS:  # only an input without a final newline
            parts.append(stream.newline)
        if previous is not None and previous.before is doc and not _opens(doc.head or text):
            parts.append("---" + stream.newline)  # it was the first document: no separator
        parts.append(text)
        previous = doc
    return "".join(parts)
