"""Show what slinky-pr changes, per document, from the same plan the post-renderer applies.

``table`` lists each change with the profile partition and field that caused it;
``diff`` is a unified diff per document (kind/name headers, colour on a terminal).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from postrender.pipeline import Result
from postrender.yaml.stream import dump

_COLOURS = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m"}
_RESET = "\x1b[0m"


def _documents(result: Result) -> Iterator[tuple[int, str, str, str]]:
    """(index, label, before, after) for every changed or added document."""
    stream = result.stream
    for i, doc in enumerate([*stream.documents, *stream.added]):
        if doc.added:
            yield i, doc.label + " [added]", "", doc.head + dump(doc.body)
        elif doc.changed:
            yield i, doc.label, doc.raw, doc.head + dump(doc.body)


def diff(result: Result, colour: bool = False) -> str:
    """Unified diff of every document slinky-pr changes or adds."""
    out: list[str] = []
    for _, label, before, after in _documents(result):
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{label}",
            f"b/{label}",
        )
        for line in lines:
            if not line.endswith("\n"):
                line += "\n"
            if colour and line[:1] in _COLOURS and not line.startswith(("---", "+++")):
                line = _COLOURS[line[0]] + line.rstrip("\n") + _RESET + "\n"
            out.append(line)
    return "".join(out)


def table(result: Result) -> str:
    """Each change with its reason and origin, grouped by document."""
    by_doc: dict[int, list[str]] = {}
    for change in result.changes:
        origin = ".".join(x for x in (change.partition, change.field) if x) or "release"
        shown = repr(change.value)
        value = f" = {shown if len(shown) < 72 else shown[:69] + '...'}" if change.path else ""
        by_doc.setdefault(change.document, []).append(
            f"  {change.op:<7} {change.path or '(new document)'}{value}\n"
            f"          because {change.reason} [{origin}]"
        )
    out = []
    labels = {i: label for i, label, _, _ in _documents(result)}
    for index, rows in by_doc.items():
        out.append(labels.get(index, f"document {index + 1}"))
        out += rows
    out += [f"note: {note}" for note in result.notes]
    if not result.changes:
        out.append("no changes: the release already carries what the profile asks for")
    return "\n".join(out) + "\n"
