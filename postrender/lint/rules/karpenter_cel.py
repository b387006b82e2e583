"""Karpenter v1 rules that neither the CRD schemas nor the CRDs' CEL rules carry.

**What.** What Karpenter and the API server check outside the CRDs' ``x-kubernetes-validations``
(those are SPR-P003's, evaluated from the CRDs themselves): label domains Karpenter refuses
at run time (``kubernetes.io``, ``k8s.io``, except the well-known labels), the
``karpenter.aws`` group, a ``nodeClassRef`` kind that does not match its group, object
names, AL2's end of life. Applied to the cluster objects and to NodePools the release
carries, as :mod:`postrender.validate.karpenter` states them.

**Why.** The API server rejects these objects, or Karpenter never marks the NodePool
Ready.

**Options.** None. Problems a more specific Karpenter rule reports (SPR-K001 to SPR-K006,
SPR-S005) at the same place are left to it.

PASS::

    requirements:
      - {key: example.com/pool, operator: In, values: [gpu]}

FAIL::

    requirements:
      - {key: example.kubernetes.io/pool, operator: In, values: [gpu]}
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.validate.karpenter import problems

ID = "SPR-K008"
SEVERITY = "error"
GENERIC = True


def check(ctx: LintContext) -> Iterator[Finding]:
    for obj in ctx.infra:
        try:
            found = problems(obj.body)
        except (AttributeError, TypeError, KeyError, IndexError):
            continue  # a field of the wrong type: SPR-P003 reports the shape
        for problem in found:
            yield obj.finding(problem.message, problem.path)
