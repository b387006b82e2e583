"""Karpenter v1 rules the CRD schemas cannot express.

**What.** The CEL validations of the ``karpenter.sh/v1`` NodePool and
``karpenter.k8s.aws/v1`` EC2NodeClass CRDs (and what Karpenter checks only at run time),
as :mod:`postrender.karpenter_rules` restates them: requirement operators and values,
restricted label keys in requirements, disruption budgets, ``role`` xor
``instanceProfile``, AMI and subnet/security-group selector terms, reserved tags, names.
Applied to the cluster objects and to NodePools the release carries.

**Why.** The API server rejects these objects, or Karpenter never marks the NodePool
Ready; SPR-P003 (the JSON Schema) cannot see them.

**Options.** None. Problems a more specific Karpenter rule reports (SPR-K001 to SPR-K006,
SPR-S005) at the same place are left to it.

PASS::

    requirements:
      - {key: karpenter.k8s.aws/instance-gpu-count, operator: Gt, values: ["4"]}

FAIL::

    requirements:
      - {key: karpenter.k8s.aws/instance-gpu-count, operator: Gt, values: ["4", "8"]}
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.karpenter_rules import problems
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-K008"
SEVERITY = "error"
GENERIC = True


def check(ctx: LintContext) -> Iterator[Finding]:
    for obj in ctx.infra:
        try:
            found = problems(obj.body)
        except (AttributeError, TypeError, KeyError, IndexError):
            continue  # a field of the wrong type: SPR-P003 reports the shape
        for path, message in found:
            yield obj.finding(message, path)
