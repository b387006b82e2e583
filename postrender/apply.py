"""Apply: the planned documents become the stream's.

The one place where the stream's documents change. Transforms only plan
(:mod:`postrender.plan`), which records JSON Patch operations and keeps each document as
planned; :func:`apply` installs the planned documents, then the post-renderer validates and
writes them. :func:`apply_patch` replays recorded operations: the Kustomize export's patches
and the test that holds the installed documents equal to the replayed ones use it.
"""

from __future__ import annotations

import copy

from postrender.plan import Plan, copy_data
from postrender.yaml.stream import Stream

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


def parts(path: str) -> list[str]:
    """The steps of an RFC 6901 pointer (``~1`` and ``~0`` unescaped)."""
    steps = path.split("/")[1:]
    if "~" in path:
        return [p.replace("~1", "/").replace("~0", "~") for p in steps]
    return steps


def apply_operation(obj: Any, op: str, path: str, value: Any) -> None:
    """Apply one operation in place: the RFC 6902 subset plans use (add and replace on
    maps, add at ``-`` or an index of a list). The value is copied: a later operation
    may grow the container it becomes, and the plan must keep what it recorded."""
    *parents, last = parts(path)
    node = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    value = copy_data(value)
    if isinstance(node, list):
        if last == "-":
            node.append(value)
        elif op == "add":
            node.insert(int(last), value)
        else:
            node[int(last)] = value
    elif op == "replace" and last not in node:
        raise KeyError(f"replace of missing {path}")
    else:
        node[last] = value


def apply_patch(obj: Any, ops: list[dict[str, Any]]) -> Any:
    """A patched copy of ``obj``: RFC 6902 operations (``op``, ``path``, ``value``) in order."""
    obj = copy.deepcopy(obj)
    for op in ops:
        apply_operation(obj, op["op"], op["path"], op["value"])
    return obj


def apply(stream: Stream, plan: Plan) -> None:
    """Make the planned documents the stream's: an input document with changes takes its
    planned body and is marked changed (re-serialized on output), the added ones join
    ``stream.added`` in the order they were planned. The planned bodies are the plan's
    operations already applied; ``tests/test_apply.py`` replays the operations on every
    golden case and gets the same documents (so do the Kustomize export's tests)."""
    inputs = len(stream.documents)
    touched = {change.document for change in plan.changes if change.document < inputs}
    for index in sorted(touched):
        doc = stream.documents[index]
        doc.body = plan.view(doc)
        doc.changed = True
    for doc in plan.added:
        doc.body = plan.view(doc)
        stream.added.append(doc)
    plan.finish()
