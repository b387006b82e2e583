"""``slinky lint``: what leaves GPU partitions broken, found before deploy.

Reads the partition profile, the rendered (and post-rendered) release and, optionally,
the cluster's node pools together, and runs every rule of :mod:`postrender.lint.rules`
over them. Library use::

    from postrender.lint import lint
    result = lint(text, profile_path="profiles.yaml", cluster_files=["nodepools.yaml"])
    for finding in result.findings: ...
"""

from __future__ import annotations

from postrender.lint.config import LintConfig, load_config, parse_config
from postrender.lint.finding import Finding
from postrender.lint.rules import RULES
from postrender.lint.runner import LintResult, build_context, lint, run

__all__ = [
    "RULES",
    "Finding",
    "LintConfig",
    "LintResult",
    "build_context",
    "lint",
    "load_config",
    "parse_config",
    "rule_doc",
    "run",
]


def rule_doc(rule_id: str) -> str | None:
    """The documentation of one rule (``slinky explain SPR-G002``), or None if unknown."""
    module = RULES.get(rule_id.strip().upper())
    if module is None:
        return None
    return (
        f"{module.ID} ({module.SEVERITY})  {(module.__doc__ or '').strip()}\n\n"
        f"Suppress: annotate the object slinky-pr/lint-ignore: {module.ID}, or list it under\n"
        "ignore / ignore_objects in the --lint-config file.\n"
    )
