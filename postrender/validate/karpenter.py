"""Karpenter v1 rules that neither the JSON schemas nor the CRDs' own CEL rules carry.

The CRDs' ``x-kubernetes-validations`` (requirements, restricted ``karpenter.sh`` and
``karpenter.k8s.aws`` labels, disruption budgets, ``role`` xor ``instanceProfile``, AMI and
selector terms, tags...) are evaluated from the CRDs themselves (``postrender/validate/cel.py``).
What is left here is what the API server or Karpenter checks otherwise: object names,
label domains Karpenter refuses at run time (``kubernetes.io``, ``k8s.io``; the NodePool
then never becomes Ready), the ``karpenter.aws`` group, ``v1beta1``, and AL2's end of life.

Like :mod:`postrender.validate.kubernetes` they give Problems whose path starts at the
object's root (``spec.template.metadata.labels[example.kubernetes.io/foo]``); callers attach
the document or profile. :func:`problems` picks the rules for any object and returns ``[]``
for kinds it does not know, so a linter can run it over a whole stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from postrender.errors import Problem
from postrender.validate.kubernetes import DNS_SUBDOMAIN

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

NODEPOOL_GROUP = "karpenter.sh"
NODECLASS_GROUP = "karpenter.k8s.aws"
NODECLASS_KIND = "EC2NodeClass"

# Labels Karpenter itself puts on nodes; a NodePool may require them and, being well known,
# may also name them in template labels (sigs.k8s.io/karpenter v1 WellKnownLabels).
WELL_KNOWN_LABELS = frozenset(
    {
        "karpenter.sh/capacity-type",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "node.kubernetes.io/instance-type",
        "node.kubernetes.io/windows-build",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
        "topology.k8s.aws/zone-id",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/instance-type",
        "beta.kubernetes.io/os",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
    }
)
# The karpenter.k8s.aws labels the NodePool CRD lets through (its CEL allowlist, v1.14.1).
AWS_LABELS = frozenset(
    f"karpenter.k8s.aws/{name}"
    for name in (
        "capacity-reservation-id",
        "capacity-reservation-interruptible",
        "capacity-reservation-type",
        "ec2nodeclass",
        "instance-accelerator-count",
        "instance-accelerator-manufacturer",
        "instance-accelerator-name",
        "instance-capability-flex",
        "instance-category",
        "instance-cpu",
        "instance-cpu-manufacturer",
        "instance-cpu-sustained-clock-speed-mhz",
        "instance-ebs-bandwidth",
        "instance-encryption-in-transit-supported",
        "instance-family",
        "instance-generation",
        "instance-gpu-count",
        "instance-gpu-manufacturer",
        "instance-gpu-memory",
        "instance-gpu-name",
        "instance-hypervisor",
        "instance-local-nvme",
        "instance-memory",
        "instance-network-bandwidth",
        "instance-size",
        "instance-tenancy",
        "nitro-sandbox",
        "placement-group-id",
        "placement-group-partition",
    )
)


# Tag keys Karpenter sets on instances itself (EC2NodeClass spec.tags CEL rules).
def _domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def label_domain_problem(key: str) -> str | None:
    """Why a NodePool may not set or require label ``key``, or None if it may.

    Karpenter owns ``karpenter.sh`` and ``karpenter.k8s.aws`` labels (it sets
    ``karpenter.sh/nodepool`` itself; its CRD's CEL rules refuse them) and refuses custom
    labels in the Kubernetes ``kubernetes.io``/``k8s.io`` domains, apart from the labels it
    knows (:func:`runtime_label_problem`). For profiles, before any NodePool exists.
    """
    if key == "karpenter.sh/nodepool":
        return 'label "karpenter.sh/nodepool" is restricted: Karpenter sets it to the pool name'
    if key == "kubernetes.io/hostname":
        return 'label "kubernetes.io/hostname" is restricted'
    if key in WELL_KNOWN_LABELS or key in AWS_LABELS:
        return None
    domain = _domain(key)
    for restricted in (NODEPOOL_GROUP, NODECLASS_GROUP):
        if domain.endswith(restricted):
            return f'label domain "{restricted}" is restricted ({key})'
    return runtime_label_problem(key)


def runtime_label_problem(key: str) -> str | None:
    """The label domains Karpenter refuses at run time rather than by a CRD rule."""
    if key in WELL_KNOWN_LABELS or key == "kubernetes.io/hostname":
        return None
    domain = _domain(key)
    if domain.endswith("kubernetes.io") and not domain.endswith(
        ("node.kubernetes.io", "node-restriction.kubernetes.io")
    ):
        return f'label domain "kubernetes.io" is restricted ({key}); use your own domain'
    if domain.endswith("k8s.io") and not domain.endswith("kops.k8s.io"):
        return f'label domain "k8s.io" is restricted ({key}); use your own domain'
    return None


def _name_problems(obj: Mapping[str, Any]) -> Iterator[Problem]:
    name = str((obj.get("metadata") or {}).get("name") or "")
    if not name or len(name) > 253 or not DNS_SUBDOMAIN.fullmatch(name):
        yield Problem(
            f"name {name!r} must be a DNS subdomain (lowercase letters, digits, '-', '.')",
            path="metadata.name",
        )


def nodepool_problems(obj: Mapping[str, Any]) -> Iterator[Problem]:
    """Run-time rules of a ``karpenter.sh/v1`` NodePool (its CRD's CEL rules have the rest)."""
    yield from _name_problems(obj)
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    for key in labels:
        message = runtime_label_problem(str(key))
        if message:
            yield Problem(message, path=f"spec.template.metadata.labels[{key}]")
    node_spec = template.get("spec") or {}
    for i, requirement in enumerate(node_spec.get("requirements") or []):
        if isinstance(requirement, Mapping):
            message = runtime_label_problem(str(requirement.get("key", "")))
            if message:
                yield Problem(message, path=f"spec.template.spec.requirements[{i}].key")
    ref = node_spec.get("nodeClassRef")
    if isinstance(ref, Mapping):
        path = "spec.template.spec.nodeClassRef"
        group, kind = ref.get("group"), ref.get("kind")
        if group == "karpenter.aws" or (
            kind == NODECLASS_KIND and group and group != NODECLASS_GROUP
        ):
            yield Problem(
                f"the EC2NodeClass group is {NODECLASS_GROUP}, not {group}", path=f"{path}.group"
            )
        elif group == NODECLASS_GROUP and kind and kind != NODECLASS_KIND:
            message = f"group {NODECLASS_GROUP} has kind {NODECLASS_KIND}, not {kind}"
            yield Problem(message, path=f"{path}.kind")


def ec2nodeclass_problems(obj: Mapping[str, Any]) -> Iterator[Problem]:
    """AL2's end of life on a ``karpenter.k8s.aws/v1`` EC2NodeClass, and its name (its CRD's
    CEL rules check the rest)."""
    yield from _name_problems(obj)
    spec = obj.get("spec") or {}
    for i, term in enumerate(spec.get("amiSelectorTerms") or []):
        alias = term.get("alias") if isinstance(term, Mapping) else None
        if isinstance(alias, str) and alias.partition("@")[0] == "al2":
            yield Problem(
                "AL2 is end of life (no AL2 AMIs for EKS 1.33+): use al2023 or bottlerocket",
                path=f"spec.amiSelectorTerms[{i}].alias",
            )
    if spec.get("amiFamily") == "AL2":
        yield Problem(
            "AL2 is end of life (no AL2 AMIs for EKS 1.33+): use AL2023", path="spec.amiFamily"
        )


def problems(obj: Mapping[str, Any]) -> list[Problem]:
    """Every rule that applies to ``obj``; ``[]`` for kinds other than Karpenter's."""
    api_version, kind = str(obj.get("apiVersion", "")), obj.get("kind")
    group, _, version = api_version.rpartition("/")
    if group == "karpenter.aws":
        return [Problem(f"the group is {NODECLASS_GROUP}, not karpenter.aws", path="apiVersion")]
    if group not in (NODEPOOL_GROUP, NODECLASS_GROUP):
        return []
    if version != "v1":
        message = f"{api_version} is not served since Karpenter 1.1: use {group}/v1"
        return [Problem(message, path="apiVersion")]
    if group == NODEPOOL_GROUP and kind == "NodePool":
        return list(nodepool_problems(obj))
    if group == NODECLASS_GROUP and kind == NODECLASS_KIND:
        return list(ec2nodeclass_problems(obj))
    return []
