"""NodePool: a ``karpenter.sh/v1`` NodePool for each partition with ``karpenter.nodepool``.

The pool is derived from what the partition injects into its NodeSets, so the two agree
by construction (the ``karpenter:`` block: :mod:`postrender.transforms.karpenter`):

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
setting. What can still block it is reported as a note: taints the EFA or NVIDIA device
plugin does not tolerate, and instance types outside the EFA device plugin's allowlist.
Example::

    >>> from postrender.transforms.example import NODESET, run
    >>> run(plan, NODESET, '''
    ... - name: gpu
    ...   instance_types: [p5.48xlarge]
    ...   nodes: 2
    ...   nodeSelector: {karpenter.sh/nodepool: gpu-pool}
    ...   tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    ...   karpenter: {nodepool: true}
    ... ''')  # doctest: +NORMALIZE_WHITESPACE
    add document:
        apiVersion: karpenter.sh/v1
        kind: NodePool
        metadata: {name: gpu-pool}
        spec:
          template:
            spec:
              nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
              requirements:
              - key: node.kubernetes.io/instance-type
                operator: In
                values: [p5.48xlarge]
              - key: karpenter.sh/capacity-type
                operator: In
                values: [on-demand]
              - key: kubernetes.io/arch
                operator: In
                values: [amd64]
              - key: kubernetes.io/os
                operator: In
                values: [linux]
              taints:
              - {key: nvidia.com/gpu, effect: NoSchedule}
              expireAfter: 720h
          limits: {cpu: 384, memory: 4096Gi, nvidia.com/gpu: 16}
          disruption: {consolidationPolicy: WhenEmpty, consolidateAfter: 5m}
    note: p.yaml:4 partition gpu: NodePool gpu-pool uses EC2NodeClass default, which must already
        exist in the cluster
"""

from __future__ import annotations

from collections.abc import Mapping

from postrender.errors import Problem
from postrender.model.catalogue import InstanceType, lookup
from postrender.model.profiles import Partition
from postrender.plan import Why
from postrender.transforms import karpenter
from postrender.transforms.context import Context
from postrender.validate import karpenter as karpenter_rules

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

DEFAULT_CONSOLIDATION_POLICY = "WhenEmpty"  # never move running Slurm jobs to repack nodes
DEFAULT_CONSOLIDATE_AFTER = "5m"
DEFAULT_EXPIRE_AFTER = "720h"  # Karpenter's own default, written out so users see it
# Taints the device plugins' charts tolerate out of the box (NVIDIA: nvidia.com/gpu; EFA:
# only CriticalAddonsOnly, see aws/eks-charts aws-efa-k8s-device-plugin).
_PLUGIN_TOLERATES = {
    "EFA": ("CriticalAddonsOnly",),
    "NVIDIA": ("CriticalAddonsOnly", "nvidia.com/gpu"),
}


def _quantity_mib(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


class _Pool:
    """Derives one partition's NodePool, collecting problems and notes."""

    def __init__(self, partition: Partition) -> None:
        self.partition = partition
        self.options = karpenter.pool_options(partition)
        self.name = karpenter.pool_name(partition)
        self.types: list[InstanceType] = [
            t for t in (lookup(n) for n in partition.instance_types) if t is not None
        ]
        self.problems: list[Problem] = []
        self.notes: list[str] = []

    def problem(self, message: str, field: str, hint: str | None = None) -> None:
        self.problems.append(karpenter.problem(self.partition, message, field, hint))

    def _split_selector(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """nodeSelector → (template labels, extra requirements Karpenter itself satisfies)."""
        labels: dict[str, str] = {}
        required: dict[str, list[str]] = {}
        selector = self.partition.spec.get("nodeSelector") or {}
        named = self.options.get("name")
        for key, value in selector.items():
            if key == karpenter.NODEPOOL_LABEL:
                if named and named != value:
                    self.problem(
                        f"karpenter.nodepool.name {named} differs from the nodeSelector "
                        f"{karpenter.NODEPOOL_LABEL}={value} the partition's pods use",
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
                f"add nodeSelector: {{{karpenter.NODEPOOL_LABEL}: {self.name}}}",
            )
        return labels, required

    def requirements(self, extra: dict[str, list[str]]) -> list[dict[str, Any]]:
        wanted = {
            "node.kubernetes.io/instance-type": [t.name for t in self.types],
            "karpenter.sh/capacity-type": [karpenter.capacity_type(self.partition)],
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
                "name": karpenter.nodeclass_name(self.partition),
            },
            "requirements": self.requirements(extra),
        }
        taints = karpenter.taints_for(self.partition.spec.get("tolerations") or [])
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
        return karpenter.generated("karpenter.sh/v1", "NodePool", self.name, spec)

    def reservations(self) -> None:
        """A reserved pool launches only into capacity reservations its EC2NodeClass selects."""
        if karpenter.capacity_type(self.partition) != "reserved":
            return
        ref = karpenter.nodeclass_ref(self.partition)
        if not isinstance(ref, Mapping):
            self.notes.append(
                f"{self.partition.label}: capacity_type reserved: EC2NodeClass {ref} must "
                "select the capacity reservations (capacityReservationSelectorTerms)"
            )
        elif not ref.get("capacityReservationIds"):
            self.problem(
                "capacity_type reserved needs capacity reservations in the EC2NodeClass",
                "karpenter.nodeclass.capacityReservationIds",
                "list them: capacityReservationIds: [cr-0123456789abcdef0]",
            )

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


def plan(ctx: Context) -> None:
    """Add the NodePool of every targeted partition that asks for one."""
    for partition, target in karpenter.pool_partitions(ctx):
        builder = _Pool(partition)
        pool = builder.nodepool()
        builder.reservations()
        ctx.problems += builder.problems
        ctx.notes += builder.notes
        if builder.problems:
            continue
        nodeclass = karpenter.nodeclass_name(partition)
        if not any(
            kind == karpenter_rules.NODECLASS_KIND and name == nodeclass
            for _, kind, name in karpenter.existing(ctx)
        ):
            ctx.notes.append(
                f"{partition.label}: NodePool {builder.name} uses EC2NodeClass "
                f"{nodeclass}, which must already exist in the cluster"
            )
        why = Why(f"Karpenter NodePool {builder.name}", partition.name, "karpenter.nodepool")
        karpenter.add(ctx, partition, target, pool, why)
