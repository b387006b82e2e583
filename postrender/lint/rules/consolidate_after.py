"""A NodePool ``disruption`` block without ``consolidateAfter``.

**What.** In Karpenter v1 ``spec.disruption.consolidateAfter`` is required whenever
``spec.disruption`` is written (e.g. ``30s``, ``5m``, or ``Never``).

**Why.** The API server rejects the NodePool. For Slurm nodes a delay also keeps Karpenter
from removing a node between two jobs of the same allocation.

**Options.** None.

PASS::

    disruption: {consolidationPolicy: WhenEmpty, consolidateAfter: 5m}

FAIL::

    disruption: {consolidationPolicy: WhenEmpty}
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint import cluster
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import dig

ID = "SPR-K004"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[Finding]:
    for pool in ctx.infra:
        disruption = dig(pool.body, "spec", "disruption")
        missing = isinstance(disruption, dict) and "consolidateAfter" not in disruption
        if cluster.is_nodepool(pool) and missing:
            yield pool.finding(
                "disruption has no consolidateAfter (required in Karpenter v1)",
                "spec.disruption",
                "add consolidateAfter: 5m (or Never)",
            )
