"""GRES entries that Slurm rejects: malformed, or typed and untyped of the same name.

**What.** The ``Gres=`` value of a NodeSet's extraConf must be ``name[:type]:count``
entries, and one node must not mix an untyped and a typed entry of the same name
(``gpu:8,gpu:a100:8``) or repeat one. A second ``Gres=`` token is included: the operator
comma-merges repeated keys, so ``Gres=gpu:8 Gres=gpu:a100:8`` becomes exactly that mix.

**Why.** slurmd refuses to start with such a GRES line, or advertises twice the GPUs.

**Options.** None.

PASS::

    extraConf: Gres=gpu:a100:8

FAIL::

    extraConf: Gres=gpu:8 Gres=gpu:a100:8   # merged: typed and untyped gpu on one node
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.slurmconf import conf_key, gres_conflicts

ID = "SPR-G003"
SEVERITY = "error"
PATH = "spec.extraConf"


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.nodesets:
        entries, errors = ns.gres_parsed
        for error in errors:
            yield ns.obj.finding(error, PATH, "write name[:type]:count, e.g. Gres=gpu:a100:8")
        count = sum(1 for k, _ in ns.tokens if conf_key(k) == "Gres")
        note = f" (the operator merges the {count} Gres= tokens into one)" if count > 1 else ""
        for problem in gres_conflicts(entries):
            yield ns.obj.finding(
                problem + note, PATH, "keep one entry per GRES name, e.g. Gres=gpu:a100:8"
            )
