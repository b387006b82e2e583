"""Label keys and values Kubernetes rejects.

**What.** Keys are ``[prefix/]name`` (prefix a DNS subdomain of at most 253 characters,
name 1-63 of ``[A-Za-z0-9-_.]`` starting and ending alphanumeric); values are strings of at
most 63 such characters, or empty. Checked in NodeSet nodeSelectors and pod labels, profile
``nodeSelector``/``labels`` (and ``annotations`` keys), NodePool template labels and eksctl
node group labels.

**Why.** A URL-looking key such as ``://vpc.amazonaws.com`` circulates as an "EFA label";
it is not a label at all (EFA nodes carry ``vpc.amazonaws.com/efa.present: "true"``). In a
NodeSet it passes the CRD and makes every pod fail; in a NodePool the API server rejects it.

**Options.** None.

PASS::

    nodeSelector: {vpc.amazonaws.com/efa.present: "true"}

FAIL::

    nodeSelector: {"://vpc.amazonaws.com": "true"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from postrender.lint import cluster
from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import Obj, as_map, dig
from postrender.validate.kubernetes import labels_problems

ID = "SPR-S004"
SEVERITY = "error"
PROFILE_FIELDS = ("nodeSelector", "labels", "annotations")


def _maps(ctx: LintContext) -> Iterator[tuple[Obj, str, Any]]:
    for ns in ctx.nodesets:
        yield ns.obj, "spec.template.spec.nodeSelector", ns.pod.get("nodeSelector")
        labels = dig(ns.obj.body, "spec", "template", "metadata", "labels")
        yield ns.obj, "spec.template.metadata.labels", labels
    for obj in ctx.infra:
        if cluster.is_nodepool(obj):
            labels = dig(obj.body, "spec", "template", "metadata", "labels")
            yield obj, "spec.template.metadata.labels", labels
        elif cluster.is_eksctl(obj):
            for section, i, group in cluster.nodegroups(obj):
                yield obj, f"{section}[{i}].labels", group.get("labels")


def check(ctx: LintContext) -> Iterator[Finding]:
    for finding in ctx.profile_findings(ID):
        yield finding.replace(hint=finding.hint or _hint(finding.message))
    for obj, path, labels in _maps(ctx):
        for problem in labels_problems(as_map(labels), path):
            yield obj.finding(problem.message, problem.path, _hint(problem.message))


def _hint(message: str) -> str | None:
    if "looks like a URL" in message:
        return 'use vpc.amazonaws.com/efa.present: "true" (node label of EFA nodes)'
    if "must be a string" in message:
        return 'quote it: "true"'
    return None
