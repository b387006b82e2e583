"""eksctl export: ``managedNodeGroups`` entries for the static partitions of a profile.

A static partition runs on pre-created nodes: it has a ``nodeSelector`` but neither a
``karpenter.sh/nodepool`` entry nor a ``karpenter:`` block. Its node group must carry
the labels the NodeSet selects and the taints it tolerates, or its pods stay Pending;
deriving both from the same profile keeps them in step::

    - name: static-gpu-partition
      instance_types: [p4d.24xlarge]
      nodes: 2
      efa_enabled: true
      nodeSelector: {role: slurm-static-gpu}
      tolerations:
        - {key: slinky.io/usage, operator: Equal, value: gpu-task, effect: NoSchedule}
      eksctl: {volumeSize: 500, availabilityZones: [us-east-1a]}   # optional

becomes ``name: static-gpu-partition``, ``instanceType: p4d.24xlarge``,
``minSize``/``maxSize``/``desiredCapacity: 2``, ``labels: {role: slurm-static-gpu}``,
``taints: [{key: slinky.io/usage, value: gpu-task, effect: NoSchedule}]``,
``efaEnabled: true``. ``capacity_type: spot`` adds ``spot: true``.
"""

from __future__ import annotations

import re
from typing import Any

from postrender import karpenter_rules
from postrender.errors import EXIT_PROFILE, Problem, SlinkyError
from postrender.profiles import Partition, Profile
from postrender.stream import dump
from postrender.transforms.karpenter import NODEPOOL_LABEL, taints_for, wants_pool

ZONE_LABEL = "topology.kubernetes.io/zone"


def is_static(partition: Partition) -> bool:
    """Selects pre-created nodes: a nodeSelector, and no Karpenter pool behind it."""
    selector = partition.spec.get("nodeSelector") or {}
    return bool(selector) and NODEPOOL_LABEL not in selector and not wants_pool(partition)


def nodegroup_name(partition: str) -> str:
    """A node group name eksctl and CloudFormation accept (``[a-zA-Z][-a-zA-Z0-9]*``) from a
    partition name, which may hold ``_`` and ``.``."""
    name = re.sub(r"[^-A-Za-z0-9]", "-", partition)
    return name if name[:1].isalpha() else f"ng-{name}"


def node_group(
    partition: Partition, volume_size: int | None = None
) -> tuple[dict[str, Any], list[str], list[Problem]]:
    """One ``managedNodeGroups`` entry, the comments to print above it, and its problems."""
    options = partition.spec.get("eksctl") or {}
    problems: list[Problem] = []
    comments: list[str] = [f"partition {partition.name} ({partition.where})"]

    def bad(message: str, key: str, hint: str) -> None:
        problems.append(Problem(message, profile=partition.label, path=key, hint=hint))

    entry: dict[str, Any] = {"name": options.get("name", nodegroup_name(partition.name))}
    types = [t.removeprefix("ml.") for t in partition.instance_types]
    if not types:
        bad(
            "a node group needs an instance type",
            "instance_types",
            "add instance_types: [p4d.24xlarge] (the type of the static nodes)",
        )
    elif len(types) == 1:
        entry["instanceType"] = types[0]
    else:
        entry["instanceTypes"] = types
    nodes = partition.spec.get("nodes")
    if nodes is None:
        bad("a node group needs a size", "nodes", "add nodes: N (min = max = desired)")
    else:
        entry.update(minSize=nodes, maxSize=nodes, desiredCapacity=nodes)
    size = options.get("volumeSize", volume_size)
    if size is not None:
        entry["volumeSize"] = int(size)
    if "amiFamily" in options:
        entry["amiFamily"] = options["amiFamily"]
    zones = list(options.get("availabilityZones", []))
    zone = (partition.spec.get("nodeSelector") or {}).get(ZONE_LABEL)
    if zone and not zones:
        zones = [str(zone)]  # the pods only run there: so should the node group
    elif zone and zones != [zone]:
        bad(
            f"nodeSelector {ZONE_LABEL}={zone}, but the node group spans {', '.join(zones)}",
            "eksctl.availabilityZones",
            f"availabilityZones: [{zone}]",
        )
    if zones:
        entry["availabilityZones"] = zones
    capacity = partition.spec.get("capacity_type")
    if capacity == "spot":
        entry["spot"] = True
    elif capacity == "reserved":
        comments.append("capacity_type reserved: target the reservation with a launch template")

    labels = {}
    for key, value in (partition.spec.get("nodeSelector") or {}).items():
        if key in karpenter_rules.WELL_KNOWN_LABELS or key in karpenter_rules.AWS_LABELS:
            comments.append(f"nodeSelector {key}: set on every node by Kubernetes or Karpenter")
            continue
        message = karpenter_rules.label_domain_problem(key)
        if message:
            bad(
                f"nodeSelector {key} cannot be a node group label: {message}",
                f"nodeSelector[{key}]",
                "select on a label in your own domain, e.g. example.com/pool",
            )
        labels[key] = str(value)
    if labels:
        entry["labels"] = labels
    taints = taints_for(partition.spec.get("tolerations") or [])
    if taints:
        entry["taints"] = taints
    if partition.efa:
        entry["efaEnabled"] = True
        if len(zones) > 1:
            bad(
                "efa_enabled node groups belong in a single availability zone",
                "eksctl.availabilityZones",
                f"keep one: availabilityZones: [{zones[0]}]",
            )
        elif not zones:
            comments.append(
                "efaEnabled: keep the node group in one availability zone "
                "(eksctl.availabilityZones: [<zone>] in the profile)"
            )
    return entry, comments, problems


def export(profile: Profile, volume_size: int | None = None) -> str:
    """The ``managedNodeGroups`` block for every static partition, as YAML with comments."""
    static = [p for p in profile.partitions.values() if is_static(p)]
    if not static:
        raise SlinkyError(
            [
                Problem(
                    f"cluster {profile.cluster} has no static partition "
                    f"(a nodeSelector without {NODEPOOL_LABEL}, no karpenter block)",
                    profile=profile.path,
                    hint="dynamic partitions get a NodePool instead: karpenter: {nodepool: true}",
                )
            ],
            EXIT_PROFILE,
            "nothing to export",
        )
    lines = [
        f"# managedNodeGroups for the static partitions of {profile.path} "
        f"(cluster {profile.cluster}),",
        "# from `slinky export eksctl`: merge into your eksctl ClusterConfig.",
    ]
    others = [p.name for p in profile.partitions.values() if p not in static]
    if others:
        lines.append(f"# not static (Karpenter or no nodeSelector): {', '.join(others)}")
    lines.append("managedNodeGroups:")
    problems: list[Problem] = []
    for partition in static:
        entry, comments, found = node_group(partition, volume_size)
        problems += found
        lines += [f"  # {comment}" for comment in comments]
        lines += ["  " + line for line in dump([entry]).splitlines()]
    if problems:
        raise SlinkyError(problems, EXIT_PROFILE, "cannot export the node groups")
    return "\n".join(lines) + "\n"
