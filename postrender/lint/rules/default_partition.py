"""More than one default partition.

**What.** Across the Controller's ``PartitionName=`` lines and NodeSet
``spec.partition.config``, at most one partition may say ``Default=YES``. (Two in the
profile are reported by SPR-P001.)

**Why.** Slurm takes the last one silently: jobs submitted without ``-p`` land in a
partition nobody chose. The upstream chart's ``all`` partition is ``Default=YES`` already.

**Options.** None.

PASS::

    PartitionName=all Nodes=ALL Default=YES
    PartitionName=gpu Nodes=gpu

FAIL::

    PartitionName=all Nodes=ALL Default=YES
    PartitionName=gpu Nodes=gpu Default=YES
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-C003"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[Finding]:
    first = None
    for line in ctx.partition_lines:
        if not any(k.lower() == "default" and v.upper() == "YES" for k, v in line.tokens.items()):
            continue
        if first is None:
            first = line
            continue
        yield line.obj.finding(
            f"partition {line.name} has Default=YES, but partition {first.name} already is "
            "the default",
            line.path,
            f"drop Default=YES from {line.name} or {first.name}",
        )
