"""The transforms, applied in order; one module each, configuration in, changes out.

Each module exposes ``apply(ctx)``. It reads the release and the profile from the
context, plans its edits through ``ctx.edits`` (which records and applies them),
and reports what it cannot do as problems rather than raising, so the user sees
every problem of a run at once.
"""

from __future__ import annotations

from collections.abc import Callable

from postrender.errors import Problem
from postrender.plan import Edits
from postrender.release import Release


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


def pipeline() -> list[Callable[[Context], None]]:
    """The transforms in order: node scheduling, Slurm config, then the Karpenter pools."""
    from postrender.transforms import (
        accelerators,
        capacity,
        controller,
        efa,
        karpenter,
        partitions,
        scheduling,
    )

    return [
        scheduling.apply,
        accelerators.apply,
        efa.apply,
        partitions.apply,
        controller.apply,
        karpenter.apply,
        capacity.apply,
    ]
