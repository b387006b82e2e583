"""MaxTime or DefaultTime that slurmctld cannot parse.

**What.** In the Controller's ``PartitionName=`` lines and in NodeSet
``spec.partition.config``: ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``,
``days-hours``, ``days-hours:minutes``, ``days-hours:minutes:seconds``, ``UNLIMITED`` or
``INFINITE`` (slurm.conf(5)). Profile options are checked by the profile schema
(SPR-P001).

**Why.** slurmctld refuses the partition line and, with it, the whole configuration.

**Options.** None.

PASS::

    PartitionName=batch Nodes=gpu MaxTime=2-00:00:00

FAIL::

    PartitionName=batch Nodes=gpu MaxTime=2d
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.resources import schema_text

ID = "SPR-C002"
SEVERITY = "error"
KEYS = ("maxtime", "defaulttime")


@functools.cache
def time_syntax() -> re.Pattern[str]:
    """The profile schema's MaxTime pattern: one definition of Slurm's time syntax."""
    schema = json.loads(schema_text("profile.schema.json"))
    partition = schema["properties"]["clusters"]["items"]["properties"]["partitions"]["items"]
    options = partition["properties"]["options"]["properties"]
    pattern = next(alt["pattern"] for alt in options["MaxTime"]["oneOf"] if "pattern" in alt)
    return re.compile(pattern)


def check(ctx: LintContext) -> Iterator[Finding]:
    for line in ctx.partition_lines:
        for key, value in line.tokens.items():
            if key.lower() in KEYS and not time_syntax().match(value):
                yield line.obj.finding(
                    f"partition {line.name}: {key}={value} is not a Slurm time",
                    line.path,
                    "write minutes, D-HH:MM:SS (2-00:00:00), HH:MM:SS or UNLIMITED",
                )
