"""What a lint rule reports: a finding, located on one object, with a fix hint."""

from __future__ import annotations

from dataclasses import dataclass

# Most severe first; --fail-on THRESHOLD fails on that level and everything above it.
SEVERITIES = ("error", "warning", "info")


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is as severe as ``threshold`` or more."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class Finding:
    """One problem found by one rule.

    Rules fill in what and where; the runner stamps ``rule`` and ``severity`` from the
    rule module, so a rule cannot report under another rule's ID by mistake.
    """

    message: str
    object: str  # "NodeSet/slinky-slurm-worker-gpu", "NodePool/gpu", "Partition/gpu-partition"
    path: str | None = None  # inside the object: "spec.slurmd.resources.limits"
    hint: str | None = None
    file: str | None = None  # the input file the object came from
    line: int | None = None  # 1-based line of the object (or profile entry) in ``file``
    source: str | None = None  # chart template, e.g. slurm/templates/nodeset/nodeset-cr.yaml
    rule: str = ""
    severity: str = ""

    @property
    def location(self) -> str:
        """``file:line`` where known, for humans."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""
