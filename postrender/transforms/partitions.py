r"""Partitions: one ``PartitionName=`` line per profile partition, in the Controller.

Users look for their partition by the name in their catalogue (``gpu-partition``),
not by the NodeSet key. slinky-pr writes
``PartitionName=<name> Nodes=<keys of the NodeSets it targets> <options>`` into the
Controller's ``spec.extraConf``, where the chart's own ``partitions`` map renders.

A partition the chart already defines differently, a NodeSet partition of the same
name, or a second ``Default=YES`` is reported, never duplicated. Example::

    >>> from postrender.transforms.example import CONTROLLER, NODESET, run
    >>> run(plan, NODESET + "---\n" + CONTROLLER, '''
    ... - name: gpu
    ...   options: {MaxTime: 2-00:00:00, PriorityTier: 10}
    ... ''')
    replace /spec/extraConf: |-
        PartitionName=all Nodes=ALL Default=YES MaxTime=UNLIMITED
        PartitionName=gpu Nodes=gpu MaxTime=2-00:00:00 PriorityTier=10
"""

from __future__ import annotations

from postrender.errors import Problem
from postrender.model.nodeset import nodeset_key
from postrender.model.slurmconf import (
    conf_lines,
    is_default,
    join_block,
    partition_line,
    partition_names,
)
from postrender.plan import Why, lookup
from postrender.transforms.context import Context

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from postrender.model.profiles import Partition


# Options Slurm keeps in slurmdbd, what each does without it, and the way out.
_ACCOUNTING_OPTIONS = (
    (
        ("QOS", "AllowQos", "DenyQos"),
        "needs Slurm accounting (QOS live in slurmdbd), and the release has no Accounting "
        "object: slurmctld would exit at start (invalid qos)",
        "enable accounting in the chart, or drop the option",
    ),
    (
        ("AllowAccounts", "DenyAccounts"),
        "needs Slurm accounting, and the release has no Accounting object: Slurm would not "
        "enforce it (a job of any account runs)",
        "enable accounting in the chart, or use AllowGroups",
    ),
)


def _needs_accounting(partition: Partition, document: str) -> Problem | None:
    """The first option of ``partition`` that means nothing without slurmdbd, as a problem."""
    for keys, consequence, hint in _ACCOUNTING_OPTIONS:
        for key in keys:
            if key in partition.options:
                return Problem(
                    f"{key} {consequence}",
                    document=document,
                    profile=partition.label,
                    path=f"options.{key}",
                    hint=hint,
                )
    return None


def plan(ctx: Context) -> None:
    """Append the profile's partition lines to the Controller extraConf."""
    release = ctx.release
    # NodeSet keys per partition, in release order; dicts as ordered sets, since one
    # partition may span thousands of NodeSets
    nodes_of: dict[str, dict[str, None]] = {}
    for target in release.targets:
        for partition in target.partitions:
            nodes_of.setdefault(partition.name, {})[target.key] = None
    for name, partition in release.profile.partitions.items():
        if name not in nodes_of:
            ctx.notes.append(
                f"{partition.label}: no NodeSet in this release belongs to it; skipped"
            )
    if not nodes_of:
        return
    controller = release.controller
    if controller is None:
        ctx.problems.append(
            Problem(
                "the release has no Controller to carry the PartitionName lines",
                hint="render the chart with its controller enabled",
            )
        )
        return

    before = lookup(ctx.obj(controller), ["spec", "extraConf"])
    lines = conf_lines(before)
    existing = partition_names(lines)
    defaults = [line for line in existing.values() if is_default(line)]
    own: dict[str, str] = {}
    for nodeset in release.nodesets:
        spec_partition = lookup(ctx.obj(nodeset), ["spec", "partition"]) or {}
        if spec_partition.get("enabled"):
            own[nodeset_key(ctx.obj(nodeset))] = nodeset.doc.label
            if is_default(str(spec_partition.get("config") or "")):
                defaults.append(f"NodeSet {nodeset_key(ctx.obj(nodeset))} partition")

    whys: list[Why] = []
    for name, partition in release.profile.partitions.items():
        nodes = nodes_of.get(name)
        if not nodes:
            continue
        if not release.has_accounting and (
            problem := _needs_accounting(partition, controller.doc.label)
        ):
            ctx.problems.append(problem)
            continue
        weights = str(partition.options.get("TRESBillingWeights", ""))
        if "gres/" in weights.lower() and not release.gres_tres:
            ctx.problems.append(
                Problem(
                    f"TRESBillingWeights={weights} weighs a GRES, but GRES are not accounted as "
                    "TRES in this release: slurmctld would exit at start (TRES weight "
                    "'GRES:gpu' is not a configured TRES type)",
                    document=controller.doc.label,
                    profile=partition.label,
                    path="options.TRESBillingWeights",
                    hint="enable accounting (an Accounting object, accounting_tres: true) "
                    "or drop the GRES weight",
                )
            )
            continue
        line = partition_line(name, list(nodes), partition.options)
        if existing.get(name) == line:
            continue  # written by an earlier run: idempotent
        if name in existing:
            ctx.problems.append(
                Problem(
                    f"the chart already defines partition {name}: {existing[name]!r}",
                    document=controller.doc.label,
                    path="spec.extraConf",
                    profile=partition.label,
                    hint="remove it from the chart's partitions map, or rename the partition",
                )
            )
            continue
        if name in own:
            ctx.problems.append(
                Problem(
                    f"NodeSet {name}'s own partition (spec.partition.enabled) is also named {name}",
                    document=own[name],
                    path="spec.partition.enabled",
                    profile=partition.label,
                    hint="disable the NodeSet partition or rename the profile partition",
                )
            )
            continue
        if is_default(line) and defaults:
            ctx.problems.append(
                Problem(
                    f"partition {name} has Default=YES, but the release already has "
                    f"a default: {defaults[0]}",
                    document=controller.doc.label,
                    profile=partition.label,
                    hint="Slurm has one default partition: drop Default from one of them",
                )
            )
            continue
        lines.append(line)
        whys.append(Why(f"partition line {line}", partition.name, "options"))
    path = [*controller.prefix, "spec", "extraConf"]
    ctx.plan.set_for_each(controller.doc, path, join_block(lines, before), whys)
