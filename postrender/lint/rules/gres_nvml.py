"""gres.conf autodetects GPUs with NVML, which the Slinky slurmd images lack.

**What.** A ConfigMap's ``gres.conf`` says ``AutoDetect=nvml`` (slinky-pr writes it for a
profile's ``gres_conf: nvml``).

**Why.** ``AutoDetect=nvml`` needs a slurmd built against NVIDIA's NVML library; the Slinky
slurmd images are not, so slurmd detects no GPU and Slurm drains the node. ``nvidia``
(Slurm 24.11+) reads the devices without NVML.

**Options.** None.

PASS::

    data: {gres.conf: "AutoDetect=nvidia"}

FAIL::

    data: {gres.conf: "AutoDetect=nvml"}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.lint.objects import as_map

ID = "SPR-G006"
SEVERITY = "warning"
_NVML = re.compile(r"(?im)^\s*AutoDetect\s*=\s*nvml\b")


def check(ctx: LintContext) -> Iterator[Finding]:
    for configmap in ctx.configmaps.values():
        text = as_map(configmap.body.get("data")).get("gres.conf")
        if isinstance(text, str) and _NVML.search(text):
            yield configmap.finding(
                "gres.conf has AutoDetect=nvml, but the Slinky slurmd images are built without "
                "NVML: slurmd would find no GPU and Slurm drains the node",
                "data.gres.conf",
                "use AutoDetect=nvidia (profile: gres_conf: nvidia) unless your image has NVML",
            )
