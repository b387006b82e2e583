"""GresTypes is missing from the Controller.

**What.** Every GRES name a NodeSet advertises (``Gres=gpu:...``) must be listed in
``GresTypes=`` in the Controller's ``extraConf`` (the slurm.conf block). Operators 1.0 and
1.1 write ``GresTypes=gpu`` themselves: for their charts gpu needs no line.

**Why.** slurmctld ignores GRES whose type it was not told about: nodes register without
GPUs and ``--gres=gpu`` jobs are rejected. slinky-pr adds it when a profile partition sets
``gres``; a hand-written chart value must carry it itself.

**Options.** None.

PASS::

    # Controller
    extraConf: |
      GresTypes=gpu

FAIL::

    # Controller extraConf without GresTypes, NodeSet extraConf Gres=gpu:8
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import dig
from postrender.release import operator_writes_gres_defaults
from postrender.slurmconf import conf_lines, line_tokens

ID = "SPR-G004"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[Finding]:
    wanted = sorted({g.name for ns in ctx.nodesets for g in ns.gres})
    if not wanted:
        return
    for controller in ctx.controllers:
        block = dig(controller.body, "spec", "extraConf")
        declared: set[str] = set()
        for line in conf_lines(block if isinstance(block, str) else None):
            for key, value in line_tokens(line).items():
                if key.lower() == "grestypes":
                    declared.update(value.split(","))
        if not declared and operator_writes_gres_defaults(controller.body):
            declared.add("gpu")  # the operator's own slurm.conf line (charts 1.0, 1.1)
        missing = [name for name in wanted if name not in declared]
        if missing:
            yield controller.finding(
                f"NodeSets advertise GRES {', '.join(missing)} but the Controller's "
                "extraConf has no GresTypes for it",
                "spec.extraConf",
                f"add GresTypes={','.join(sorted(declared | set(missing)))}",
            )
