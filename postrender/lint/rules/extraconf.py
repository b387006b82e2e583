"""NodeSet extraConf the operator would crash on or misread.

**What.** ``spec.extraConf`` of a NodeSet is one line of ``Key=Value`` tokens separated by
single spaces: no double, leading or trailing spaces, no tabs, no newline, and no token
without ``=``.

**Why.** The line is passed to ``slurmd --conf``; operators 1.0.1 to 1.2.1 split it on
single spaces and panic on a token without ``=``, which leaves the whole NodeSet without
pods. slinky-pr normalises the spacing of NodeSets a profile targets; others keep what the
chart values say.

**Options.** None.

PASS::

    extraConf: "Gres=gpu:a100:8 Features=p4d"

FAIL::

    extraConf: "Gres=gpu:a100:8  Features=p4d"   # double space
"""

from __future__ import annotations

from collections.abc import Iterator

from postrender.lint.context import LintContext
from postrender.lint.finding import Finding
from postrender.model.slurmconf import ConfError, parse_tokens

ID = "SPR-C001"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[Finding]:
    for ns in ctx.nodesets:
        try:
            parse_tokens(ns.extra_conf, strict=True)
        except ConfError as exc:
            yield ns.obj.finding(
                str(exc),
                "spec.extraConf",
                "write Key=Value tokens separated by single spaces, on one line",
            )
