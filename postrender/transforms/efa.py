"""EFA: Elastic Fabric Adapter interfaces and the hugepages they need.

For ``efa_enabled: true`` (count ``efa_count``, default the instance type's maximum)
``spec.slurmd.resources`` gets ``vpc.amazonaws.com/efa: N`` and ``hugepages-2Mi``
(``hugepages``, default 5120Mi), each with requests = limits, plus a memory request
(``memory_request``, default 1Gi) when there is neither a cpu nor a memory request:
Kubernetes refuses hugepages without one.

Example: p4d.24xlarge has 4 EFA interfaces::

    >>> from postrender.transforms.example import NODESET, run
    >>> run(plan, NODESET, '''
    ... - name: gpu
    ...   instance_types: [p4d.24xlarge]
    ...   efa_enabled: true
    ... ''')
    add /spec/slurmd/resources/limits: {}
    add /spec/slurmd/resources/limits/vpc.amazonaws.com~1efa: 4
    add /spec/slurmd/resources/requests: {}
    add /spec/slurmd/resources/requests/vpc.amazonaws.com~1efa: 4
    add /spec/slurmd/resources/limits/hugepages-2Mi: 5120Mi
    add /spec/slurmd/resources/requests/hugepages-2Mi: 5120Mi
    add /spec/slurmd/resources/requests/memory: 1Gi
"""

from __future__ import annotations

from postrender.model.profiles import DEFAULT_HUGEPAGES, DEFAULT_MEMORY_REQUEST
from postrender.plan import Why, lookup
from postrender.transforms.accelerators import RESOURCES, set_resource
from postrender.transforms.context import Context


def plan(ctx: Context) -> None:
    """EFA devices, hugepages and the memory request beside them."""
    for target in ctx.release.targets:
        owner = target.owner("efa_enabled")
        if owner is None or not owner.efa:
            continue
        why = Why(f"{owner.efa} EFA interface(s)", owner.name, "efa_count")
        set_resource(ctx, target, "vpc.amazonaws.com/efa", owner.efa, owner, why)
        hugepages_owner = target.owner("hugepages") or owner
        hugepages = str(hugepages_owner.spec.get("hugepages", DEFAULT_HUGEPAGES))
        why = Why(f"hugepages-2Mi {hugepages} for EFA", hugepages_owner.name, "hugepages")
        set_resource(ctx, target, "hugepages-2Mi", hugepages, hugepages_owner, why)
        requests = lookup(ctx.obj(target), [*RESOURCES, "requests"]) or {}
        if "cpu" not in requests and "memory" not in requests:
            memory_owner = target.owner("memory_request") or owner
            memory = str(memory_owner.spec.get("memory_request", DEFAULT_MEMORY_REQUEST))
            why = Why(
                f"memory request {memory} (hugepages need one)", memory_owner.name, "memory_request"
            )
            ctx.plan.set(
                target.doc, [*target.prefix, *RESOURCES, "requests", "memory"], memory, why
            )
