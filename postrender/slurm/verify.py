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
reads a live cluster through ``kubectl exec`` into the slurmctld pod; the same
:func:`compare` backs ``slinky slurm-check`` on a local Slurm (postrender.slurm.cluster).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from postrender.errors import EXIT_FINDINGS, EXIT_INPUT, Problem, SlinkyError
from postrender.model.profiles import Partition, Profile
from postrender.model.slurmconf import ConfError, Gres, render_option
from postrender.validate.kubernetes import DNS_SUBDOMAIN

# Node state words (base state or ``+FLAG``) that mean the node cannot run jobs.
BAD_NODE_STATES = frozenset(
    {"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "INVALID", "INVALID_REG"}
    | {"NOT_RESPONDING", "ERROR"}
)
_LIST_OPTIONS = frozenset({"allowgroups", "allowaccounts", "denyaccounts", "allowqos", "denyqos"})
_TIME_OPTIONS = frozenset({"maxtime", "defaulttime"})
# Options scontrol shows inside JobDefaults=DefCpuPerGPU=..,DefMemPerGPU=.. (slurm.conf(5)).
_JOB_DEFAULTS = frozenset({"defcpupergpu", "defmempergpu"})
_UNLIMITED = frozenset({"UNLIMITED", "INFINITE"})
_NODE_ORDINAL = re.compile(r"^(?P<key>.+)-(?P<ordinal>\d+)$")
_GRES_DETAIL = re.compile(r"\([^)]*\)")
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

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> str:
        """Machine-readable report (``--format json``)."""
        data: dict[str, Any] = {
            "ok": self.ok,
            "cluster": self.cluster,
            "checked": self.checked,
            "partitions": _rows("partition", self.partitions, _PARTITION_COLUMNS),
            "nodes": _rows("node", self.nodes, _NODE_COLUMNS),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.jobs:
            data["jobs"] = self.jobs
        if self.notes:
            data["notes"] = self.notes
        return json.dumps(data, indent=2) + "\n"

    def to_text(self) -> str:
        """Partitions and nodes tables, job probes, notes, then one line per finding."""
        parts = []
        # Nothing to tabulate when slurmctld never answered.
        if self.partitions or self.nodes:
            parts += [
                table(_rows("partition", self.partitions, _PARTITION_COLUMNS), "partition"),
                table(_rows("node", self.nodes, _NODE_COLUMNS), "node"),
            ]
        if self.jobs:
            parts.append(table(self.jobs, "job"))
        lines = [f"note: {note}" for note in self.notes]
        for finding in self.findings:
            # Comparisons are mismatches; a daemon that would not start is a problem.
            label = "PROBLEM" if finding.kind in _PROBLEM_KINDS else "MISMATCH"
            lines.append(f"{label} {finding.format()}")
        if self.ok:
            lines.append(
                f"OK: {len(self.checked)} partition(s) of profile cluster {self.cluster} "
                "match Slurm"
            )
        else:
            lines.append(f"{len(self.findings)} problem(s)")
        parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)


# Table columns: report key -> scontrol field.
_PARTITION_COLUMNS = {
    "state": "State",
    "default": "Default",
    "nodes": "TotalNodes",
    "max_time": "MaxTime",
    "priority_tier": "PriorityTier",
    "allow_groups": "AllowGroups",
    "nodelist": "Nodes",
}
_NODE_COLUMNS = {
    "state": "State",
    "gres": "Gres",
    "features": "AvailableFeatures",
    "partitions": "Partitions",
    "reason": "Reason",
}


def _rows(
    first: str, records: Mapping[str, Mapping[str, str]], columns: Mapping[str, str]
) -> list[dict[str, str]]:
    """One table row per scontrol record: its name under ``first``, then ``columns``."""
    return [
        {first: name, **{key: record.get(field, "") for key, field in columns.items()}}
        for name, record in records.items()
    ]


def table(rows: Sequence[Mapping[str, str]], first: str) -> str:
    """Rows of one kind as an aligned text table (header from the keys); '' when empty."""
    if not rows:
        return f"(no {first}s)\n"
    keys = list(rows[0])
    cells = [[k.upper().replace("_", " ") for k in keys]]
    cells += [[row.get(k) or "-" for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(keys))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    return "\n".join(lines) + "\n"


# ----- Slurm values ----------------------------------------------------------------


def slurm_minutes(text: str) -> int | None:
    """A Slurm time limit in minutes, None for UNLIMITED (slurm.conf(5) formats).

    ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``, ``days-hours``,
    ``days-hours:minutes``, ``days-hours:minutes:seconds``; seconds round up to a
    minute, as slurmctld stores partition limits. Raises ValueError otherwise.
    """
    value = text.strip().upper()
    if value in _UNLIMITED or value == "-1":
        return None
    days = 0
    if "-" in value:
        head, value = value.split("-", 1)
        days = int(head)
        hours_first = [int(p) for p in value.split(":")]
        if len(hours_first) > 3:
            raise ValueError(text)
        hours_first += [0] * (3 - len(hours_first))
        seconds = ((days * 24 + hours_first[0]) * 60 + hours_first[1]) * 60 + hours_first[2]
    else:
        parts = [int(p) for p in value.split(":")]
        if len(parts) == 1:
            seconds = parts[0] * 60
        elif len(parts) == 2:
            seconds = parts[0] * 60 + parts[1]
        elif len(parts) == 3:
            seconds = (parts[0] * 60 + parts[1]) * 60 + parts[2]
        else:
            raise ValueError(text)
    return (seconds + 59) // 60


def node_gres(value: str) -> list[Gres]:
    """A node's ``Gres=`` as entries (``gpu:a100:8(S:0-1)`` → gpu, a100, 8)."""
    if not value or value == "(null)":
        return []
    entries = []
    for part in _GRES_DETAIL.sub("", value).split(","):
        try:
            entries.append(Gres.parse(part.strip()))
        except ConfError:
            continue  # a count with a unit suffix or a future format: not ours to judge
    return entries


def gres_count(entries: Iterable[Gres], wanted: Gres) -> int:
    """How many of ``wanted`` (same name, and type when it has one) the entries offer."""
    return sum(
        e.count
        for e in entries
        if e.name == wanted.name and (wanted.type is None or e.type == wanted.type)
    )


def _lookup(record: Mapping[str, str], key: str) -> str | None:
    """A field of a scontrol record, case-insensitively (``QOS`` is shown as ``QoS``)."""
    lowered = key.lower()
    if lowered in _JOB_DEFAULTS:
        defaults = record.get("JobDefaults", "")
        for item in defaults.split(","):
            name, _, value = item.partition("=")
            if name.lower() == lowered:
                return value
        return None
    for name, value in record.items():
        if name.lower() == lowered:
            return value
    if lowered == "exclusiveuser" and "Exclusive" in record:
        # Slurm 26.05 shows ExclusiveUser=YES as Exclusive=USER (NO as NO).
        return "YES" if "USER" in record["Exclusive"].upper().split(",") else "NO"
    return None


def option_matches(key: str, expected: str, actual: str) -> bool:
    """Whether Slurm's ``actual`` text is the profile's ``expected`` value of ``key``."""
    lowered = key.lower()
    if lowered in _TIME_OPTIONS:
        try:
            return slurm_minutes(expected) == slurm_minutes(actual)
        except ValueError:
            return expected.upper() == actual.upper()
    if lowered in _LIST_OPTIONS:
        return set(expected.split(",")) == set(actual.split(","))
    if lowered == "oversubscribe":
        # YES and FORCE default to a count of 4, which scontrol prints (YES:4).
        want_mode, _, want_count = expected.upper().partition(":")
        got_mode, _, got_count = actual.upper().partition(":")
        return want_mode == got_mode and (not want_count or want_count == got_count)
    if lowered == "tresbillingweights":
        return {i.upper() for i in expected.split(",")} == {i.upper() for i in actual.split(",")}
    return expected.upper() == actual.upper()


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
            actual = _lookup(found, key)
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


def _check_node(
    partition: Partition,
    node: str,
    record: Mapping[str, str],
    add: Any,
    flagged: set[str],
) -> None:
    """GRES, features and state of one node of ``partition``; state reported once per node."""
    gres = partition.gres
    if gres is not None:
        offered = gres_count(node_gres(record.get("Gres", "")), gres)
        if offered != gres.count:
            add(
                Finding(
                    "gres",
                    f"Gres is {record.get('Gres', '(null)')}, the profile wants {gres}",
                    partition=partition.name,
                    node=node,
                    expected=str(gres),
                    actual=record.get("Gres"),
                )
            )
    have = set(record.get("AvailableFeatures", "").split(","))
    missing = [f for f in expected_features(partition) if f not in have]
    if missing:
        add(
            Finding(
                "features",
                f"features {record.get('AvailableFeatures', '(null)')} lack {', '.join(missing)}",
                partition=partition.name,
                node=node,
                expected=",".join(missing),
                actual=record.get("AvailableFeatures"),
            )
        )
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


# ----- reading a live cluster --------------------------------------------------------


def fullname(release: str) -> str:
    """The Slinky chart's fullname: the release if it contains "slurm", else ``<release>-slurm``."""
    return release if "slurm" in release else f"{release}-slurm"


def kubectl_scontrol(
    kubectl: str, namespace: str, pod: str, container: str, context: str | None = None
) -> list[str]:
    """``kubectl exec`` into the slurmctld container, up to and including ``scontrol``.

    The names must be Kubernetes names: ``--pod=--server=https://x`` would otherwise be
    read by kubectl as a flag. The context is any text, always read as --context's value."""
    for option, value in (("--namespace", namespace), ("--pod", pod), ("--container", container)):
        if not DNS_SUBDOMAIN.fullmatch(value):
            raise click.BadParameter(
                f"{value!r} is not a Kubernetes name (lowercase letters, digits, '-', '.')",
                param_hint=option,
            )
    argv = shlex.split(kubectl)
    if context:
        argv += ["--context", context]
    return [*argv, "exec", "-n", namespace, pod, "-c", container, "--", "scontrol"]


def read_slurm(
    scontrol: Sequence[str], timeout: float = 60.0
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """``scontrol show partition -o`` and ``show node -o`` through the ``scontrol`` argv."""
    from postrender.slurm.scontrol import parse_scontrol_oneliners

    outputs = []
    for entity in ("partition", "node"):
        # --all: scontrol otherwise leaves out Hidden=YES partitions.
        argv = [*scontrol, "--all", "show", entity, "-o"]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _read_error(argv, str(exc)) from None
        text = done.stdout + done.stderr
        # A cluster without nodes answers "No nodes in the system" (exit 0 or 1 by version).
        if entity == "node" and "No nodes in the system" in text:
            outputs.append("")
            continue
        if done.returncode != 0:
            raise _read_error(argv, done.stderr.strip() or f"exit status {done.returncode}")
        outputs.append(done.stdout)
    return (
        parse_scontrol_oneliners(outputs[0], "PartitionName"),
        parse_scontrol_oneliners(outputs[1], "NodeName"),
    )


def _read_error(argv: Sequence[str], why: str) -> SlinkyError:
    return SlinkyError(
        [
            Problem(
                f"{shlex.join(argv)}: {why}",
                hint="check --namespace/--release/--pod, or give the command with --scontrol",
            )
        ],
        EXIT_INPUT,
        "cannot read the Slurm state",
    )


def emit(report: Report, fmt: str) -> None:
    """Print the report and exit 1 when anything differs (shared by verify and slurm-check)."""
    click.echo(report.to_json() if fmt == "json" else report.to_text(), nl=False)
    sys.exit(EXIT_FINDINGS if not report.ok else 0)
