"""A Controller's configFileRefs names a ConfigMap that does not exist, or a reserved file.

**What.** Every ``spec.configFileRefs[].name`` of a Controller must be a ConfigMap of the
release or of the ``--cluster-objects`` files (in the Controller's namespace when both say
one), and no referenced ConfigMap may carry ``slurm.conf`` or ``slurmdbd.conf``.

**Why.** The Slinky operator's Controller webhook looks every reference up when the
Controller is created or updated and denies it when the ConfigMap is missing, so the whole
``helm install`` fails; ``slurm.conf`` and ``slurmdbd.conf`` are the operator's own and
denied too. A ConfigMap created by another release or by hand is fine: give it to lint with
``--cluster-objects``.

**Options.** None.

PASS::

    # Controller                          # and in the release (or --cluster-objects)
    configFileRefs: [{name: slurm-extra}]  # kind: ConfigMap, metadata: {name: slurm-extra}

FAIL::

    configFileRefs: [{name: slurm-extra}]  # no ConfigMap slurm-extra anywhere
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import Obj, as_list, as_map, dig

ID = "SPR-C007"
SEVERITY = "error"
RESERVED = ("slurm.conf", "slurmdbd.conf")  # the operator writes these itself


def _namespace(obj: Obj) -> str | None:
    value = dig(obj.body, "metadata", "namespace")
    return str(value) if value else None


def _configmap(ctx: LintContext, controller: Obj, name: str) -> Obj | None:
    """The ConfigMap ``name`` the webhook would find for ``controller``, if any.

    A release rendered by ``helm template`` often carries no namespace: then any namespace
    matches (Helm installs the release into one).
    """
    where = _namespace(controller)
    for obj in [*ctx.release, *ctx.cluster_objects]:
        if obj.kind != "ConfigMap" or obj.api_version != "v1" or obj.name != name:
            continue
        if where is None or _namespace(obj) in (None, where):
            return obj
    return None


def check(ctx: LintContext) -> Iterator[Finding]:
    for controller in ctx.controllers:
        refs = as_list(dig(controller.body, "spec", "configFileRefs"))
        for index, ref in enumerate(refs):
            name = as_map(ref).get("name")
            if not isinstance(name, str) or not name:
                continue  # the CRD schema's finding (SPR-P003)
            path = f"spec.configFileRefs[{index}].name"
            found = _configmap(ctx, controller, name)
            if found is None:
                yield controller.finding(
                    f"configFileRefs names ConfigMap {name!r}, which is neither in the release "
                    "nor among the cluster objects: the operator's webhook denies the Controller",
                    path,
                    f"add ConfigMap {name} to the release, or pass the file that defines it "
                    "with --cluster-objects",
                )
                continue
            for key in RESERVED:
                if key in as_map(found.body.get("data")):
                    yield controller.finding(
                        f"ConfigMap {name!r} in configFileRefs carries {key}, which is reserved "
                        "for the operator: its webhook denies the Controller",
                        path,
                        f"move the settings into extraConf, or drop {key} from ConfigMap {name}",
                    )
