"""Taints of the matching NodePools and node groups are not tolerated.

**What.** With NodePools or node groups given as cluster objects (see SPR-S001), a NodeSet
whose nodeSelector reaches NodePools or node groups must tolerate every ``NoSchedule`` and
``NoExecute`` taint of at least one of them
(``spec.template.spec.taints`` of a NodePool; ``taints`` of an eksctl node group). Matching
follows Kubernetes: key, value (``Equal``) or any value (``Exists``), and effect: a
``NoSchedule`` toleration does not tolerate a ``NoExecute`` taint. ``PreferNoSchedule``
taints are ignored.

**Why.** An untolerated taint keeps the slurmd pods off the only nodes they may use: Pending
forever, or evicted right away for ``NoExecute``.

**Options.** None.

PASS::

    tolerations:
      - {key: slinky.io/usage, operator: Equal, value: gpu-task, effect: NoSchedule}

FAIL::

    tolerations:
      - {key: slinky.io/usage, operator: Equal, value: gpu-task, effect: NoExecute}
    # node group taint slinky.io/usage=gpu-task:NoSchedule
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.cluster import taint_text
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.validate.kubernetes import tolerates

ID = "SPR-S002"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.cluster_known:
        return
    for ns in ctx.placed:
        sources = ctx.sources_for(ns)
        blocked = []
        for source in sources:
            untolerated = [
                t
                for t in source.blocking_taints
                if not any(tolerates(tol, t) for tol in ns.tolerations)
            ]
            if not untolerated:
                break
            blocked.append((source, untolerated))
        else:
            if not blocked:
                continue
            detail = "; ".join(
                f"{source.label}: {', '.join(map(taint_text, taints))}"
                for source, taints in blocked
            )
            taint = blocked[0][1][0]
            wrong_effect = any(
                tol.get("key") == taint.get("key") and tol.get("effect") not in (None, "")
                for tol in ns.tolerations
            )
            note = " (a toleration's effect must match the taint's)" if wrong_effect else ""
            yield ns.obj.finding(
                f"tolerations do not tolerate the taints of the nodes its nodeSelector "
                f"reaches: {detail}{note}",
                "spec.template.spec.tolerations",
                f"add {{key: {taint.get('key')}, operator: Exists, "
                f"effect: {taint.get('effect')}}} (profile: tolerations)",
            )
