"""A document does not match its CRD schema.

**What.** Release documents (after post-rendering) and cluster objects of a kind slinky-pr
has a schema for (Slinky CRDs, Karpenter NodePool and EC2NodeClass v1 and v1beta1,
ConfigMap) are validated against the JSON Schemas generated from the upstream CRDs,
honouring ``nullable`` and ``x-kubernetes-preserve-unknown-fields``, and then held to the
CRDs' own CEL rules (``x-kubernetes-validations``, e.g. a NodeSet ``ScheduledUpdate``
without ``scheduledUpdate.startTime``, a Karpenter ``Gt`` requirement with two values).

**Why.** The API server rejects such a document and the whole ``helm install`` fails.

**Options.** None. A finding at the same object and path as a more specific rule's finding
(for example SPR-C006 on ``spec.partition.config``) is left to that rule.

PASS::

    kind: NodeSet
    spec:
      replicas: 2

FAIL::

    kind: NodeSet
    spec:
      replicas: two        # 'two' is not of type 'integer'
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.validate import validate_document

ID = "SPR-P003"
SEVERITY = "error"
GENERIC = True


def check(ctx: LintContext) -> Iterator[Finding]:
    for obj in [*ctx.release, *ctx.cluster_objects]:
        for problem in validate_document(obj.body):
            yield obj.finding(problem.message, problem.path or None)
