"""EFA requested where the instance type has none, or more than it has.

**What.** A NodeSet asking for ``vpc.amazonaws.com/efa: N`` (or a profile partition with
``efa_enabled``/``efa_count``) is checked against the instance types it runs on (as for
SPR-G001): it fires when none of them has EFA, or none has N interfaces. For example
``g5.xlarge`` has none, ``p4d.24xlarge`` has 4, ``p5.48xlarge`` 32.

**Why.** The pod requests an extended resource no node advertises, so it stays Pending
forever (``Insufficient vpc.amazonaws.com/efa``), and Karpenter launches nothing for it.

**Options.** None.

PASS::

    instance_types: [p4d.24xlarge]
    efa_enabled: true
    efa_count: 4

FAIL::

    instance_types: [g5.xlarge]
    efa_enabled: true      # g5.xlarge has no EFA interface
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.nodesets import EFA_RESOURCE

ID = "SPR-E001"
SEVERITY = "error"
PROFILE_FIELDS = ("efa_enabled", "efa_count")


def check(ctx: LintContext) -> Iterator[Finding]:
    yield from ctx.profile_findings(ID)
    for ns in ctx.placed:
        if ns.efa <= 0:
            continue
        candidates = ctx.candidates(ns)
        if candidates is None or any(t.max_efa >= ns.efa for t in candidates.types):
            continue
        best = max(candidates.types, key=lambda t: t.max_efa)
        path = f"spec.slurmd.resources.limits[{EFA_RESOURCE}]"
        if best.max_efa == 0:
            yield ns.obj.finding(
                f"{EFA_RESOURCE}: {ns.efa} requested, but {best.name} ({candidates.origin}) "
                "has no EFA interface",
                path,
                "choose an EFA-capable instance type (p4d, p5, g6.48xlarge, trn1...) or drop EFA",
            )
        else:
            yield ns.obj.finding(
                f"{EFA_RESOURCE}: {ns.efa} requested, more than the {best.max_efa} "
                f"interfaces of {best.name} ({candidates.origin})",
                path,
                f"request {best.max_efa}",
            )
