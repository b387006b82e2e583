"""A NodePool's nodeClassRef is incomplete or points nowhere.

**What.** ``spec.template.spec.nodeClassRef`` must have ``group: karpenter.k8s.aws``,
``kind: EC2NodeClass`` and ``name``. When EC2NodeClasses are given too, the name must be
one of them.

**Why.** Karpenter v1 requires all three fields; v1beta1 examples carry only ``name``, so
they are rejected once migrated, and a NodePool without a valid node class never launches
a node.

**Options.** None.

PASS::

    nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}

FAIL::

    nodeClassRef: {name: default}
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint import cluster
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import as_map, dig

ID = "SPR-K003"
SEVERITY = "error"
PATH = "spec.template.spec.nodeClassRef"
EXPECTED = {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass"}


def check(ctx: LintContext) -> Iterator[Finding]:
    classes = [o.name for o in ctx.infra if cluster.is_nodeclass(o)]
    for pool in ctx.infra:
        if not cluster.is_nodepool(pool):
            continue
        ref = as_map(dig(pool.body, "spec", "template", "spec", "nodeClassRef"))
        name = str(ref.get("name") or (classes[0] if len(classes) == 1 else "default"))
        fixed = f"nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: {name}}}"
        missing = [key for key in ("group", "kind", "name") if not ref.get(key)]
        wrong = [key for key, value in EXPECTED.items() if ref.get(key) not in (None, value)]
        if missing:
            yield pool.finding(
                f"nodeClassRef lacks {' and '.join(missing)} (Karpenter v1 requires group, "
                "kind and name)",
                PATH,
                fixed,
            )
        elif wrong:
            shown = ", ".join(f"{key}: {ref[key]}" for key in wrong)
            yield pool.finding(f"nodeClassRef has {shown}", PATH, fixed)
        elif classes and ref["name"] not in classes:
            yield pool.finding(
                f"nodeClassRef names EC2NodeClass {ref['name']!r}, which is not among the "
                f"cluster objects ({', '.join(classes)})",
                f"{PATH}.name",
                f"name one of: {', '.join(classes)}",
            )
