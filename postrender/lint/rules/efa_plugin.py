"""The EFA device plugin does not tolerate the taints of EFA nodes.

**What.** When the EFA device plugin DaemonSet is given (``--cluster-objects``), its pod
tolerations must tolerate every ``NoSchedule``/``NoExecute`` taint of the nodes where EFA
NodeSets run: the taints of the NodePools and node groups their nodeSelector reaches, or,
without those, the taints the NodeSet itself tolerates. Effects matter: a ``NoSchedule``
toleration does not tolerate a ``NoExecute`` taint.

**Why.** The plugin is what advertises ``vpc.amazonaws.com/efa`` on a node. If it cannot run
there, the node has no EFA resource and every EFA pod stays Pending.

**Options.** None.

PASS::

    # DaemonSet aws-efa-k8s-device-plugin
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}

FAIL::

    tolerations: []   # GPU NodePool tainted nvidia.com/gpu=true:NoSchedule
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from postrender.lint.cluster import ANY_TAINT_VALUE, BLOCKING_EFFECTS, taint_text
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.nodesets import NodeSetView
from postrender.lint.objects import as_list, dig
from postrender.validate.kubernetes import tolerates

ID = "SPR-E003"
SEVERITY = "error"


def _taints(ctx: LintContext, ns: NodeSetView) -> Iterator[tuple[dict[str, Any], str]]:
    """(taint, where) pairs of the nodes the NodeSet lands on."""
    sources = ctx.sources_for(ns) if ctx.node_sources else []
    if sources:
        for source in sources:
            for taint in source.blocking_taints:
                yield taint, source.label
        return
    for toleration in ns.tolerations:
        if not toleration.get("key"):
            continue  # tolerates everything: says nothing about the node's taints
        value = (
            toleration.get("value") if toleration.get("operator") != "Exists" else ANY_TAINT_VALUE
        )
        effects = [toleration["effect"]] if toleration.get("effect") else list(BLOCKING_EFFECTS)
        for effect in effects:
            if effect in BLOCKING_EFFECTS:
                taint = {"key": toleration["key"], "value": value, "effect": effect}
                yield taint, f"tolerated by NodeSet {ns.obj.name}"


def check(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.efa_plugins:
        return
    reported: set[tuple[str, str]] = set()
    for ns in ctx.placed:
        if ns.efa <= 0:
            continue
        for taint, where in _taints(ctx, ns):
            for plugin in ctx.efa_plugins:
                pod = dig(plugin.body, "spec", "template", "spec")
                tolerations = [t for t in as_list(dig(pod, "tolerations")) if isinstance(t, dict)]
                if any(tolerates(t, taint) for t in tolerations):
                    continue
                text = taint_text(taint)
                if (plugin.ref, text) in reported:
                    continue
                reported.add((plugin.ref, text))
                operator = (
                    "Equal" if taint.get("value") not in (None, "", ANY_TAINT_VALUE) else "Exists"
                )
                value = f", value: {taint['value']}" if operator == "Equal" else ""
                yield plugin.finding(
                    f"the EFA device plugin does not tolerate taint {text} ({where}), where "
                    f"EFA NodeSet {ns.obj.name} runs: no vpc.amazonaws.com/efa there",
                    "spec.template.spec.tolerations",
                    f"add {{key: {taint.get('key')}, operator: {operator}{value}, "
                    f"effect: {taint.get('effect')}}}",
                )
