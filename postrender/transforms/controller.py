r"""Controller: the slurm.conf keys slurmctld needs once any partition has GRES.

In the Controller ``spec.extraConf`` (the gres.conf it needs: :mod:`.gres_conf`):

- ``GresTypes=gpu`` merged in (operators before 1.2 write ``GresTypes=gpu`` and
  ``AccountingStorageTRES=gres/gpu`` themselves: not doubled for charts 1.0/1.1 when gpu
  is all there is);
- ``AccountingStorageTRES=gres/<name>`` for every GRES used or weighed in
  ``TRESBillingWeights``, when the release has an Accounting object or the profile sets
  ``accounting_tres: true``. Without slurmdbd slurmctld would refuse to start, so that
  combination is an error, also when the chart itself writes such a line;
- ``AccountingStorageEnforce=associations,limits,safe`` when the profile caps GPU-minutes
  (``gpu_minutes``).

Each of those refusals was first seen on a real slurmctld (tests/slurm/test_slurm_e2e.py).
Example::

    >>> from postrender.transforms.example import CONTROLLER, NODESET, run
    >>> run(plan, NODESET + "---\n" + CONTROLLER, '''
    ... - name: gpu
    ...   gres: gpu:4
    ... ''')
    replace /spec/extraConf: |-
        PartitionName=all Nodes=ALL Default=YES MaxTime=UNLIMITED
        GresTypes=gpu
"""

from __future__ import annotations

import re

from postrender.errors import Problem
from postrender.model.slurmconf import conf_lines, join_block, merge_conf_key
from postrender.plan import Why, lookup
from postrender.select import SlinkyObject, operator_writes_gres_defaults
from postrender.transforms.context import Context


def _operator_writes(ctx: Context, controller: SlinkyObject, key: str) -> bool:
    """Whether the operator's slurm.conf already has ``key`` for gpu; a chart line of the
    key comes after it (last one wins), so that line must still get gpu."""
    before = lookup(ctx.obj(controller), ["spec", "extraConf"]) or ""
    chart_line = re.search(rf"(?im)^\s*{key}\s*=", before)
    return operator_writes_gres_defaults(ctx.obj(controller)) and not chart_line


def _merge_key(
    ctx: Context, controller: SlinkyObject, key: str, values: list[str], why: Why
) -> None:
    before = lookup(ctx.obj(controller), ["spec", "extraConf"])
    after = join_block(merge_conf_key(conf_lines(before), key, values), before)
    ctx.plan.set(controller.doc, [*controller.prefix, "spec", "extraConf"], after, why)


def _weighted_gres(ctx: Context) -> set[str]:
    """GRES names the targeted partitions weigh in TRESBillingWeights (``GRES/gpu=2.0``)."""
    names = set()
    for partition in {p.name: p for t in ctx.release.targets for p in t.partitions}.values():
        for entry in str(partition.options.get("TRESBillingWeights", "")).split(","):
            kind, _, rest = entry.partition("/")
            if kind.lower() == "gres" and rest:
                names.add(rest.split("=", 1)[0].split(":", 1)[0])
    return names


def _tres(ctx: Context, controller: SlinkyObject, gres: set[str]) -> None:
    """AccountingStorageTRES for every GRES used or weighed, when GRES are accounted."""
    release = ctx.release
    before = lookup(ctx.obj(controller), ["spec", "extraConf"]) or ""
    chart_tres = re.search(r"(?im)^\s*AccountingStorageTRES=\S*gres/", before)
    if chart_tres and not release.has_accounting:
        ctx.problems.append(
            Problem(
                "the chart's Controller extraConf accounts GRES as TRES but the release has "
                "no Accounting object: slurmctld would exit at start (slurmdbd is required)",
                document=controller.doc.label,
                path="spec.extraConf",
                hint="enable accounting in the chart, or drop AccountingStorageTRES",
            )
        )
    names = gres | _weighted_gres(ctx)
    if not release.gres_tres or not names:
        return
    if not release.has_accounting:
        ctx.problems.append(
            Problem(
                "accounting_tres: true, but the release has no Accounting object: slurmctld "
                "would exit at start (slurmdbd is required to run with TRES gres/gpu)",
                document=controller.doc.label,
                profile=release.profile.path,
                hint="enable accounting in the chart, or drop accounting_tres",
            )
        )
        return
    if names == {"gpu"} and _operator_writes(ctx, controller, "AccountingStorageTRES"):
        return
    tres = [f"gres/{name}" for name in sorted(names)]
    why = Why(f"account GRES usage as TRES {','.join(tres)}", field="accounting_tres")
    _merge_key(ctx, controller, "AccountingStorageTRES", tres, why)


def _gpu_minutes(ctx: Context, controller: SlinkyObject) -> None:
    """What enforces the profile's GPU-minutes caps: ``AccountingStorageEnforce=limits``.

    Without ``limits`` slurmctld lets a job run past its association's ``GrpTRESMins``
    (seen on Slurm 26.05). The caps themselves live in slurmdbd (``sacctmgr``), not in
    any manifest.
    """
    release = ctx.release
    caps = release.profile.gpu_minutes
    if not caps:
        return
    wrong = None
    if not release.has_accounting:
        wrong = "the release has no Accounting object (slurmdbd holds the caps)"
    elif not release.gres_tres:
        wrong = "accounting_tres is false, so GPUs are not accounted"
    if wrong:
        ctx.problems.append(
            Problem(
                f"gpu_minutes caps GPU use, but {wrong}",
                document=controller.doc.label,
                path="spec.extraConf",
                profile=release.profile.path,
                hint="enable accounting in the chart, or drop gpu_minutes",
            )
        )
        return
    why = Why(
        f"enforce GPU-minutes caps of accounts {', '.join(sorted(caps))}", field="gpu_minutes"
    )
    enforce = ["associations", "limits", "safe"]
    _merge_key(ctx, controller, "AccountingStorageEnforce", enforce, why)


def plan(ctx: Context) -> None:
    """GresTypes, GRES TRES accounting and its enforcement in the Controller extraConf."""
    release = ctx.release
    controller = release.controller
    if controller is None:
        return
    gres = {t.gres.name for t in release.targets if t.gres}
    if gres and not (gres == {"gpu"} and _operator_writes(ctx, controller, "GresTypes")):
        why = Why("GresTypes for the partitions' GRES", field="gres")
        _merge_key(ctx, controller, "GresTypes", sorted(gres), why)
    _tres(ctx, controller, gres)
    _gpu_minutes(ctx, controller)
