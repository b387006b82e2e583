"""Custom node labels in reserved domains.

**What.** Labels a NodePool (``spec.template.metadata.labels``) puts on nodes must not use
the ``karpenter.sh`` or ``karpenter.k8s.aws`` domains, nor ``kubernetes.io``/``k8s.io``
(Karpenter's own rules: well-known labels, ``node.kubernetes.io`` and ``kops.k8s.io``
excepted; ``karpenter.sh/nodepool`` is set by Karpenter itself). Labels of an eksctl node
group (``labels``) must not use ``kubernetes.io``/``k8s.io`` except ``node.kubernetes.io``
and ``kubelet.kubernetes.io``.

**Why.** Karpenter's admission rejects the NodePool (``label domain "karpenter.sh" is
restricted``); the kubelet's NodeRestriction refuses to set such labels on a node group's
nodes, so selectors relying on them never match.

**Options.** None.

PASS::

    labels: {slinky.io/role: slurm-gpu}

FAIL::

    labels: {kubernetes.io/role: slurm-gpu}
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint import cluster
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import as_map, dig
from postrender.validate.karpenter import label_domain_problem

ID = "SPR-S005"
SEVERITY = "error"
HINT = "use a domain of your own (e.g. slinky.io/role) or a plain key"
KUBELET_RESERVED = ("kubernetes.io", "k8s.io")
KUBELET_ALLOWED = ("node.kubernetes.io", "kubelet.kubernetes.io")


def kubelet_reserved(key: str) -> bool:
    """Whether the kubelet (NodeRestriction) refuses to set node label ``key`` itself."""
    domain = key.rpartition("/")[0]

    def within(suffixes: tuple[str, ...]) -> bool:
        return any(domain == s or domain.endswith("." + s) for s in suffixes)

    return within(KUBELET_RESERVED) and not within(KUBELET_ALLOWED)


def check(ctx: LintContext) -> Iterator[Finding]:
    for obj in ctx.infra:
        if cluster.is_nodepool(obj):
            path = "spec.template.metadata.labels"
            for key in as_map(dig(obj.body, "spec", "template", "metadata", "labels")):
                message = label_domain_problem(str(key))
                if message:
                    yield obj.finding(
                        f"{message}: Karpenter rejects the NodePool", f"{path}[{key}]", HINT
                    )
        elif cluster.is_eksctl(obj):
            for section, i, group in cluster.nodegroups(obj):
                for key in as_map(group.get("labels")):
                    if kubelet_reserved(str(key)):
                        yield obj.finding(
                            f"node label {key} is in a reserved domain: the kubelet refuses it",
                            f"{section}[{i}].labels[{key}]",
                            HINT,
                        )
