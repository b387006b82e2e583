"""The profile cannot be applied to this release.

**What.** The post-renderer's own refusals, run exactly as Helm would run it: a
``slinky-pr/partition`` annotation naming a partition the profile lacks, partitions that
share a NodeSet but disagree on a node field, a chart value the profile would have to
overwrite (a nodeSelector entry, a GPU count, a partition line), annotated NodeSets with
no profile at all. When this rule fires, lint checks the chart's render without the
profile.

**Why.** ``helm install --post-renderer`` fails on any of these, with nothing deployed.

**Options.** None. A finding at the same object and path as a more specific rule's finding
is left to that rule.

PASS::

    # NodeSet annotated slinky-pr/partition: gpu-partition, profile defines gpu-partition

FAIL::

    metadata:
      annotations:
        slinky-pr/partition: gpu-partiton   # not in the profile (known: gpu-partition)
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-P002"
SEVERITY = "error"
GENERIC = True


def check(ctx: LintContext) -> Iterator[Finding]:
    by_ref = {obj.ref: obj for obj in ctx.release}
    for problem in ctx.plan_problems:
        # Problem.document is "Kind/name (template)"; the object gives file and line.
        ref = (problem.document or "").split(" (", 1)[0]
        message = problem.message
        if problem.profile:
            message += f" [{problem.profile}]"
        obj = by_ref.get(ref)
        if obj is not None:
            yield obj.finding(message, problem.path, problem.hint)
        elif problem.profile:
            yield ctx.profile_finding(problem)
        else:
            yield Finding(message, "Release", problem.path, problem.hint)
