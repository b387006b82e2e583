"""Compare what a running Slurm reports with the partition profiles: ``slinky verify``.

After ``helm upgrade`` users run ``sinfo`` and ``scontrol show partition`` to see whether
their partitions, GRES and limits arrived. This module does that comparison for them,
from ``scontrol show partition -o`` and ``scontrol show node -o``:

- every profile partition exists, with each of its ``options`` as Slurm reads them
  (``MaxTime: 30`` is ``MaxTime=00:30:00``, ``DefMemPerGPU`` lives in ``JobDefaults``);
- the partition has nodes (a Karpenter pool that never scaled up leaves it empty);
- each of its nodes reports the profile's GRES and features and is not drained, down
  or INVALID (with Slurm's reason).

The expectations come from the profile alone, never from slinky-pr's output, so the
check is independent of the code that generated the configuration. ``slinky verify``
first checks the objects the operator built (postrender.slurm.verify_config), then reads
Slurm through ``kubectl exec`` into the slurmctld pod; the same
:func:`compare` backs ``slinky slurm-check`` on a local Slurm (postrender.slurm.cluster).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click

from postrender.errors import EXIT_FINDINGS, EXIT_INPUT, Problem
from postrender.model.profiles import Partition, Profile
from postrender.model.slurmconf import render_option
from postrender.slurm.scontrol import gres_count, node_gres, option_matches, option_value
from postrender.slurm.tables import NODE_COLUMNS, PARTITION_COLUMNS, rows, table

# Node state words (base state or ``+FLAG``) that mean the node cannot run jobs.
BAD_NODE_STATES = frozenset(
    {"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "INVALID", "INVALID_REG"}
    | {"NOT_RESPONDING", "ERROR"}
)
_NODE_ORDINAL = re.compile(r"^(?P<key>.+)-(?P<ordinal>\d+)$")
_PROBLEM_KINDS = frozenset({"start", "assemble", "job"})


class Finding(Problem):
    """One difference between the profile and Slurm, located on a partition and/or node."""

    __slots__ = ("actual", "expected", "kind", "node", "partition")
    FIELDS = (*Problem.FIELDS, "kind", "partition", "node", "expected", "actual")

    def __init__(
        self,
        # missing-partition, option, no-nodes, nodeset, gres, features, node-state, job, ...
        kind: str,
        message: str,
        partition: str | None = None,
        node: str | None = None,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (partition and f"partition {partition}", node and f"node {node}")
            if part
        )
        super().__init__(message, document=where or None)
        self.kind = kind
        self.partition = partition
        self.node = node
        self.expected = expected
        self.actual = actual

    def to_dict(self) -> dict[str, str | None]:
        """Every field, in the order of the JSON report."""
        return {
            "kind": self.kind,
            "message": self.message,
            "partition": self.partition,
            "node": self.node,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass
class Report:
    """What Slurm reported and where it differs from the profile."""

    cluster: str
    checked: list[str]
    partitions: dict[str, dict[str, str]]
    nodes: dict[str, dict[str, str]]
    findings: list[Finding] = field(default_factory=list)
    jobs: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Where the check stopped before scontrol answered: the command and why.
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings and self.stopped is None

    def to_json(self) -> str:
        """Machine-readable report (``--format json``)."""
        data: dict[str, Any] = {
            "ok": self.ok,
            "cluster": self.cluster,
            "checked": self.checked,
            "partitions": rows("partition", self.partitions, PARTITION_COLUMNS),
            "nodes": rows("node", self.nodes, NODE_COLUMNS),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.jobs:
            data["jobs"] = self.jobs
        if self.notes:
            data["notes"] = self.notes
        if self.stopped is not None:
            data["stopped"] = self.stopped
        return json.dumps(data, indent=2) + "\n"

    def to_text(self) -> str:
        """Partitions and nodes tables, job probes, notes, then one line per finding."""
        parts = []
        # Nothing to tabulate when slurmctld never answered.
        if self.partitions or self.nodes:
            parts += [
                table(rows("partition", self.partitions, PARTITION_COLUMNS), "partition"),
                table(rows("node", self.nodes, NODE_COLUMNS), "node"),
            ]
        if self.jobs:
            parts.append(table(self.jobs, "job"))
        lines = [f"note: {note}" for note in self.notes]
        for finding in self.findings:
            # Comparisons are mismatches; a daemon that would not start is a problem.
            label = "PROBLEM" if finding.kind in _PROBLEM_KINDS else "MISMATCH"
            lines.append(f"{label} {finding.format()}")
        if self.stopped is not None:
            lines.append(f"STOPPED {self.stopped}")
        if self.ok:
            lines.append(
                f"OK: {len(self.checked)} partition(s) of profile cluster {self.cluster} "
                "match Slurm"
            )
        elif self.findings:
            lines.append(f"{len(self.findings)} problem(s)")
        parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)


# ----- expectations and comparison ---------------------------------------------------


def expected_features(partition: Partition) -> list[str]:
    """Node features the profile asks for: the one instance type, ``efa``, ``features``."""
    wanted: list[str] = []
    if len(partition.instance_types) == 1:
        wanted.append(partition.instance_types[0].removeprefix("ml."))
    if partition.efa:
        wanted.append("efa")
    wanted += [f for f in partition.spec.get("features", []) if f not in wanted]
    return wanted


def node_key(node: str) -> str | None:
    """The NodeSet key of a Slinky node (pods, hence nodes, are named ``<key>-<ordinal>``)."""
    match = _NODE_ORDINAL.match(node)
    return match["key"] if match else None


def bad_states(state: str) -> list[str]:
    """The words of a node ``State=`` (``IDLE+DRAIN+INVALID_REG``) that block jobs."""
    return [word for word in state.upper().split("+") if word in BAD_NODE_STATES]


def compare(
    profile: Profile,
    partitions: Mapping[str, Mapping[str, str]],
    nodes: Mapping[str, Mapping[str, str]],
    only: Iterable[str] | None = None,
) -> Report:
    """Every difference between the profile's partitions and what Slurm reports.

    ``only`` limits the check to those profile partitions (e.g. the ones a release
    carries); unknown names are findings too.
    """
    names = list(only) if only is not None else list(profile.partitions)
    report = Report(
        cluster=profile.cluster,
        checked=names,
        partitions={k: dict(v) for k, v in partitions.items()},
        nodes={k: dict(v) for k, v in nodes.items()},
    )
    add = report.findings.append
    members: dict[str, list[str]] = {}
    for node, record in nodes.items():
        for part in record.get("Partitions", "").split(","):
            if part:
                members.setdefault(part, []).append(node)
    flagged: set[str] = set()
    for name in names:
        partition = profile.partitions.get(name)
        if partition is None:
            add(
                Finding(
                    "unknown-partition",
                    f"profile cluster {profile.cluster} has no partition {name}",
                    partition=name,
                )
            )
            continue
        found = partitions.get(name)
        if found is None:
            add(
                Finding(
                    "missing-partition",
                    "missing: Slurm has no such partition "
                    f"(it has: {', '.join(partitions) or 'none'})",
                    partition=name,
                )
            )
            continue
        for key, value in partition.options.items():
            expected = render_option(value)
            actual = option_value(found, key)
            if actual is None or not option_matches(key, expected, actual):
                shown = actual if actual is not None else "not shown by scontrol"
                add(
                    Finding(
                        "option",
                        f"{key} is {shown}, the profile wants {expected}",
                        partition=name,
                        expected=expected,
                        actual=actual,
                    )
                )
        in_partition = sorted(members.get(name, []))
        if not in_partition:
            add(
                Finding(
                    "no-nodes",
                    "has no nodes (NodeSet pods not running: a node pool "
                    "that never scaled up, or pods that cannot be scheduled)",
                    partition=name,
                    actual=found.get("Nodes"),
                )
            )
        for key in partition.nodesets:
            of_key = [n for n in nodes if node_key(n) == key]
            outside = [n for n in of_key if n not in in_partition]
            if outside:
                add(
                    Finding(
                        "nodeset",
                        f"nodes of NodeSet {key} are not in it: {', '.join(sorted(outside))}",
                        partition=name,
                    )
                )
        for node in in_partition:
            _check_node(partition, node, nodes[node], add, flagged)
    return report


def node_findings(
    partition: Partition, node: str, gres_text: str | None, features: str | None, where: str = ""
) -> list[Finding]:
    """The profile's GRES count and features on one node, as ``gres_text`` and ``features``
    say (scontrol's node record, or a slurmd ``--conf`` line, named by ``where``)."""
    prefix = f"{where}: " if where else ""
    found = []
    gres = partition.gres
    if gres is not None and gres_count(node_gres(gres_text or ""), gres) != gres.count:
        found.append(
            Finding(
                "gres",
                f"{prefix}Gres is {gres_text or '(null)'}, the profile wants {gres}",
                partition=partition.name,
                node=node,
                expected=str(gres),
                actual=gres_text,
            )
        )
    have = set((features or "").split(","))
    missing = [f for f in expected_features(partition) if f not in have]
    if missing:
        found.append(
            Finding(
                "features",
                f"{prefix}features {features or '(null)'} lack {', '.join(missing)}",
                partition=partition.name,
                node=node,
                expected=",".join(missing),
                actual=features,
            )
        )
    return found


def _check_node(
    partition: Partition,
    node: str,
    record: Mapping[str, str],
    add: Any,
    flagged: set[str],
) -> None:
    """GRES, features and state of one node of ``partition``; state reported once per node."""
    for finding in node_findings(
        partition, node, record.get("Gres"), record.get("AvailableFeatures")
    ):
        add(finding)
    bad = bad_states(record.get("State", ""))
    if bad and node not in flagged:
        flagged.add(node)
        reason = record.get("Reason")
        add(
            Finding(
                "node-state",
                f"is {record.get('State')}" + (f": {reason}" if reason else " (no reason given)"),
                partition=partition.name,
                node=node,
                actual=record.get("State"),
            )
        )


def emit(report: Report, fmt: str) -> NoReturn:
    """Print the report; exit 1 when anything differs, else 3 when a step stopped before
    Slurm answered (shared by verify and slurm-check)."""
    click.echo(report.to_json() if fmt == "json" else report.to_text(), nl=False)
    sys.exit(EXIT_FINDINGS if report.findings else EXIT_INPUT if report.stopped else 0)
