"""An EC2NodeClass on Amazon Linux 2.

**What.** ``spec.amiFamily: AL2`` or an ``amiSelectorTerms`` alias ``al2@...``.

**Why.** Amazon Linux 2 is end of life for EKS: there are no AL2 EKS AMIs for Kubernetes
1.33 and later, so nodes fail to launch after an upgrade (or at once on a new cluster).
Use AL2023 or Bottlerocket; both have NVIDIA variants chosen automatically for GPU types.

**Options.** None.

PASS::

    amiSelectorTerms: [{alias: al2023@latest}]

FAIL::

    amiFamily: AL2
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint import cluster
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import as_list, as_map, dig

ID = "SPR-K006"
SEVERITY = "error"
HINT = "use amiSelectorTerms: [{alias: al2023@latest}] (or bottlerocket@latest)"


def check(ctx: LintContext) -> Iterator[Finding]:
    for node_class in ctx.infra:
        if not cluster.is_nodeclass(node_class):
            continue
        if dig(node_class.body, "spec", "amiFamily") == "AL2":
            yield node_class.finding(
                "amiFamily AL2 is end of life: no AL2 EKS AMIs for Kubernetes 1.33 and later",
                "spec.amiFamily",
                HINT,
            )
        terms = as_list(dig(node_class.body, "spec", "amiSelectorTerms"))
        for i, term in enumerate(terms):
            alias = str(as_map(term).get("alias", ""))
            if alias.lower().startswith("al2@"):
                yield node_class.finding(
                    f"AMI alias {alias} is Amazon Linux 2, end of life for EKS 1.33 and later",
                    f"spec.amiSelectorTerms[{i}].alias",
                    HINT,
                )
