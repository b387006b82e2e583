"""Karpenter v1 rules that the JSON schemas in ``schemas/k8s`` cannot express.

The upstream CRDs (aws/karpenter-provider-aws v1.14.1) carry CEL rules
(``x-kubernetes-validations``) that ``tools/crd2schema.py`` has to drop, and Karpenter checks
some label rules only at runtime (the NodePool then never becomes Ready). These functions
restate them, plus the mistakes DOMAIN.md lists (v1beta1, ``karpenter.aws``, AL2).

Like :mod:`postrender.k8s` they return ``(path, message)`` pairs, the path from the
object's root (``spec.template.metadata.labels[karpenter.sh/foo]``); callers attach the
document or profile. :func:`problems` picks the rules for any object and returns ``[]``
for kinds it does not know, so a linter can run it over a whole stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from postrender.k8s import DNS_SUBDOMAIN, Finding

# Not typing's (importing typing costs ~7 ms of every run); mypy and ruff honour the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NODEPOOL_GROUP = "karpenter.sh"
NODECLASS_GROUP = "karpenter.k8s.aws"
NODECLASS_KIND = "EC2NodeClass"
AMI_FAMILIES = ("al2023", "bottlerocket")
_ALIAS_FAMILIES = ("al2", "al2023", "bottlerocket", "windows2019", "windows2022", "windows2025")
_WHOLE_NUMBER = re.compile(r"^[0-9]+$")

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
_RESERVED_TAGS = (
    "eks:eks-cluster-name",
    "karpenter.sh/nodepool",
    "karpenter.sh/nodeclaim",
    "karpenter.k8s.aws/ec2nodeclass",
)


def _domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def label_domain_problem(key: str) -> str | None:
    """Why a NodePool may not set or require label ``key``, or None if it may.

    Karpenter owns ``karpenter.sh`` and ``karpenter.k8s.aws`` labels (it sets
    ``karpenter.sh/nodepool`` itself) and refuses custom labels in the Kubernetes
    ``kubernetes.io``/``k8s.io`` domains, apart from the labels it knows.
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
    if domain.endswith("kubernetes.io") and not domain.endswith(
        ("node.kubernetes.io", "node-restriction.kubernetes.io")
    ):
        return f'label domain "kubernetes.io" is restricted ({key}); use your own domain'
    if domain.endswith("k8s.io") and not domain.endswith("kops.k8s.io"):
        return f'label domain "k8s.io" is restricted ({key}); use your own domain'
    return None


def _name_problems(obj: Mapping[str, Any]) -> Iterator[Finding]:
    name = str((obj.get("metadata") or {}).get("name") or "")
    if not name or len(name) > 253 or not DNS_SUBDOMAIN.fullmatch(name):
        yield (
            "metadata.name",
            f"name {name!r} must be a DNS subdomain (lowercase letters, digits, '-', '.')",
        )


def _requirement_problems(path: str, requirement: Mapping[str, Any]) -> Iterator[Finding]:
    key = str(requirement.get("key", ""))
    operator = requirement.get("operator")
    values = requirement.get("values") or []
    message = label_domain_problem(key)
    if message:
        yield f"{path}.key", message
    if operator == "In" and not values:
        yield f"{path}.values", "a requirement with operator In must have values"
    if operator in ("Gt", "Lt", "Gte", "Lte") and (
        len(values) != 1 or not _WHOLE_NUMBER.fullmatch(str(values[0]))
    ):
        yield f"{path}.values", f"operator {operator} needs a single non-negative integer value"
    min_values = requirement.get("minValues")
    if operator == "In" and isinstance(min_values, int) and len(values) < min_values:
        yield f"{path}.minValues", f"minValues {min_values} is more than the {len(values)} values"


def nodepool_problems(obj: Mapping[str, Any]) -> Iterator[Finding]:
    """CEL and runtime rules of a ``karpenter.sh/v1`` NodePool."""
    yield from _name_problems(obj)
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    for key in labels:
        message = label_domain_problem(str(key))
        if message:
            yield f"spec.template.metadata.labels[{key}]", message
    node_spec = template.get("spec") or {}
    for i, requirement in enumerate(node_spec.get("requirements") or []):
        if isinstance(requirement, Mapping):
            yield from _requirement_problems(f"spec.template.spec.requirements[{i}]", requirement)
    ref = node_spec.get("nodeClassRef")
    if isinstance(ref, Mapping):
        yield from _node_class_ref_problems(ref)
    for i, budget in enumerate((spec.get("disruption") or {}).get("budgets") or []):
        if isinstance(budget, Mapping) and ("schedule" in budget) != ("duration" in budget):
            yield f"spec.disruption.budgets[{i}]", "'schedule' must be set with 'duration'"


def _node_class_ref_problems(ref: Mapping[str, Any]) -> Iterator[Finding]:
    path = "spec.template.spec.nodeClassRef"
    for field in ("group", "kind", "name"):
        if not ref.get(field):
            yield f"{path}.{field}", f"{field} may not be empty"
    group, kind = ref.get("group"), ref.get("kind")
    if group == "karpenter.aws" or (kind == NODECLASS_KIND and group and group != NODECLASS_GROUP):
        yield f"{path}.group", f"the EC2NodeClass group is {NODECLASS_GROUP}, not {group}"
    elif group == NODECLASS_GROUP and kind and kind != NODECLASS_KIND:
        yield f"{path}.kind", f"group {NODECLASS_GROUP} has kind {NODECLASS_KIND}, not {kind}"


def _ami_problems(spec: Mapping[str, Any]) -> Iterator[Finding]:
    terms = spec.get("amiSelectorTerms") or []
    family = spec.get("amiFamily")
    aliases = [
        (i, str(t["alias"])) for i, t in enumerate(terms) if isinstance(t, Mapping) and "alias" in t
    ]
    for i, term in enumerate(terms):
        if not isinstance(term, Mapping):
            continue
        path = f"spec.amiSelectorTerms[{i}]"
        if not any(k in term for k in ("tags", "id", "name", "alias", "ssmParameter")):
            yield path, "expected at least one of tags, id, name, alias, ssmParameter"
        if "id" in term and any(k in term for k in ("alias", "tags", "name", "owner")):
            yield path, "'id' cannot be combined with other fields"
        if "alias" in term and any(k in term for k in ("id", "tags", "name", "owner")):
            yield path, "'alias' cannot be combined with other fields"
    if aliases and len(terms) != 1:
        yield "spec.amiSelectorTerms", "an alias must be the only AMI selector term"
    for i, alias in aliases:
        alias_family, _, version = alias.partition("@")
        path = f"spec.amiSelectorTerms[{i}].alias"
        if not version or not re.match(r"^[a-zA-Z0-9]+$", alias_family):
            yield path, f"alias {alias!r} must be family@version, e.g. al2023@latest"
        elif alias_family not in _ALIAS_FAMILIES:
            yield path, f"AMI family {alias_family!r} is not one of {', '.join(_ALIAS_FAMILIES)}"
        elif alias_family == "al2":
            yield path, "AL2 is end of life (no AL2 AMIs for EKS 1.33+): use al2023 or bottlerocket"
        elif alias_family.startswith("windows") and version != "latest":
            yield path, "windows families may only use version 'latest'"
        if family and family not in ("Custom",) and family.lower() != alias_family:
            yield "spec.amiFamily", f"amiFamily {family} does not match the alias {alias}"
    if not aliases and not family:
        yield "spec.amiFamily", "amiFamily is required when amiSelectorTerms has no alias"
    if family == "AL2":
        yield "spec.amiFamily", "AL2 is end of life (no AL2 AMIs for EKS 1.33+): use AL2023"


def _selector_problems(
    spec: Mapping[str, Any], field: str, keys: tuple[str, ...]
) -> Iterator[Finding]:
    terms = spec.get(field) or []
    if not terms:
        yield f"spec.{field}", f"{field} cannot be empty"
    for i, term in enumerate(terms):
        if not isinstance(term, Mapping):
            continue
        path = f"spec.{field}[{i}]"
        present = [k for k in keys if k in term]
        if not present:
            yield path, f"expected at least one of {', '.join(keys)}"
        elif "id" in present and len(present) > 1:
            yield path, "'id' cannot be combined with other fields"
        tags = term.get("tags") or {}
        if any(k == "" or v == "" for k, v in tags.items()):
            yield f"{path}.tags", "empty tag keys or values are not supported"


def ec2nodeclass_problems(obj: Mapping[str, Any]) -> Iterator[Finding]:
    """CEL rules of a ``karpenter.k8s.aws/v1`` EC2NodeClass, and AL2's end of life."""
    yield from _name_problems(obj)
    spec = obj.get("spec") or {}
    if ("role" in spec) == ("instanceProfile" in spec):
        yield "spec", "set exactly one of role or instanceProfile"
    for field in ("role", "instanceProfile"):
        if field in spec and not spec[field]:
            yield f"spec.{field}", f"{field} cannot be empty"
    yield from _ami_problems(spec)
    yield from _selector_problems(spec, "subnetSelectorTerms", ("tags", "id"))
    yield from _selector_problems(spec, "securityGroupSelectorTerms", ("tags", "id", "name"))
    mappings = spec.get("blockDeviceMappings") or []
    for i, mapping in enumerate(mappings):
        ebs = mapping.get("ebs") if isinstance(mapping, Mapping) else None
        if isinstance(ebs, Mapping) and "snapshotID" not in ebs and "volumeSize" not in ebs:
            yield f"spec.blockDeviceMappings[{i}].ebs", "snapshotID or volumeSize must be set"
    if sum(1 for m in mappings if isinstance(m, Mapping) and m.get("rootVolume")) > 1:
        yield "spec.blockDeviceMappings", "only one block device mapping may be the rootVolume"
    for key in spec.get("tags") or {}:
        if key == "" or key in _RESERVED_TAGS or str(key).startswith("kubernetes.io/cluster"):
            yield f"spec.tags[{key}]", f"tag {key!r} is restricted (Karpenter sets it)"


def problems(obj: Mapping[str, Any]) -> list[Finding]:
    """Every rule that applies to ``obj``; ``[]`` for kinds other than Karpenter's."""
    api_version, kind = str(obj.get("apiVersion", "")), obj.get("kind")
    group, _, version = api_version.rpartition("/")
    if group == "karpenter.aws":
        return [("apiVersion", f"the group is {NODECLASS_GROUP}, not karpenter.aws")]
    if group not in (NODEPOOL_GROUP, NODECLASS_GROUP):
        return []
    if version != "v1":
        return [("apiVersion", f"{api_version} is not served since Karpenter 1.1: use {group}/v1")]
    if group == NODEPOOL_GROUP and kind == "NodePool":
        return list(nodepool_problems(obj))
    if group == NODECLASS_GROUP and kind == NODECLASS_KIND:
        return list(ec2nodeclass_problems(obj))
    return []
