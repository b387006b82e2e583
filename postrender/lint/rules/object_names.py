"""An object's name is not valid for its kind.

**What.** ``metadata.name`` must be a DNS-1123 subdomain (at most 253 characters of
lowercase letters, digits, ``-`` and ``.``, starting and ending with a letter or digit) for
most kinds, including the Slinky and Karpenter custom resources; a DNS-1123 label (at most
63 characters, no dots) for a Namespace; a DNS-1035 label (a label starting with a letter)
for a Service; and any path segment (no ``/`` or ``%``, not ``.`` or ``..``) for RBAC
roles and bindings. An object without a name (and no ``generateName``) is reported too.

**Why.** The API server refuses such an object before any webhook or schema sees it, so
``helm install`` fails half-way. Names usually come from values (``nodesets.<key>``,
``fullnameOverride``), where an upper-case letter or ``_`` is easy to write.

**Options.** None.

PASS::

    metadata: {name: slurm-worker-gpu}

FAIL::

    metadata: {name: Worker_GPU}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import dig
from postrender.validate.kubernetes import DNS_SUBDOMAIN, MAX_NAME

ID = "SPR-P004"
SEVERITY = "error"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_LABEL = 63
RBAC = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending "
    f"with a letter or digit, at most {MAX_NAME} characters"
)


def problem(kind: str, group: str, name: str) -> str | None:
    """Why ``name`` is not a valid name for ``kind`` of API ``group``, or None."""
    if group == "rbac.authorization.k8s.io" and kind in RBAC:
        if name in (".", "..") or "/" in name or "%" in name:
            return "a path segment: no '/' or '%', not '.' or '..'"
        return None
    if group == "" and kind == "Namespace":
        if len(name) > MAX_LABEL or not DNS_LABEL.fullmatch(name):
            return (
                "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with "
                f"a letter or digit, at most {MAX_LABEL} characters"
            )
        return None
    if group == "" and kind == "Service":
        if len(name) > MAX_LABEL or not DNS_1035.fullmatch(name):
            return (
                "a DNS-1035 label: lowercase letters, digits and '-', starting with a letter "
                f"and ending with a letter or digit, at most {MAX_LABEL} characters"
            )
        return None
    if len(name) > MAX_NAME or not DNS_SUBDOMAIN.fullmatch(name):
        return SUBDOMAIN_RULE
    return None


def _suggest(name: str) -> str:
    """The name lower-cased with every other character made a '-'."""
    return re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.") or "my-object"


def check(ctx: LintContext) -> Iterator[Finding]:
    for obj in ctx.release:
        if not obj.kind:
            continue  # not an object: nothing the API server is asked to store
        name = dig(obj.body, "metadata", "name")
        if name is None or name == "":
            if not dig(obj.body, "metadata", "generateName"):
                yield obj.finding("the object has no metadata.name", "metadata.name")
            continue
        text = str(name)
        rule = problem(obj.kind, obj.group, text)
        if rule is not None:
            yield obj.finding(
                f"name {text!r} is not valid for a {obj.kind}: it must be {rule}",
                "metadata.name",
                f"name: {_suggest(text)}",
            )
