r"""Controller: what slurmctld needs once any partition has GRES.

- ``GresTypes=gpu`` merged into the Controller ``spec.extraConf`` (operators before 1.2
  write ``GresTypes=gpu`` and ``AccountingStorageTRES=gres/gpu`` themselves: not doubled
  for charts 1.0/1.1 when gpu is all there is);
- a ``gres.conf`` (``AutoDetect=nvidia``, or the profile's ``gres_conf``) in a ConfigMap
  referenced from ``spec.configFileRefs``, unless the release already carries one — which
  must then autodetect GPUs or list ``Name=gpu`` (else Slurm drains the nodes);
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
    add document:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: slurm-gres-conf}
        data:
          gres.conf: |
            AutoDetect=nvidia
    add /spec/configFileRefs: [{name: slurm-gres-conf}]
"""

from __future__ import annotations

import re

from postrender.errors import Problem
from postrender.model.slurmconf import conf_lines, join_block, merge_conf_key
from postrender.plan import Why, lookup
from postrender.select import SlinkyObject, operator_writes_gres_defaults
from postrender.transforms.context import Context
from postrender.validate.kubernetes import MAX_NAME
from postrender.yaml.stream import Document

# Not typing's (importing typing costs ~7 ms of every run); mypy and ruff honour the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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


def _gres_configmap(ctx: Context, controller: SlinkyObject, autodetect: str) -> str | None:
    """Add the gres.conf ConfigMap; return its name (None if it cannot have one)."""
    meta = ctx.obj(controller).get("metadata") or {}
    name = f"{meta.get('name', 'slurm')}-gres-conf"
    if len(name) > MAX_NAME:
        ctx.problems.append(
            Problem(
                f"the gres.conf ConfigMap would be named {name[:40]}... ({len(name)} "
                f"characters): Kubernetes allows {MAX_NAME}",
                document=controller.doc.label,
                path="metadata.name",
                hint=f"give the Controller a name of at most {MAX_NAME - len('-gres-conf')} "
                "characters, or reference a gres.conf ConfigMap of your own",
            )
        )
        return None
    source = f"{ctx.release.stream.chart}/templates/slinky-pr/gres-conf.yaml"
    metadata: dict[str, Any] = {"name": name}
    if meta.get("namespace"):
        metadata["namespace"] = meta["namespace"]
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    if annotations := ctx.release.stream.added_annotations(source):
        metadata["annotations"] = annotations
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {"gres.conf": f"AutoDetect={autodetect}\n"},
    }
    head = ctx.release.stream.added_head(source)
    doc = Document(index=-1, raw="", head=head, body=body, source=source)
    why = Why(f"gres.conf with AutoDetect={autodetect}", field="gres_conf")
    ctx.plan.add_document(doc, why, before=controller.doc)
    return name


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


def _backs_gpus(gres_conf: str) -> bool:
    """Whether a gres.conf gives slurmd GPUs: autodetection, or Name=gpu lines."""
    autodetect = re.search(r"(?im)^\s*AutoDetect=(nvidia|nvml|rsmi|oneapi)\b", gres_conf)
    return bool(autodetect or re.search(r"(?im)^\s*(NodeName=\S+\s+)?Name=gpu\b", gres_conf))


def _gres_conf(ctx: Context, controller: SlinkyObject) -> None:
    """Reference the release's gres.conf, or add one (``gres_conf`` of the profile)."""
    release = ctx.release
    refs = lookup(ctx.obj(controller), ["spec", "configFileRefs"]) or []
    referenced = {r.get("name") for r in refs if isinstance(r, dict)}
    carrying = []
    for configmap in release.configmaps:
        if "gres.conf" not in (ctx.obj(configmap).get("data") or {}):
            continue
        if not isinstance(lookup(ctx.obj(configmap), ["metadata", "name"]), str):
            ctx.problems.append(
                Problem(
                    "this ConfigMap carries a gres.conf but has no name to mount it by",
                    document=configmap.doc.label,
                    path="metadata.name",
                    hint="give the ConfigMap a metadata.name (Kubernetes requires one)",
                )
            )
            return
        carrying.append(configmap)
    carrying.sort(key=lambda c: ctx.obj(c)["metadata"]["name"] not in referenced)
    if carrying:
        existing = carrying[0]
        name = ctx.obj(existing)["metadata"]["name"]
        if not _backs_gpus(str(ctx.obj(existing)["data"]["gres.conf"])):
            ctx.problems.append(
                Problem(
                    "this gres.conf neither autodetects GPUs nor lists Name=gpu: slurmd would "
                    "report 0 GPUs and Slurm drains the node (gres/gpu count reported lower "
                    "than configured)",
                    document=existing.doc.label,
                    path="data.gres.conf",
                    hint="use AutoDetect=nvidia, or add Name=gpu File=/dev/nvidia[0-7] lines",
                )
            )
        if name in referenced:
            return
    else:
        added = _gres_configmap(ctx, controller, str(release.profile.gres_conf))
        if added is None:
            return
        name = added
        if release.profile.gres_conf == "nvml":
            ctx.notes.append(
                f"{release.profile.path}: gres_conf: nvml needs a slurmd built with NVML; the "
                "Slinky slurmd images are not, so slurmd would find no GPU and Slurm drains "
                "the node: use gres_conf: nvidia unless your image has NVML"
            )
    why = Why(f"mount gres.conf from ConfigMap {name}", field="gres_conf")
    ctx.plan.append(
        controller.doc, [*controller.prefix, "spec", "configFileRefs"], {"name": name}, why
    )


def plan(ctx: Context) -> None:
    """GresTypes, GRES TRES accounting and gres.conf on the Controller."""
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
    if "gpu" in gres and release.profile.gres_conf is not False:
        _gres_conf(ctx, controller)
