"""Toleration syntax the API server accepts only at pod creation.

**What.** Tolerations of NodeSet pod templates, of profile partitions and of the EFA device
plugin DaemonSet: operator ``Equal`` or ``Exists``; ``Exists`` with no ``value``; ``Equal``
with a key; effect one of ``NoSchedule``, ``PreferNoSchedule``, ``NoExecute``;
``tolerationSeconds`` only with ``NoExecute``; a valid key.

**Why.** The NodeSet CRD does not validate its pod template, so a bad toleration passes
``helm install`` and the operator's pods are then rejected: nothing runs.

**Options.** None.

PASS::

    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}

FAIL::

    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, value: "true"}   # Exists takes no value
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import as_list, dig
from postrender.validate.kubernetes import toleration_problems

ID = "SPR-S003"
SEVERITY = "error"
PROFILE_FIELDS = ("tolerations",)
PATH = "spec.template.spec.tolerations"


def check(ctx: LintContext) -> Iterator[Finding]:
    yield from ctx.profile_findings(ID)
    pods = [(ns.obj, ns.tolerations) for ns in ctx.nodesets]
    for plugin in ctx.efa_plugins:
        tolerations = as_list(dig(plugin.body, "spec", "template", "spec", "tolerations"))
        pods.append((plugin, [t for t in tolerations if isinstance(t, dict)]))
    for obj, tolerations in pods:
        for i, toleration in enumerate(tolerations):
            for problem in toleration_problems(toleration, f"{PATH}[{i}]"):
                yield obj.finding(problem.message, problem.path)
