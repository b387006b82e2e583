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

ID = "SPR-G003"
SEVERITY = "error"
PATH = "spec.extraConf"


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.nodesets:
        entries, errors = ns.gres_parsed
        for error in errors:
            yield ns.obj.finding(error, PATH, "write name[:type]:count, e.g. Gres=gpu:a100:8")
        tokens = [v for k, v in ns.tokens if k.lower() == "gres"]
        merged = f" (the operator merges the {len(tokens)} Gres= tokens into one)"
        note = merged if len(tokens) > 1 else ""
        by_name: dict[str, list[str]] = {}
        for gres in entries:
            by_name.setdefault(gres.name, []).append(str(gres))
        for name, written in by_name.items():
            typed = [w for w in written if w.count(":") == 2]
            if typed and len(typed) < len(written):
                yield ns.obj.finding(
                    f"Gres={','.join(written)} mixes untyped and typed {name}{note}",
                    PATH,
                    f"keep one entry, e.g. Gres={typed[0]}",
                )
            elif len(set(written)) < len(written):
                yield ns.obj.finding(
                    f"Gres={','.join(written)} repeats an entry{note}",
                    PATH,
                    f"keep one Gres={written[0]}",
                )
