"""The lint configuration file (``--lint-config``): what to ignore, and severity overrides.

::

    # .slinky-lint.yaml
    ignore: [SPR-O002]                    # rules never run
    ignore_objects:                       # rule -> objects (Kind/name, shell patterns)
      SPR-S001: [NodeSet/slinky-slurm-worker-cpu]
      SPR-C005: ["Controller/*"]
    severity:                             # rule -> error | warning | info
      SPR-K006: warning

Objects are named as findings name them: ``NodeSet/<name>``, ``NodePool/<name>``,
``ClusterConfig/<name>``, ``Partition/<profile partition>``. The other suppression is the
``slinky-pr/lint-ignore: ID,ID`` annotation on the object itself (for NodeSets, set it in
the chart's ``nodesets.<key>.metadata.annotations``, or the profile partition's
``annotations``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import yaml

from postrender.errors import EXIT_USAGE, Problem, SlinkyError
from postrender.lint.finding import SEVERITIES

KEYS = ("ignore", "ignore_objects", "severity")


@dataclass(frozen=True)
class LintConfig:
    """Suppressions and severity overrides, already checked against the known rules."""

    ignore: frozenset[str] = frozenset()
    ignore_objects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    severity: Mapping[str, str] = field(default_factory=dict)

    def ignores(self, rule: str, ref: str) -> bool:
        """Whether findings of ``rule`` on object ``ref`` (``Kind/name``) are suppressed."""
        return any(fnmatchcase(ref, pattern) for pattern in self.ignore_objects.get(rule, ()))


def _rule_ids(value: Any, where: str, known: list[str], problems: list[Problem]) -> list[str]:
    ids = []
    for item in value if isinstance(value, list) else [value]:
        rule = str(item).strip().upper()
        if rule not in known:
            close = difflib.get_close_matches(rule, known, n=1)
            hint = f"did you mean {close[0]}?" if close else "see slinky lint --list-rules"
            problems.append(Problem(f"unknown rule {item!r}", path=where, hint=hint))
        ids.append(rule)
    return ids


def parse_config(text: str, known: list[str], src: str = "<lint config>") -> LintConfig:
    """Read a lint configuration; raise one error listing every problem in it."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SlinkyError(
            [Problem(f"invalid YAML: {exc}", profile=src)], EXIT_USAGE, "invalid lint config"
        ) from None
    problems: list[Problem] = []
    if not isinstance(data, dict):
        data, problems = {}, [Problem("the lint config must be a map", profile=src)]
    for key in data:
        if key not in KEYS:
            problems.append(
                Problem(f"unknown key {key!r}", profile=src, hint=f"known: {', '.join(KEYS)}")
            )
    ignore = _rule_ids(data.get("ignore") or [], "ignore", known, problems)
    objects: dict[str, tuple[str, ...]] = {}
    for rule, refs in (data.get("ignore_objects") or {}).items():
        for rule_id in _rule_ids(rule, f"ignore_objects.{rule}", known, problems):
            objects[rule_id] = tuple(map(str, refs if isinstance(refs, list) else [refs]))
    severity: dict[str, str] = {}
    for rule, level in (data.get("severity") or {}).items():
        for rule_id in _rule_ids(rule, f"severity.{rule}", known, problems):
            if level not in SEVERITIES:
                problems.append(
                    Problem(
                        f"severity {level!r} is not one of {', '.join(SEVERITIES)}",
                        profile=src,
                        path=f"severity.{rule}",
                    )
                )
            severity[rule_id] = str(level)
    if problems:
        problems = [Problem(p.message, profile=src, path=p.path, hint=p.hint) for p in problems]
        raise SlinkyError(problems, EXIT_USAGE, "invalid lint config")
    return LintConfig(frozenset(ignore), objects, severity)


def load_config(path: str, known: list[str]) -> LintConfig:
    """:func:`parse_config` of a file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise SlinkyError(
            [Problem(f"cannot read lint config: {exc.strerror}", profile=path)],
            EXIT_USAGE,
            "invalid lint config",
        ) from None
    return parse_config(text, known, path)
