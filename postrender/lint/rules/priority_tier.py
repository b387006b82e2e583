"""PriorityTier out of range.

**What.** ``PriorityTier`` in the Controller's ``PartitionName=`` lines and in NodeSet
``spec.partition.config`` must be a whole number from 0 to 65533.

**Why.** slurmctld rejects the value. PriorityTier orders partitions that share nodes
(higher first): a debug partition over the batch one on the same GPUs.

**Options.** None.

PASS::

    PartitionName=debug Nodes=gpu PriorityTier=20

FAIL::

    PartitionName=debug Nodes=gpu PriorityTier=70000
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-C004"
SEVERITY = "error"
MAX = 65533


def check(ctx: LintContext) -> Iterator[Finding]:
    for line in ctx.partition_lines:
        for key, value in line.tokens.items():
            if key.lower() == "prioritytier" and not (value.isdigit() and int(value) <= MAX):
                yield line.obj.finding(
                    f"partition {line.name}: PriorityTier={value} is not 0-{MAX}",
                    line.path,
                    f"use a whole number from 0 to {MAX}",
                )
