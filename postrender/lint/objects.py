"""Objects as lint sees them: a Kubernetes object, where it came from, and how to name it.

Every document of the release and of the cluster-object files is indexed once into
:class:`Obj` values; rules read them and report through :meth:`Obj.finding`, which fills
in the location (input file, line, chart template) so no rule computes one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from postrender.lint.finding import Finding
from postrender.yaml.stream import Stream

LINT_IGNORE = "slinky-pr/lint-ignore"


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None where a step is missing or not a map."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def as_map(value: Any) -> dict[str, Any]:
    """``value`` if it is a map, else an empty one (charts render absent maps as null)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def ignore_ids(annotations: Any) -> frozenset[str]:
    """Rule IDs listed in a ``slinky-pr/lint-ignore: ID,ID`` annotation."""
    value = as_map(annotations).get(LINT_IGNORE)
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.strip().upper() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Obj:
    """One Kubernetes object of the release or of a cluster-object file."""

    body: dict[str, Any]
    file: str | None  # input file ("-" for stdin); None for documents the post-renderer added
    line: int | None  # 1-based line where the document's content starts in ``file``
    source: str | None  # chart template path, when the stream says
    pointer: str = ""  # "/items/3" for an item of a kind: List document

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion") or "")

    @property
    def group(self) -> str:
        """The API group ("" for core objects)."""
        group, _, _ = self.api_version.rpartition("/")
        return group

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def name(self) -> str:
        return str(dig(self.body, "metadata", "name") or "")

    @property
    def ref(self) -> str:
        """``Kind/name``: how findings, suppressions and ``ignore_objects`` name an object."""
        return f"{self.kind or 'Document'}/{self.name or '?'}"

    @property
    def ignored(self) -> frozenset[str]:
        """Rules suppressed by annotation, on the object or (chart 1.0.x) its pod template."""
        return ignore_ids(dig(self.body, "metadata", "annotations")) | ignore_ids(
            dig(self.body, "spec", "template", "metadata", "annotations")
        )

    def finding(self, message: str, path: str | None = None, hint: str | None = None) -> Finding:
        """A finding located on this object."""
        if self.pointer and path:
            path = f"{self.pointer.lstrip('/').replace('/', '.')}.{path}"
        return Finding(
            message,
            self.ref,
            path=path,
            hint=hint,
            file=self.file,
            line=self.line,
            source=self.source,
        )


def index_stream(stream: Stream, file: str | None) -> Iterator[Obj]:
    """Every object of a stream (List items one by one), with its starting line in ``file``."""
    line = 1
    for doc in stream.documents:
        start = line + doc.head.count("\n")
        for pointer, body in doc.objects():
            yield Obj(body, file, start, doc.source, pointer)
        line += doc.raw.count("\n")
    for doc in stream.added:
        for pointer, body in doc.objects():
            yield Obj(body, None, None, doc.source, pointer)
