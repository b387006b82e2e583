"""A NodeSet partition config that is not one line.

**What.** ``spec.partition.config`` of a NodeSet with ``spec.partition.enabled`` is the
rest of its ``PartitionName=`` line: one non-empty line of options.

**Why.** The CRD requires ``^[^\\n]+$``, so the API server rejects the NodeSet; a YAML block
scalar (``config: |``) adds a newline without anyone noticing.

**Options.** None.

PASS::

    partition:
      enabled: true
      config: MaxTime=2-00:00:00 PriorityTier=10

FAIL::

    partition:
      enabled: true
      config: |
        MaxTime=2-00:00:00
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import dig

ID = "SPR-C006"
SEVERITY = "error"
PATH = "spec.partition.config"


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.nodesets:
        config = dig(ns.obj.body, "spec", "partition", "config")
        if config is None:
            continue
        if not isinstance(config, str):
            yield ns.obj.finding("partition config must be a string", PATH)
        elif "\n" in config or not config.strip():
            yield ns.obj.finding(
                "partition config must be one non-empty line"
                + (" (a YAML block scalar adds a newline)" if "\n" in config else ""),
                PATH,
                "write the options on one line: config: MaxTime=2-00:00:00 PriorityTier=10",
            )
