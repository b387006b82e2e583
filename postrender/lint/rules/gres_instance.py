"""GRES the instance type cannot back: too many GPUs, or the wrong GPU type.

**What.** A NodeSet's ``Gres=gpu[:type]:N`` (extraConf, or a profile's ``gres``) is checked
against the instance types its pods run on: the nodeSelector's
``node.kubernetes.io/instance-type``, else the partition's ``instance_types``, else the
instance types the matching NodePools or node groups can launch. It fires when none of them
has N GPUs, or none has a GPU whose name contains the type (Slurm requires the type to equal
or be a substring of the detected GPU name; Karpenter's ``instance-gpu-name`` values such as
``a100``, ``h100``, ``l4`` are safe).

**Why.** slurmd cannot back the configured GRES with devices: the node registers, then is
drained (``gres/gpu count reported lower than configured``) and jobs never start.

**Options.** None.

PASS::

    instance_types: [p4d.24xlarge]
    gres: "gpu:a100:8"

FAIL::

    instance_types: [g5.xlarge]
    gres: "gpu:a10g:8"     # g5.xlarge has 1 GPU
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.catalogue import slurm_gpu_type
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-G001"
SEVERITY = "error"
PROFILE_FIELDS = ("gres",)


def check(ctx: LintContext) -> Iterator[Finding]:
    yield from ctx.profile_findings(ID)
    for ns in ctx.placed:
        if not ns.gres:
            continue
        candidates = ctx.candidates(ns)
        if candidates is None:
            continue
        for gres in ns.gres:
            fits = [t for t in candidates.types if t.accelerator_count >= gres.count]
            if not fits:
                best = max(candidates.types, key=lambda t: t.accelerator_count)
                yield ns.obj.finding(
                    f"Gres={gres} needs {gres.count} GPUs per node, but {best.name} "
                    f"({candidates.origin}) has {best.accelerator_count}",
                    "spec.extraConf",
                    f"use Gres={gres.name}:{best.accelerator_count} or a larger instance type"
                    if best.accelerator_count
                    else "choose a GPU instance type",
                )
                continue
            slurm_types = {slurm_gpu_type(t.gpu_name) for t in fits if t.gpu_name}
            if gres.type and not any(gres.type in str(name) for name in slurm_types):
                names = sorted(str(name) for name in slurm_types)
                yield ns.obj.finding(
                    f"GRES type {gres.type!r} does not match the GPU of "
                    f"{fits[0].name} ({candidates.origin}): {', '.join(names) or 'unknown'}",
                    "spec.extraConf",
                    f"use Gres={gres.name}:{names[0]}:{gres.count}"
                    if names
                    else f"use untyped Gres={gres.name}:{gres.count}",
                )
