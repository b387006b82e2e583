"""GRES count and the slurmd GPU limit disagree.

**What.** For each NodeSet, the GPUs in ``Gres=gpu...`` (extraConf) must equal the
``nvidia.com/gpu`` limit on ``spec.slurmd.resources`` (``aws.amazon.com/neuron`` for
``Gres=neuron``); a GRES without the limit, or the limit without a GRES, is reported, and so
are the Kubernetes rules for the accelerator resource itself (limit required, request equal
to the limit, whole numbers).

**Why.** It is half of the GPU recipe: without the limit the device plugin gives the
slurmd container no GPU and Slurm drains the node; without the GRES Slurm reports
``Gres=(null)`` and rejects ``--gres=gpu`` jobs. A lower limit than the GRES drains the
node too.

**Options.** None.

PASS::

    extraConf: Gres=gpu:a100:8
    slurmd:
      resources:
        limits: {nvidia.com/gpu: 8}

FAIL::

    extraConf: Gres=gpu:a100:8
    slurmd:
      resources:
        limits: {nvidia.com/gpu: 4}   # 4 GPUs for a node that advertises 8
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.nodesets import GPU_RESOURCES
from postrender.validate.kubernetes import resources_problems

ID = "SPR-G002"
SEVERITY = "error"
RESOURCES = "spec.slurmd.resources"
# GRES name -> the extended resource that backs it.
BACKING = {"gpu": "nvidia.com/gpu", "neuron": "aws.amazon.com/neuron"}


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.nodesets:
        for problem in resources_problems(ns.resources, RESOURCES):
            if any(name in (problem.path or "") for name in GPU_RESOURCES):
                yield ns.obj.finding(problem.message, problem.path)
        counts: dict[str, int] = {}
        for gres in ns.gres:
            if gres.name in BACKING:
                counts[gres.name] = counts.get(gres.name, 0) + gres.count
        limit = ns.gpu_limit
        for name, count in counts.items():
            resource = BACKING[name]
            if limit is None or limit[0] != resource:
                yield ns.obj.finding(
                    f"extraConf advertises Gres={name}:{count} but slurmd has no {resource} "
                    "limit: the container sees no device and Slurm drains the node",
                    f"{RESOURCES}.limits",
                    f"set {resource}: {count} in limits and requests of spec.slurmd.resources",
                )
            elif limit[1] != count:
                yield ns.obj.finding(
                    f"{resource} limit is {limit[1]} but extraConf advertises Gres={name}:{count}",
                    f"{RESOURCES}.limits[{resource}]",
                    f"make both {count} (or both {limit[1]})",
                )
        if limit is not None and limit[1] > 0:
            gres_name = next((g for g, r in BACKING.items() if r == limit[0]), "gpu")
            if gres_name not in counts:
                yield ns.obj.finding(
                    f"slurmd has {limit[0]}: {limit[1]} but extraConf has no Gres={gres_name}: "
                    f"Slurm shows Gres=(null) and rejects --gres={gres_name} jobs",
                    "spec.extraConf",
                    f"add Gres={gres_name}:{limit[1]} to the NodeSet's extraConf "
                    "(or gres: in its profile partition)",
                )
