"""gres.conf is missing, or defined twice.

**What.** When a NodeSet advertises ``Gres=gpu``, the Controller's ``spec.configFileRefs``
must reference exactly one ConfigMap carrying a ``gres.conf`` key (``AutoDetect=nvidia``).
A referenced ConfigMap that is not in the release is assumed to be created elsewhere
(SPR-C007 reports it unless ``--cluster-objects`` gives it).

**Why.** Without gres.conf slurmd finds no GPU devices and the node is drained; with two
ConfigMaps carrying ``gres.conf`` the operator mounts the same file twice and one silently
wins (or the pod fails to start).

**Options.** None.

PASS::

    # Controller
    configFileRefs:
      - name: slinky-slurm-gres-conf   # ConfigMap with data: {gres.conf: "AutoDetect=nvidia"}

FAIL::

    configFileRefs: null   # Gres=gpu:8 on a NodeSet, no gres.conf anywhere
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import as_list, as_map, dig

ID = "SPR-G005"
SEVERITY = "error"
KEY = "gres.conf"


def check(ctx: LintContext) -> Iterator[Finding]:
    if not any(g.name == "gpu" for ns in ctx.nodesets for g in ns.gres):
        return
    carrying = [n for n, cm in ctx.configmaps.items() if KEY in as_map(cm.body.get("data"))]
    for controller in ctx.controllers:
        refs = [
            str(as_map(r).get("name"))
            for r in as_list(dig(controller.body, "spec", "configFileRefs"))
        ]
        external = [name for name in refs if name not in ctx.configmaps]
        mounted = [name for name in refs if name in carrying]
        if len(mounted) > 1:
            yield controller.finding(
                f"gres.conf is defined twice, in ConfigMaps {' and '.join(mounted)}",
                "spec.configFileRefs",
                "keep one gres.conf; remove the key from the other ConfigMap",
            )
        elif not mounted and not external:
            unreferenced = [n for n in carrying if n not in refs]
            yield controller.finding(
                "NodeSets advertise Gres=gpu but no ConfigMap in spec.configFileRefs carries "
                "gres.conf: slurmd finds no GPU devices",
                "spec.configFileRefs",
                f"reference ConfigMap {unreferenced[0]} in configFileRefs"
                if unreferenced
                else "add a ConfigMap with gres.conf (AutoDetect=nvidia) to configFileRefs "
                "(slinky-pr adds one when a profile partition sets gres)",
            )
