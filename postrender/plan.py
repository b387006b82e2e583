"""The change plan: JSON Patch operations that each carry their reason and profile.

Transforms do not edit documents; they ask a :class:`Plan` to set, append or add, and
every effective edit becomes a :class:`Change`. The same list serves the post-renderer,
``slinky explain``/``diff`` and the Kustomize export; :mod:`postrender.apply` writes it
into the documents. A transform reads the documents as planned so far (:meth:`Plan.view`),
so it sees what an earlier one asked for, and a change that would not alter anything is
never recorded (idempotence).
"""

from __future__ import annotations

from collections.abc import Sequence

from postrender.yaml.stream import Document, Stream

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

Key = str | int


def copy_data(value: Any) -> Any:
    """A deep copy of plain data (maps, lists, scalars: what a plan holds), without
    copy.deepcopy's bookkeeping for shared and cyclic objects, which plans never hold."""
    if isinstance(value, dict):
        return {key: copy_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_data(item) for item in value]
    return value


def pointer(parts: Sequence[Key]) -> str:
    """RFC 6901 pointer for a path (``/`` and ``~`` escaped)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# Plain classes, not dataclasses: see tests/test_import_cost.py.
class Change:
    """One JSON Patch operation on one document, and why."""

    __slots__ = ("document", "field", "op", "partition", "path", "reason", "value")

    def __init__(
        self,
        document: int,
        op: str,
        path: str,
        value: Any,
        reason: str,
        partition: str | None = None,
        field: str | None = None,
    ) -> None:
        self.document = document  # index in the stream (added documents follow the input ones)
        self.op = op  # "add" or "replace", as in RFC 6902
        self.path = path  # JSON pointer inside the document
        self.value = value
        self.reason = reason  # what the user asked for, in their words
        self.partition = partition  # the profile partition it comes from
        self.field = field  # the profile field, e.g. "gres" or "options.MaxTime"

    def as_patch(self) -> dict[str, Any]:
        """The RFC 6902 operation alone."""
        return {"op": self.op, "path": self.path, "value": self.value}


class Why:
    """Where an edit comes from: the partition, its field, and a sentence."""

    __slots__ = ("field", "partition", "reason")

    def __init__(self, reason: str, partition: str | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.partition = partition
        self.field = field


class Plan:
    """The changes planned for a stream, and its documents as they would be after them.

    The stream is never modified. The planned view of a document shares everything with
    the document except the maps and lists on an edited path, copied (shallowly) on the
    first edit below them: the view costs what the edits cost, not a copy of the release.
    """

    __slots__ = ("added", "changes", "owned", "stream", "views")

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.changes: list[Change] = []
        self.added: list[Document] = []  # documents to add, in the order they were planned
        self.views: dict[Document, Any] = {}  # document -> its body as planned
        # The containers the views own, by id; held here so that no id is reused.
        self.owned: dict[int, Any] = {}

    def finish(self) -> None:
        """The planned bodies are applied: drop the view's bookkeeping; the changes stay."""
        self.views.clear()
        self.owned.clear()

    def view(self, doc: Document) -> Any:
        """The document's body as planned (the body itself while nothing is planned for it)."""
        return self.views.get(doc, doc.body)

    def lookup(self, doc: Document, parts: Sequence[Key]) -> Any:
        """The value at ``parts`` of the planned document, or None where a step is missing."""
        return lookup(self.view(doc), parts)

    def index(self, doc: Document) -> int:
        """Position of a document in the plan: the input documents, then the added ones."""
        if doc.added:
            return len(self.stream.documents) + self.added.index(doc)
        return doc.index

    def _own(self, container: Any) -> Any:
        mine = container.copy()
        self.owned[id(mine)] = mine
        return mine

    def _record(self, doc: Document, op: str, parts: Sequence[Key], value: Any, why: Why) -> None:
        # A copy: the planned list/map may still grow (a second toleration appended).
        value = copy_data(value)
        self.changes.append(
            Change(self.index(doc), op, pointer(parts), value, why.reason, why.partition, why.field)
        )

    def container(self, doc: Document, parts: Sequence[Key], why: Why) -> dict[str, Any]:
        """The planned map at ``parts``, ready to edit: created (and recorded) where missing
        or null, and owned by the view (copied on the way down where it was not)."""
        node = self.views.get(doc)
        if node is None:
            node = self.views[doc] = self._own(doc.body)
        for depth, part in enumerate(parts):
            key: Key = int(part) if isinstance(node, list) else part
            child = node.get(part) if isinstance(node, dict) else node[key]
            if child is None:
                child = {}
                op = "replace" if isinstance(node, dict) and part in node else "add"
                self._record(doc, op, parts[: depth + 1], {}, why)
                self.owned[id(child)] = node[key] = child
            elif isinstance(child, (dict, list)) and id(child) not in self.owned:
                child = node[key] = self._own(child)
            node = child
        if not isinstance(node, dict):
            raise TypeError(f"{pointer(parts)} is not a map")
        return node

    def set(self, doc: Document, parts: Sequence[Key], value: Any, why: Why) -> None:
        """Set a map entry, creating parents; nothing is recorded if it already holds ``value``."""
        parent = self.container(doc, parts[:-1], why)
        key = str(parts[-1])
        if key in parent and parent[key] == value:
            return
        op = "replace" if key in parent else "add"
        # The view's own copy: the caller's object may be set elsewhere or change later.
        parent[key] = copy_data(value)
        self._record(doc, op, parts, value, why)

    def set_for_each(
        self, doc: Document, parts: Sequence[Key], value: Any, whys: Sequence[Why]
    ) -> None:
        """Set a map entry once for several reasons (a partition line each): one change per
        reason, every one carrying the final value. Setting it once per reason would keep
        every intermediate value, memory quadratic in their number (10,000 partitions)."""
        if not whys:
            return
        parent = self.container(doc, parts[:-1], whys[0])
        key = str(parts[-1])
        if key in parent and parent[key] == value:
            return
        op = "replace" if key in parent else "add"
        parent[key] = copy_data(value)
        for why in whys:
            self._record(doc, op, parts, value, why)
            op = "replace"

    def append(self, doc: Document, parts: Sequence[Key], value: Any, why: Why) -> None:
        """Append to a list (created if missing or null) unless an equal item is there."""
        parent = self.container(doc, parts[:-1], why)
        key = str(parts[-1])
        current = parent.get(key)
        if current is None:
            self.set(doc, parts, [value], why)
            return
        if not isinstance(current, list):
            raise TypeError(f"{pointer(parts)} is not a list")
        if value in current:
            return
        if id(current) not in self.owned:
            current = parent[key] = self._own(current)
        current.append(copy_data(value))
        self._record(doc, "add", [*parts, "-"], value, why)

    def add_document(self, doc: Document, why: Why, before: Document | None = None) -> None:
        """Add a whole new document: written just ahead of ``before`` (the stream document
        that references it), or at the end of the stream."""
        doc.added = True
        doc.before = before
        self.added.append(doc)
        self.changes.append(
            Change(self.index(doc), "add", "", doc.body, why.reason, why.partition, why.field)
        )


def lookup(obj: Any, parts: Sequence[Key]) -> Any:
    """The value at ``parts``, or None where any step is missing."""
    for part in parts:
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and isinstance(part, int) and part < len(obj):
            obj = obj[part]
        else:
            return None
    return obj
