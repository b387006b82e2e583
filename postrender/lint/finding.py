"""What a lint rule reports: a problem, located on one object, with a rule and a severity."""

from __future__ import annotations

from postrender.errors import Problem

# Most severe first; --fail-on THRESHOLD fails on that level and everything above it.
SEVERITIES = ("error", "warning", "info")


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is as severe as ``threshold`` or more."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


class Finding(Problem):
    """One problem found by one rule; its ``document`` is the object it is on.

    Rules fill in what and where; the runner stamps ``rule`` and ``severity`` from the
    rule module, so a rule cannot report under another rule's ID by mistake.
    """

    __slots__ = ("file", "line", "rule", "severity", "source")
    FIELDS = (*Problem.FIELDS, "file", "line", "source", "rule", "severity")

    def __init__(
        self,
        message: str,
        object: str,
        path: str | None = None,
        hint: str | None = None,
        file: str | None = None,
        line: int | None = None,
        source: str | None = None,
        rule: str = "",
        severity: str = "",
    ) -> None:
        # "NodeSet/slinky-slurm-worker-gpu", "NodePool/gpu", "Partition/gpu-partition"
        super().__init__(message, document=object, path=path, hint=hint)
        self.file = file  # the input file the object came from
        self.line = line  # 1-based line of the object (or profile entry) in ``file``
        self.source = source  # chart template, e.g. slurm/templates/nodeset/nodeset-cr.yaml
        self.rule = rule
        self.severity = severity

    @property
    def object(self) -> str:
        """The object the finding is on, as ``Kind/name``."""
        return self.document or ""

    @property
    def location(self) -> str:
        """``file:line`` where known, for humans."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def to_dict(self) -> dict[str, str | int | None]:
        """Every field, in the order of the JSON report."""
        return {
            "message": self.message,
            "object": self.object,
            "path": self.path,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "source": self.source,
            "rule": self.rule,
            "severity": self.severity,
        }
