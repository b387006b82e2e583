"""What a transform works with: the release, the edits, problems and notes."""

from __future__ import annotations

from postrender.errors import Problem
from postrender.plan import Edits
from postrender.select import Release


class Context:
    """What a transform works with."""

    # A plain class, not a dataclass: importing dataclasses costs ~17 ms of every `helm upgrade`.
    __slots__ = ("edits", "notes", "problems", "release")

    def __init__(
        self,
        release: Release,
        edits: Edits,
        problems: list[Problem] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.release = release
        self.edits = edits
        self.problems: list[Problem] = [] if problems is None else problems
        self.notes: list[str] = [] if notes is None else notes
