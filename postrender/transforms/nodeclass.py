"""EC2NodeClass: the ``karpenter.k8s.aws/v1`` EC2NodeClass a partition's NodePool uses.

Generated when ``karpenter.nodeclass`` is a map (a name references an EC2NodeClass that
must already exist; the ``karpenter:`` block: :mod:`postrender.transforms.karpenter`):

- ``role`` or ``instanceProfile``, as given;
- ``amiSelectorTerms``: the alias ``<ami>@<version>`` (``al2023@latest`` by default);
- subnets and security groups selected by the ``karpenter.sh/discovery`` tag
  (``discovery``, default the profile's cluster name);
- ``volumeSize``: a gp3, encrypted root volume (Bottlerocket: its data volume);
- ``capacityReservationIds``: the reservations ``capacity_type: reserved`` needs (the
  NodePool transform checks that a reserved pool's EC2NodeClass has some).

It deliberately leaves ``networkInterfaces`` and ``associatePublicIPAddress`` unset: either
would stop Karpenter attaching the EFA interfaces the partition's pods ask for. Example::

    >>> from postrender.transforms.example import NODESET, run
    >>> run(plan, NODESET, '''
    ... - name: gpu
    ...   instance_types: [p5.48xlarge]
    ...   nodeSelector: {karpenter.sh/nodepool: gpu-pool}
    ...   karpenter: {nodepool: true, nodeclass: {role: KarpenterNodeRole-x, volumeSize: 200Gi}}
    ... ''')
    add document:
        apiVersion: karpenter.k8s.aws/v1
        kind: EC2NodeClass
        metadata: {name: gpu-pool}
        spec:
          role: KarpenterNodeRole-x
          amiSelectorTerms:
          - {alias: al2023@latest}
          subnetSelectorTerms:
          - tags: {karpenter.sh/discovery: example}
          securityGroupSelectorTerms:
          - tags: {karpenter.sh/discovery: example}
          blockDeviceMappings:
          - deviceName: /dev/xvda
            ebs: {volumeSize: 200Gi, volumeType: gp3, encrypted: true, deleteOnTermination: true}
            rootVolume: true
"""

from __future__ import annotations

from collections.abc import Mapping

from postrender.model.profiles import Partition
from postrender.plan import Why
from postrender.transforms import karpenter
from postrender.transforms.context import Context

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

DEFAULT_AMI = "al2023"
DISCOVERY_TAG = "karpenter.sh/discovery"


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


def nodeclass(partition: Partition, cluster: str) -> dict[str, Any] | None:
    """The EC2NodeClass to generate, or None when the partition references one."""
    ref = karpenter.nodeclass_ref(partition)
    if not isinstance(ref, Mapping):
        return None
    spec: dict[str, Any] = {}
    for key in ("role", "instanceProfile"):
        if key in ref:
            spec[key] = str(ref[key])
    family, _, version = str(ref.get("ami", DEFAULT_AMI)).partition("@")
    spec["amiSelectorTerms"] = [{"alias": f"{family}@{version or 'latest'}"}]
    discovery = {DISCOVERY_TAG: str(ref.get("discovery", cluster))}
    spec["subnetSelectorTerms"] = [{"tags": dict(discovery)}]
    spec["securityGroupSelectorTerms"] = [{"tags": dict(discovery)}]
    if "volumeSize" in ref:
        spec["blockDeviceMappings"] = _block_devices(family, str(ref["volumeSize"]))
    if reservations := ref.get("capacityReservationIds", []):
        spec["capacityReservationSelectorTerms"] = [{"id": str(r)} for r in reservations]
    name = karpenter.nodeclass_name(partition)
    return karpenter.generated("karpenter.k8s.aws/v1", "EC2NodeClass", name, spec)


def plan(ctx: Context) -> None:
    """Add the EC2NodeClass of every targeted NodePool partition that describes one."""
    for partition, target in karpenter.pool_partitions(ctx):
        body = nodeclass(partition, ctx.release.profile.cluster)
        if body is None:
            continue
        name = body["metadata"]["name"]
        why = Why(
            f"Karpenter EC2NodeClass {name} for NodePool {karpenter.pool_name(partition)}",
            partition.name,
            "karpenter.nodeclass",
        )
        karpenter.add(ctx, partition, target, body, why)
