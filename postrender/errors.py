"""Errors as values: every problem carries where it is and how to fix it.

Problems are collected (so a user sees all of them at once), raised once as a
``SlinkyError`` and formatted once, at the edge (the CLI).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing_extensions import Self

# Exit codes, documented in the README ("Exit codes"). Helm only sees non-zero.
EXIT_OK = 0
EXIT_FINDINGS = 1  # lint/golden/verify: the check ran and found something
EXIT_USAGE = 2  # bad command line (click's own code)
EXIT_INPUT = 3  # the manifest stream cannot be read
EXIT_PROFILE = 4  # the partition profile file is invalid
EXIT_PLAN = 5  # the profile cannot be applied to this release (conflict, unknown name)
EXIT_INVALID = 6  # the patched output fails schema or Kubernetes rules
EXIT_INTERNAL = 70  # a bug in slinky-pr


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\n``): names come from the
    input, and a raw ESC, CR or LF in one would drive the terminal or forge a log line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# Plain classes, not dataclasses: see tests/test_import_cost.py.
class Problem:
    """One thing that is wrong, with everything needed to find it.

    The one problem type of the house: post-render errors, schema violations, lint findings
    (``postrender.lint.finding``) and ``slinky verify`` differences are all Problems; the
    last two add their own fields (rule and severity; expected and actual) by subclassing.
    """

    __slots__ = ("document", "hint", "message", "path", "profile")
    # Every field, in order: what equality, ``repr`` and ``replace`` see (subclasses extend it).
    FIELDS: tuple[str, ...] = ("message", "document", "path", "profile", "hint")

    def __init__(
        self,
        message: str,
        document: str | None = None,
        path: str | None = None,
        profile: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.document = document  # e.g. "NodeSet/slinky-slurm-worker-gpu (slurm/templates/x.yaml)"
        self.path = path  # JSON path inside the document or profile, e.g. spec.extraConf
        self.profile = profile  # e.g. "profiles.yaml:12 partition gpu-partition"
        self.hint = hint

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    # Equal by value: the same problem reported twice (several schema error paths) is one.
    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: object) -> Self:
        """A copy with ``changes`` applied; problems are values, never edited in place."""
        new = object.__new__(type(self))
        for name in self.FIELDS:
            setattr(new, name, changes.pop(name, getattr(self, name)))
        if changes:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(changes)}")
        return new

    def format(self) -> str:
        """Render as one block of text: where, then what, then the hint."""
        where = [printable(w) for w in (self.profile, self.document) if w]
        head = " | ".join(where)
        if self.path:
            path = printable(self.path)
            head = f"{head} at {path}" if head else f"at {path}"
        message = printable(self.message)
        text = f"{head}: {message}" if head else message
        if self.hint:
            text += f"\n    hint: {printable(self.hint)}"
        return text


class SlinkyError(Exception):
    """A failure the user can fix; ``problems`` lists every finding, not only the first."""

    # No __slots__: an exception pickles and copies through its __dict__.
    def __init__(
        self,
        problems: list[Problem],
        exit_code: int = EXIT_PLAN,
        title: str = "slinky-pr failed",
        notes: list[str] | None = None,
    ) -> None:
        self.problems = problems
        self.exit_code = exit_code
        self.title = title
        self.notes: list[str] = [] if notes is None else notes

    def __str__(self) -> str:
        return self.format()

    def format(self) -> str:
        """Render the title and every problem, one per block."""
        lines = [f"{self.title} ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p.format()}" for p in self.problems]
        lines += [printable(note) for note in self.notes]
        return "\n".join(lines)


def fail(message: str, exit_code: int = EXIT_PLAN, **where: str | None) -> SlinkyError:
    """Build a one-problem error; ``where`` takes the ``Problem`` location fields."""
    return SlinkyError([Problem(message, **where)], exit_code=exit_code)
