"""EFA without hugepages, or hugepages and EFA resources written wrongly.

**What.** A NodeSet asking for ``vpc.amazonaws.com/efa`` on slurmd must also ask for
``hugepages-2Mi`` (e.g. ``5120Mi``). Hugepages and EFA requests must equal their limits,
EFA counts are whole numbers, and hugepages need a ``cpu`` or ``memory`` request beside
them.

**Why.** EFA nodes pre-allocate 2 MiB hugepages for libfabric; without a hugepages request
NCCL over EFA fails at run time. Kubernetes rejects the pod outright when the other rules
are broken.

**Options.** None.

PASS::

    resources:
      limits:   {vpc.amazonaws.com/efa: 4, hugepages-2Mi: 5120Mi}
      requests: {vpc.amazonaws.com/efa: 4, hugepages-2Mi: 5120Mi, memory: 1Gi}

FAIL::

    resources:
      limits:   {vpc.amazonaws.com/efa: 4}   # no hugepages-2Mi
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.nodesets import EFA_RESOURCE, GPU_RESOURCES
from postrender.validate.kubernetes import resources_problems

ID = "SPR-E002"
SEVERITY = "error"
RESOURCES = "spec.slurmd.resources"


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.nodesets:
        if ns.efa > 0 and "hugepages-2Mi" not in ns.limits:
            yield ns.obj.finding(
                f"{EFA_RESOURCE}: {ns.efa} without hugepages-2Mi: NCCL over EFA needs them",
                f"{RESOURCES}.limits",
                "add hugepages-2Mi: 5120Mi to limits and requests (and a memory request)",
            )
        for problem in resources_problems(ns.resources, RESOURCES):
            # GPU resources are SPR-G002's; the rest here is EFA and hugepages.
            if not any(name in (problem.path or "") for name in GPU_RESOURCES):
                yield ns.obj.finding(problem.message, problem.path)
