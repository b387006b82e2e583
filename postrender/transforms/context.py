"""What a transform works with: the release, the plan so far, problems and notes."""

from __future__ import annotations

from postrender.errors import Problem
from postrender.plan import Plan
from postrender.select import Release, SlinkyObject, Target

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


class Context:
    """What a transform works with."""

    # A plain class, not a dataclass: see tests/test_import_cost.py.
    __slots__ = ("notes", "plan", "problems", "release")

    def __init__(
        self,
        release: Release,
        plan: Plan,
        problems: list[Problem] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.release = release
        self.plan = plan
        self.problems: list[Problem] = [] if problems is None else problems
        self.notes: list[str] = [] if notes is None else notes

    def obj(self, found: Target | SlinkyObject) -> dict[str, Any]:
        """A NodeSet, Controller or ConfigMap as planned so far: what earlier transforms
        (and earlier edits of this one) asked for included."""
        node: Any = self.plan.view(found.doc)
        for part in found.prefix:
            node = node[part]
        return node  # type: ignore[no-any-return]
