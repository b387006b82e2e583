"""A NodePool consolidation policy Karpenter v1 does not know.

**What.** ``spec.disruption.consolidationPolicy`` must be ``WhenEmpty`` or
``WhenEmptyOrUnderutilized`` (``Balanced`` from Karpenter 1.14). ``WhenUnderutilized`` was
the v1beta1 spelling.

**Why.** The API server rejects the NodePool. For Slurm, ``WhenEmpty`` is usually what you
want: ``WhenEmptyOrUnderutilized`` may replace a node a job is about to use.

**Options.** None.

PASS::

    disruption: {consolidationPolicy: WhenEmpty, consolidateAfter: 5m}

FAIL::

    disruption: {consolidationPolicy: WhenUnderutilized, consolidateAfter: 5m}
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint import cluster
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import dig

ID = "SPR-K005"
SEVERITY = "error"
POLICIES = ("WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced")


def check(ctx: LintContext) -> Iterator[Finding]:
    for pool in ctx.infra:
        policy = dig(pool.body, "spec", "disruption", "consolidationPolicy")
        if cluster.is_nodepool(pool) and policy is not None and policy not in POLICIES:
            yield pool.finding(
                f"consolidationPolicy {policy} does not exist in Karpenter v1",
                "spec.disruption.consolidationPolicy",
                "use WhenEmptyOrUnderutilized"
                if policy == "WhenUnderutilized"
                else f"use one of {', '.join(POLICIES)}",
            )
