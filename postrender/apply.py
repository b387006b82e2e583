"""Apply: the plan's JSON Patch operations written into the documents.

The one place where the stream's documents change. Transforms only plan
(:mod:`postrender.plan`); the post-renderer applies the plan here, then validates and
writes what it applied; the Kustomize export replays the same operations with
:func:`apply_patch` to prove its patch set gives the same objects.
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
    """Write every change of the plan into the stream, in order: an input document it
    touches is marked changed (re-serialized on output), an added one joins ``stream.added``."""
    inputs = len(stream.documents)
    for change in plan.changes:
        if change.document < inputs:
            doc = stream.documents[change.document]
            doc.changed = True
        else:
            doc = plan.added[change.document - inputs]
            if not change.path:  # the document itself
                doc.body = copy_data(change.value)
                stream.added.append(doc)
                continue
        apply_operation(doc.body, change.op, change.path, change.value)
