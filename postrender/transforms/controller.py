"""Controller: what slurmctld needs once any partition has GPU GRES.

- ``GresTypes=gpu`` merged into the Controller ``spec.extraConf``;
- a ``gres.conf`` (``AutoDetect=nvidia``, or the profile's ``gres_conf``) in a ConfigMap
  referenced from ``spec.configFileRefs``, unless the release already carries one;
- ``AccountingStorageTRES=gres/gpu`` when the release has an Accounting object or the
  profile sets ``accounting_tres: true`` (without slurmdbd slurmctld would refuse to start,
  so that combination is an error).
"""

from __future__ import annotations

from typing import Any

from postrender.errors import Problem
from postrender.plan import Why, lookup
from postrender.release import SlinkyObject
from postrender.slurmconf import conf_lines, join_block, merge_conf_key
from postrender.stream import FILENAME_ANNOTATION, Document
from postrender.transforms import Context


def _merge_key(
    ctx: Context, controller: SlinkyObject, key: str, values: list[str], why: Why
) -> None:
    before = lookup(controller.obj, ["spec", "extraConf"])
    after = join_block(merge_conf_key(conf_lines(before), key, values), before)
    ctx.edits.set(controller.doc, [*controller.prefix, "spec", "extraConf"], after, why)


def _gres_configmap(ctx: Context, controller: SlinkyObject, autodetect: str) -> str:
    """Add the gres.conf ConfigMap; return its name."""
    meta = controller.obj.get("metadata") or {}
    name = f"{meta.get('name', 'slurm')}-gres-conf"
    source = f"{ctx.release.stream.chart}/templates/slinky-pr/gres-conf.yaml"
    metadata: dict[str, Any] = {"name": name}
    if meta.get("namespace"):
        metadata["namespace"] = meta["namespace"]
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    metadata["annotations"] = {FILENAME_ANNOTATION: source}
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {"gres.conf": f"AutoDetect={autodetect}\n"},
    }
    head = ctx.release.stream.added_head(source)
    doc = Document(index=-1, raw="", head=head, body=body, source=source)
    ctx.edits.add_document(doc, Why(f"gres.conf with AutoDetect={autodetect}", field="gres_conf"))
    return name


def apply(ctx: Context) -> None:
    """GresTypes, gres.conf and GPU TRES accounting on the Controller."""
    release = ctx.release
    gres = {t.gres.name for t in release.targets if t.gres}
    controller = release.controller
    if not gres or controller is None:
        return
    _merge_key(
        ctx,
        controller,
        "GresTypes",
        sorted(gres),
        Why("GresTypes for the partitions' GRES", field="gres"),
    )

    profile = release.profile
    if release.gres_tres and "gpu" in gres:
        if not release.has_accounting:
            ctx.problems.append(
                Problem(
                    "accounting_tres: true, but the release has no Accounting object: "
                    "slurmctld would "
                    "exit at start (slurmdbd is required to run with TRES gres/gpu)",
                    document=controller.doc.label,
                    profile=profile.path,
                    hint="enable accounting in the chart, or drop accounting_tres",
                )
            )
        else:
            why = Why("account GPU usage as TRES gres/gpu", field="accounting_tres")
            _merge_key(ctx, controller, "AccountingStorageTRES", ["gres/gpu"], why)

    if "gpu" not in gres or profile.gres_conf is False:
        return
    refs = lookup(controller.obj, ["spec", "configFileRefs"]) or []
    referenced = {r.get("name") for r in refs if isinstance(r, dict)}
    carrying = [c for c in release.configmaps if "gres.conf" in (c.obj.get("data") or {})]
    name = next(
        (c.obj["metadata"]["name"] for c in carrying if c.obj["metadata"]["name"] in referenced),
        None,
    )
    if name:
        return
    name = (
        carrying[0].obj["metadata"]["name"]
        if carrying
        else _gres_configmap(ctx, controller, str(profile.gres_conf))
    )
    why = Why(f"mount gres.conf from ConfigMap {name}", field="gres_conf")
    ctx.edits.append(
        controller.doc, [*controller.prefix, "spec", "configFileRefs"], {"name": name}, why
    )
