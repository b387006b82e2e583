"""Tolerations that replace the operator's default worker toleration.

**What.** A NodeSet whose pod template lists tolerations without
``nodeset.slinky.slurm.net/worker``. The Slinky operator adds that ``NoExecute``
toleration only when the template has none; profile tolerations therefore replace it.

**Why.** If your worker nodes carry the ``nodeset.slinky.slurm.net/worker`` taint (the
operator's convention for dedicated Slurm nodes), slurmd pods are no longer allowed there.
Informational: most GPU pools use their own taints instead.

**Options.** None.

PASS::

    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      - {key: nodeset.slinky.slurm.net/worker, operator: Exists, effect: NoExecute}

FAIL::

    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.transforms.scheduling import OPERATOR_TOLERATION

ID = "SPR-O002"
SEVERITY = "info"


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.nodesets:
        if ns.tolerations and all(t.get("key") != OPERATOR_TOLERATION for t in ns.tolerations):
            yield ns.obj.finding(
                f"its tolerations replace the operator's default {OPERATOR_TOLERATION} "
                "(NoExecute) toleration",
                "spec.template.spec.tolerations",
                f"add {{key: {OPERATOR_TOLERATION}, operator: Exists, effect: NoExecute}} "
                "if your worker nodes carry that taint",
            )
