"""Partitions naming NodeSets the release does not have.

**What.** Each name in ``Nodes=`` of the Controller's ``PartitionName=`` lines must be
``ALL``, the key of a NodeSet in the release (``nodesets.<key>`` of the chart), or a node
name or hostlist of one (``gpu-0``, ``gpu-[0-3]``).

**Why.** slurmctld refuses a partition over unknown nodes; a typo in the chart's
``partitions.<name>.nodesets`` list takes the whole cluster configuration down.

**Options.** None. If the NodeSet comes from another release, suppress this rule on the
Controller (``slinky-pr/lint-ignore: SPR-C005``).

PASS::

    PartitionName=gpu-partition Nodes=gpu       # NodeSet key gpu is rendered

FAIL::

    PartitionName=gpu-partition Nodes=gpus
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-C005"
SEVERITY = "error"
_ITEMS = re.compile(r"(?:[^,\[]|\[[^\]]*\])+")  # comma-separated, brackets kept whole


def check(ctx: LintContext) -> Iterator[Finding]:
    keys = ctx.nodeset_keys
    for line in ctx.partition_lines:
        if line.path != "spec.extraConf":
            continue
        nodes = next((v for k, v in line.tokens.items() if k.lower() == "nodes"), "")
        for item in _ITEMS.findall(nodes):
            if item.upper() == "ALL" or item in keys or any(item.startswith(f"{k}-") for k in keys):
                continue
            close = difflib.get_close_matches(item, sorted(keys), n=1)
            yield line.obj.finding(
                f"partition {line.name} names NodeSet {item!r}, which the release does not "
                f"render (it has: {', '.join(sorted(keys)) or 'none'})",
                line.path,
                f"did you mean {close[0]}?" if close else "enable nodesets." + item,
            )
