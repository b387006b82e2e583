"""The partition profile file is invalid.

**What.** Every problem found loading the profile (``--config``): YAML syntax, duplicate
keys, unknown keys (with the closest known one), wrong types and values, duplicate
partition names, more than one ``Default=YES``, each with file and line. All are reported
at once. Problems about one partition field that a more specific rule covers (instance
types, GRES, EFA, labels, tolerations) are reported under that rule's ID instead.

**Why.** The post-renderer refuses an invalid profile, so nothing the profile asks for
reaches the release; lint then checks the chart's own render.

**Options.** None.

PASS::

    clusters:
      - name: slinky-cluster
        partitions:
          - name: gpu-partition
            instance_types: [p4d.24xlarge]

FAIL::

    clusters:
      - name: slinky-cluster
        partitions:
          - name: gpu-partition
            instance_type: [p4d.24xlarge]   # unknown key: did you mean 'instance_types'?
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding

ID = "SPR-P001"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[Finding]:
    for problem in ctx.profile_problems:
        if ctx.profile_field(problem) not in ctx.routes:
            yield ctx.profile_finding(problem)
