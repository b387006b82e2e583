r"""gres.conf: the file that gives slurmd its GPUs, mounted into the Controller.

Once a partition has GPUs, a ``gres.conf`` (``AutoDetect=nvidia``, or the profile's
``gres_conf``) in a ConfigMap, referenced from the Controller ``spec.configFileRefs``;
unless the release already carries one, which must then autodetect GPUs or list
``Name=gpu`` (else Slurm drains the nodes). ``gres_conf: false`` leaves it to the user.
The ConfigMap is written just ahead of the Controller: the operator's webhook denies a
Controller whose ConfigMap does not exist yet. Example::

    >>> from postrender.transforms.example import CONTROLLER, NODESET, run
    >>> run(plan, NODESET + "---\n" + CONTROLLER, '''
    ... - name: gpu
    ...   gres: gpu:4
    ... ''')
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
from postrender.plan import Why, lookup
from postrender.select import SlinkyObject
from postrender.transforms.context import Context
from postrender.validate.kubernetes import MAX_NAME
from postrender.yaml.stream import Document

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any


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
    """Reference or add the gres.conf of the Controller, when a partition has GPUs."""
    release = ctx.release
    controller = release.controller
    gpus = any(t.gres and t.gres.name == "gpu" for t in release.targets)
    if controller is not None and gpus and release.profile.gres_conf is not False:
        _gres_conf(ctx, controller)
