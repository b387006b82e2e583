"""Karpenter: a NodePool, and optionally an EC2NodeClass, for each partition that asks.

Opt in per partition with a ``karpenter:`` block::

    - name: gpu-partition
      instance_types: [p5.48xlarge]
      nodes: 2
      efa_enabled: true
      capacity_type: on-demand          # spot | reserved; default on-demand
      nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool}
      tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      karpenter:
        nodepool: true                  # or {name, consolidationPolicy, consolidateAfter,
                                        #     expireAfter, weight}
        nodeclass:                      # a name: use that EC2NodeClass (default "default");
          role: KarpenterNodeRole-x     # a map: generate one (role or instanceProfile)
          ami: al2023                   # al2023 | bottlerocket | a pinned alias; never AL2
          volumeSize: 200Gi
          discovery: my-eks-cluster     # karpenter.sh/discovery tag (default: cluster name)

The ``karpenter.sh/v1`` NodePool is derived from what the partition injects into its
NodeSets, so the two agree by construction:

- name: the ``karpenter.sh/nodepool`` nodeSelector value (else ``nodepool.name``, else
  ``<partition>-pool``);
- template labels: the other nodeSelector entries; labels Karpenter sets itself
  (``kubernetes.io/arch``, ``topology.kubernetes.io/zone``, ...) become requirements;
- taints: one per toleration (Equal → key/value/effect, Exists → key/effect);
- requirements: ``node.kubernetes.io/instance-type`` In ``instance_types``,
  ``karpenter.sh/capacity-type`` In ``capacity_type``, ``kubernetes.io/arch`` from the
  instance catalogue, ``kubernetes.io/os`` In linux;
- limits: ``nodes`` times the largest type's vCPUs, memory and GPUs (``nvidia.com/gpu``);
- disruption: ``WhenEmpty`` after ``5m``, ``expireAfter: 720h`` unless set.

EFA: Karpenter attaches EFA interfaces to a node when a pod asks for
``vpc.amazonaws.com/efa`` (the efa transform sets that request), so the pool needs no EFA
setting; the generated EC2NodeClass deliberately leaves ``networkInterfaces`` and
``associatePublicIPAddress`` unset, either of which would stop that. What can still block it
is reported as a note: taints the EFA or NVIDIA device plugin does not tolerate, and
instance types outside the EFA device plugin's allowlist.

Added documents carry ``# Source: <chart>/templates/slinky-pr/<kind>-<name>.yaml`` and
the Helm 4 filename annotation. A pool the release already carries with the same spec is
left alone (a second run adds nothing); one with another spec is a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from postrender.errors import Problem
from postrender.model.catalogue import InstanceType, lookup
from postrender.model.profiles import Partition
from postrender.plan import Why
from postrender.select import Target
from postrender.transforms.context import Context
from postrender.validate import karpenter as karpenter_rules
from postrender.validate.quantity import same_quantity
from postrender.yaml.stream import Document

# Not typing's (importing typing costs ~7 ms of every run); mypy and ruff honour the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_NODECLASS = "default"  # the EC2NodeClass Karpenter's getting-started guide creates
DEFAULT_CAPACITY_TYPE = "on-demand"
DEFAULT_CONSOLIDATION_POLICY = "WhenEmpty"  # never move running Slurm jobs to repack nodes
DEFAULT_CONSOLIDATE_AFTER = "5m"
DEFAULT_EXPIRE_AFTER = "720h"  # Karpenter's own default, written out so users see it
DEFAULT_AMI = "al2023"
DISCOVERY_TAG = "karpenter.sh/discovery"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
# Taints the device plugins' charts tolerate out of the box (NVIDIA: nvidia.com/gpu; EFA:
# only CriticalAddonsOnly, see aws/eks-charts aws-efa-k8s-device-plugin).
_PLUGIN_TOLERATES = {
    "EFA": ("CriticalAddonsOnly",),
    "NVIDIA": ("CriticalAddonsOnly", "nvidia.com/gpu"),
}


def taints_for(tolerations: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The node taints that pods with ``tolerations`` tolerate, one per keyed toleration.

    A toleration without a key tolerates every taint, so it implies none; one without an
    effect tolerates every effect, so NoSchedule is used.
    """
    taints: list[dict[str, str]] = []
    for toleration in tolerations:
        if not toleration.get("key"):
            continue
        taint = {"key": str(toleration["key"])}
        if toleration.get("operator", "Equal") == "Equal" and toleration.get("value"):
            taint["value"] = str(toleration["value"])
        taint["effect"] = str(toleration.get("effect") or "NoSchedule")
        if taint not in taints:
            taints.append(taint)
    return taints


def pool_name(partition: Partition) -> str:
    """The NodePool a partition's pods land on: its nodeSelector, option, or ``<name>-pool``."""
    selected = (partition.spec.get("nodeSelector") or {}).get(NODEPOOL_LABEL)
    options = partition.spec.get("karpenter", {}).get("nodepool")
    named = options.get("name") if isinstance(options, Mapping) else None
    if selected or named:
        return str(selected or named)
    return partition.name.lower().replace("_", "-").replace(".", "-") + "-pool"


def wants_pool(partition: Partition) -> bool:
    """True when the profile asks slinky-pr to generate a NodePool for this partition."""
    return bool(partition.spec.get("karpenter", {}).get("nodepool"))


def _quantity_mib(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


class _Builder:
    """Derives one partition's Karpenter objects, collecting problems and notes."""

    def __init__(self, partition: Partition, cluster: str) -> None:
        self.partition = partition
        self.cluster = cluster
        self.block: Mapping[str, Any] = partition.spec.get("karpenter", {})
        options = self.block.get("nodepool")
        self.options: Mapping[str, Any] = options if isinstance(options, Mapping) else {}
        self.name = pool_name(partition)
        self.types: list[InstanceType] = [
            t for t in (lookup(n) for n in partition.instance_types) if t is not None
        ]
        self.problems: list[Problem] = []
        self.notes: list[str] = []

    def problem(self, message: str, field: str, hint: str | None = None) -> None:
        self.problems.append(Problem(message, profile=self.partition.label, path=field, hint=hint))

    @property
    def capacity_type(self) -> str:
        return str(self.partition.spec.get("capacity_type", DEFAULT_CAPACITY_TYPE))

    def _split_selector(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """nodeSelector → (template labels, extra requirements Karpenter itself satisfies)."""
        labels: dict[str, str] = {}
        required: dict[str, list[str]] = {}
        selector = self.partition.spec.get("nodeSelector") or {}
        named = self.options.get("name")
        for key, value in selector.items():
            if key == NODEPOOL_LABEL:
                if named and named != value:
                    self.problem(
                        f"karpenter.nodepool.name {named} differs from the nodeSelector "
                        f"{NODEPOOL_LABEL}={value} the partition's pods use",
                        "karpenter.nodepool.name",
                        "drop the name, or make the two agree",
                    )
                continue
            if key in karpenter_rules.WELL_KNOWN_LABELS or key in karpenter_rules.AWS_LABELS:
                required[key] = [str(value)]
                continue
            message = karpenter_rules.label_domain_problem(key)
            if message:
                self.problem(
                    f"nodeSelector {key} cannot be a NodePool label: {message}",
                    f"nodeSelector[{key}]",
                    "select on a label in your own domain, e.g. example.com/pool",
                )
            else:
                labels[key] = str(value)
        if not selector:
            self.problem(
                "karpenter.nodepool needs a nodeSelector, or the partition's pods will not "
                f"be steered to NodePool {self.name}",
                "nodeSelector",
                f"add nodeSelector: {{{NODEPOOL_LABEL}: {self.name}}}",
            )
        return labels, required

    def requirements(self, extra: dict[str, list[str]]) -> list[dict[str, Any]]:
        wanted = {
            "node.kubernetes.io/instance-type": [t.name for t in self.types],
            "karpenter.sh/capacity-type": [self.capacity_type],
            "kubernetes.io/arch": sorted({t.arch for t in self.types}),
            "kubernetes.io/os": ["linux"],
        }
        for key, values in extra.items():
            allowed = wanted.get(key)
            if allowed is not None and not set(values) <= set(allowed):
                self.problem(
                    f"nodeSelector {key}={values[0]} contradicts the pool's {key} "
                    f"({', '.join(allowed)})",
                    f"nodeSelector[{key}]",
                    "no node of this pool could ever match: remove one of the two",
                )
            wanted[key] = values
        return [{"key": k, "operator": "In", "values": v} for k, v in wanted.items()]

    def limits(self) -> dict[str, Any] | None:
        nodes = self.partition.spec.get("nodes")
        if nodes is None or not self.types:
            return None
        limits: dict[str, Any] = {
            "cpu": max(t.vcpus for t in self.types) * nodes,
            "memory": _quantity_mib(max(t.memory_mib for t in self.types) * nodes),
        }
        per_node: dict[str, int] = {}
        for t in self.types:
            if t.accelerator_resource:
                count = max(per_node.get(t.accelerator_resource, 0), t.accelerator_count)
                per_node[t.accelerator_resource] = count
        for resource, count in sorted(per_node.items()):
            limits[resource] = count * nodes
        return limits

    def nodeclass_name(self) -> str:
        ref = self.block.get("nodeclass", DEFAULT_NODECLASS)
        if isinstance(ref, Mapping):
            return str(ref.get("name", self.name))
        return str(ref)

    def nodepool(self) -> dict[str, Any]:
        if not self.types:
            self.problem(
                "karpenter.nodepool needs instance_types to restrict the pool to",
                "instance_types",
                "add instance_types: [p5.48xlarge] (or the types the partition runs on)",
            )
        labels, extra = self._split_selector()
        node_spec: dict[str, Any] = {
            "nodeClassRef": {
                "group": karpenter_rules.NODECLASS_GROUP,
                "kind": karpenter_rules.NODECLASS_KIND,
                "name": self.nodeclass_name(),
            },
            "requirements": self.requirements(extra),
        }
        taints = taints_for(self.partition.spec.get("tolerations") or [])
        if taints:
            node_spec["taints"] = taints
        node_spec["expireAfter"] = str(self.options.get("expireAfter", DEFAULT_EXPIRE_AFTER))
        template: dict[str, Any] = {"spec": node_spec}
        if labels:
            template = {"metadata": {"labels": labels}, **template}
        spec: dict[str, Any] = {"template": template}
        limits = self.limits()
        if limits:
            spec["limits"] = limits
        spec["disruption"] = {
            "consolidationPolicy": str(
                self.options.get("consolidationPolicy", DEFAULT_CONSOLIDATION_POLICY)
            ),
            "consolidateAfter": str(
                self.options.get("consolidateAfter", DEFAULT_CONSOLIDATE_AFTER)
            ),
        }
        if "weight" in self.options:
            spec["weight"] = int(self.options["weight"])
        self._efa_notes(taints)
        return _object("karpenter.sh/v1", "NodePool", self.name, spec)

    def _efa_notes(self, taints: list[dict[str, str]]) -> None:
        plugins = []
        if self.partition.efa:
            plugins.append("EFA")
        if any(t.accelerator_resource == "nvidia.com/gpu" for t in self.types):
            plugins.append("NVIDIA")
        for plugin in plugins:
            blocking = [t["key"] for t in taints if t["key"] not in _PLUGIN_TOLERATES[plugin]]
            if blocking:
                self.notes.append(
                    f"{self.partition.label}: NodePool {self.name} taints nodes with "
                    f"{', '.join(blocking)}: give the {plugin} device plugin DaemonSet matching "
                    "tolerations, or its resources stay at 0 on these nodes"
                )
        outside = [t.name for t in self.types if self.partition.efa and not t.efa_plugin]
        if outside:
            self.notes.append(
                f"{self.partition.label}: {', '.join(outside)} not in the EFA device plugin's "
                "default instance-type allowlist: extend supportedInstanceLabels"
            )

    def nodeclass(self) -> dict[str, Any] | None:
        """The EC2NodeClass to generate, or None when the partition references one."""
        ref = self.block.get("nodeclass", DEFAULT_NODECLASS)
        reservations = ref.get("capacityReservationIds", []) if isinstance(ref, Mapping) else []
        if self.capacity_type == "reserved" and not reservations:
            if isinstance(ref, Mapping):
                self.problem(
                    "capacity_type reserved needs capacity reservations in the EC2NodeClass",
                    "karpenter.nodeclass.capacityReservationIds",
                    "list them: capacityReservationIds: [cr-0123456789abcdef0]",
                )
            else:
                self.notes.append(
                    f"{self.partition.label}: capacity_type reserved: EC2NodeClass {ref} must "
                    "select the capacity reservations (capacityReservationSelectorTerms)"
                )
        if not isinstance(ref, Mapping):
            return None
        spec: dict[str, Any] = {}
        for key in ("role", "instanceProfile"):
            if key in ref:
                spec[key] = str(ref[key])
        family, _, version = str(ref.get("ami", DEFAULT_AMI)).partition("@")
        spec["amiSelectorTerms"] = [{"alias": f"{family}@{version or 'latest'}"}]
        discovery = {DISCOVERY_TAG: str(ref.get("discovery", self.cluster))}
        spec["subnetSelectorTerms"] = [{"tags": dict(discovery)}]
        spec["securityGroupSelectorTerms"] = [{"tags": dict(discovery)}]
        if "volumeSize" in ref:
            spec["blockDeviceMappings"] = _block_devices(family, str(ref["volumeSize"]))
        if reservations:
            spec["capacityReservationSelectorTerms"] = [{"id": str(r)} for r in reservations]
        return _object("karpenter.k8s.aws/v1", "EC2NodeClass", self.nodeclass_name(), spec)


def _object(api_version: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def _ebs(size: str) -> dict[str, Any]:
    return {"volumeSize": size, "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}


def _block_devices(family: str, size: str) -> list[dict[str, Any]]:
    """The root volume; Bottlerocket keeps its small OS volume and sizes the data volume."""
    if family == "bottlerocket":
        return [
            {"deviceName": "/dev/xvda", "ebs": _ebs("4Gi")},
            {"deviceName": "/dev/xvdb", "ebs": _ebs(size)},
        ]
    return [{"deviceName": "/dev/xvda", "ebs": _ebs(size), "rootVolume": True}]


def _existing(ctx: Context) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Karpenter objects already in the stream, by (group, kind, name)."""
    found = {}
    for doc in [*ctx.release.stream.documents, *ctx.plan.added]:
        for _, obj in doc.objects():
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            name = str((obj.get("metadata") or {}).get("name", ""))
            if group in (karpenter_rules.NODEPOOL_GROUP, karpenter_rules.NODECLASS_GROUP):
                found[(group, str(obj.get("kind")), name)] = obj
    return found


def _same(existing: Any, generated: Any, quantities: bool = False) -> bool:
    """Equal specs, with ``limits`` and ``volumeSize`` compared as Kubernetes quantities
    (a pool written with ``memory: 2Ti`` is the one generated with ``2048Gi``)."""
    if isinstance(existing, dict) and isinstance(generated, dict):
        return existing.keys() == generated.keys() and all(
            _same(existing[k], generated[k], quantities or k in ("limits", "volumeSize"))
            for k in existing
        )
    if isinstance(existing, list) and isinstance(generated, list):
        return len(existing) == len(generated) and all(
            _same(a, b) for a, b in zip(existing, generated, strict=True)
        )
    if quantities and not isinstance(existing, (dict, list)):
        return same_quantity(existing, generated)
    return bool(existing == generated)


def _add(ctx: Context, builder: _Builder, target: Target, body: dict[str, Any], why: Why) -> None:
    """Add a generated object unless an equal one is there; an unequal one is a conflict."""
    kind, name = body["kind"], body["metadata"]["name"]
    group = body["apiVersion"].rpartition("/")[0]
    existing = _existing(ctx).get((group, kind, name))
    if existing is not None:
        same_spec = _same(existing.get("spec"), body["spec"])
        if existing.get("apiVersion") != body["apiVersion"] or not same_spec:
            ctx.problems.append(
                Problem(
                    f"the release already has {kind} {name} ({existing.get('apiVersion')}), "
                    "different from the one this partition generates",
                    profile=builder.partition.label,
                    path=why.field,
                    hint=f"remove one of them, or give the generated {kind} another name",
                )
            )
        return
    source = f"{ctx.release.stream.chart}/templates/slinky-pr/{kind.lower()}-{name}.yaml"
    labels = (ctx.obj(target).get("metadata") or {}).get("labels")
    if labels:
        body["metadata"]["labels"] = dict(labels)
    if annotations := ctx.release.stream.added_annotations(source):
        body["metadata"]["annotations"] = annotations
    for path, message in karpenter_rules.problems(body):
        ctx.problems.append(
            Problem(
                message,
                document=f"{kind}/{name} (generated)",
                path=path,
                profile=builder.partition.label,
            )
        )
    head = ctx.release.stream.added_head(source)
    doc = Document(index=-1, raw="", head=head, body=body, source=source)
    ctx.plan.add_document(doc, why)


def plan(ctx: Context) -> None:
    """Add the NodePool (and EC2NodeClass) of every targeted partition that asks for one."""
    targets_of: dict[str, list[Target]] = {}
    for target in ctx.release.targets:
        for partition in target.partitions:
            targets_of.setdefault(partition.name, []).append(target)
    for partition in ctx.release.profile.partitions.values():
        targets = targets_of.get(partition.name)
        if not targets or not wants_pool(partition):
            continue
        builder = _Builder(partition, ctx.release.profile.cluster)
        pool = builder.nodepool()
        nodeclass = builder.nodeclass()
        ctx.problems += builder.problems
        ctx.notes += builder.notes
        if builder.problems:
            continue
        if nodeclass is None and not any(
            key[1] == karpenter_rules.NODECLASS_KIND and key[2] == builder.nodeclass_name()
            for key in _existing(ctx)
        ):
            ctx.notes.append(
                f"{partition.label}: NodePool {builder.name} uses EC2NodeClass "
                f"{builder.nodeclass_name()}, which must already exist in the cluster"
            )
        if nodeclass is not None:
            why = Why(
                f"Karpenter EC2NodeClass {builder.nodeclass_name()} for NodePool {builder.name}",
                partition.name,
                "karpenter.nodeclass",
            )
            _add(ctx, builder, targets[0], nodeclass, why)
        why = Why(f"Karpenter NodePool {builder.name}", partition.name, "karpenter.nodepool")
        _add(ctx, builder, targets[0], pool, why)
