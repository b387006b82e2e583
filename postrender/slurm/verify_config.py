"""The step of ``slinky verify`` that needs no pod: what the Slinky operator built for the
release, which is what Slurm will read, compared with the partition profiles.

The operator writes slurm.conf into the Controller's ``<fullname>-config`` ConfigMap,
mounts the ConfigMaps its ``configFileRefs`` name beside it (gres.conf), and starts each
NodeSet pod as ``slurmd ... --conf '<line>'``. This step checks, from those objects alone:

- every profile partition has its ``PartitionName=`` line, with nodes and each of its
  ``options`` as the profile asks (compared like scontrol's values: ``MaxTime: 30`` is
  ``MaxTime=00:30:00``);
- ``GresTypes`` names the GRES a partition asks for, and a gres.conf is there to define
  it when the profile expects one;
- each pod of the partition's NodeSets passes slurmd the profile's GRES count and
  features; a NodeSet without pods yet (a node pool that never scaled) is a note.

As in :mod:`postrender.slurm.verify`, the expectations come from the profile alone.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from postrender.model.profiles import Partition, Profile
from postrender.model.slurmconf import conf_key, line_tokens, partition_names, render_option
from postrender.slurm.scontrol import option_matches
from postrender.slurm.verify import Finding, node_findings, node_key


@dataclass(frozen=True)
class OperatorConfig:
    """The operator's objects for one release, as read from the API server."""

    source: str  # where slurm.conf came from, for messages: "ConfigMap ns/name"
    slurm_conf: str
    files: Mapping[str, str]  # config files beside slurm.conf, by file name
    pods: Sequence[Mapping[str, Any]]  # the release's NodeSet pods (Pod objects)


def slurmd_conf(pod: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """(hostname, the slurmd container's ``--conf`` value unquoted) of a pod, None without
    a slurmd container; the value is None when the arguments carry no ``--conf``."""
    spec = pod.get("spec") or {}
    for container in spec.get("containers") or []:
        if container.get("name") != "slurmd":
            continue
        hostname = str(spec.get("hostname") or (pod.get("metadata") or {}).get("name") or "")
        # The container's shell unquotes the arguments: the operator writes --conf '<line>'.
        try:
            words = shlex.split(" ".join(str(a) for a in container.get("args") or ()))
        except ValueError:  # unbalanced quotes: the container's shell refuses them too
            return hostname, None
        at = words.index("--conf") + 1 if "--conf" in words else len(words)
        return hostname, words[at] if at < len(words) else None
    return None


def _token(tokens: Mapping[str, str], key: str) -> str | None:
    lowered = key.lower()
    return next((v for k, v in tokens.items() if k.lower() == lowered), None)


def check_config(
    profile: Profile, config: OperatorConfig, only: Iterable[str] | None = None
) -> tuple[list[Finding], list[str]]:
    """Findings and notes for the profile partitions (``only`` those, when given)."""
    names = list(only) if only is not None else list(profile.partitions)
    findings: list[Finding] = []
    notes: list[str] = []
    lines = config.slurm_conf.splitlines()
    lines_of = partition_names(lines)
    defaults = line_tokens(lines_of.get("DEFAULT", ""))
    conf = f"slurm.conf ({config.source})"
    pods = [found for pod in config.pods if (found := slurmd_conf(pod))]
    gres_types = [
        line.partition("=")[2].strip().lower()
        for line in lines
        if line.lower().startswith("grestypes=")
    ]
    for name in names:
        partition = profile.partitions.get(name)
        if partition is None:
            findings.append(
                Finding(
                    "unknown-partition",
                    f"profile cluster {profile.cluster} has no partition {name}",
                    partition=name,
                )
            )
            continue
        line = lines_of.get(name)
        if line is None:
            have = ", ".join(n for n in lines_of if n != "DEFAULT") or "none"
            findings.append(
                Finding(
                    "missing-partition",
                    f"{conf} has no PartitionName={name} line (it has: {have})",
                    partition=name,
                )
            )
            continue
        tokens = line_tokens(line)
        for key, value in partition.options.items():
            expected = render_option(value)
            actual = _token(tokens, key) or _token(defaults, key)
            if actual is None or not option_matches(key, expected, actual):
                findings.append(
                    Finding(
                        "option",
                        f"{conf}: {key} is {actual or 'not set'}, the profile wants {expected}",
                        partition=name,
                        expected=expected,
                        actual=actual,
                    )
                )
        nodes = [n for n in (_token(tokens, "Nodes") or "").split(",") if n]
        if not nodes:
            findings.append(Finding("no-nodes", f"{conf}: {line!r} has no Nodes", partition=name))
        missing = [key for key in partition.nodesets if key not in nodes and "ALL" not in nodes]
        if missing:
            findings.append(
                Finding(
                    "nodeset",
                    f"{conf}: Nodes={','.join(nodes)} lacks NodeSet(s) {', '.join(missing)}",
                    partition=name,
                    expected=",".join(partition.nodesets),
                    actual=",".join(nodes),
                )
            )
        gres = partition.gres
        if gres is not None:
            if not any(gres.name in value.split(",") for value in gres_types):
                findings.append(
                    Finding(
                        "gres-types",
                        f"{conf}: GresTypes is {','.join(gres_types) or 'not set'}, "
                        f"the partition's {gres} needs {gres.name}",
                        partition=name,
                        expected=gres.name,
                    )
                )
            if profile.gres_conf not in (False, "off"):
                findings += _gres_conf(config, partition)
        members = [(h, c) for h, c in pods if "ALL" in nodes or node_key(h) in nodes]
        for nodeset in sorted({k for k in nodes if k != "ALL"} - {node_key(h) for h, _ in pods}):
            notes.append(
                f"partition {name}: NodeSet {nodeset} has no pods yet (a node pool that "
                "never scaled up?): its slurmd --conf is not checked"
            )
        for hostname, line_conf in members:
            findings += _check_pod(partition, hostname, line_conf)
    return findings, notes


def _gres_conf(config: OperatorConfig, partition: Partition) -> list[Finding]:
    """A gres.conf beside slurm.conf that defines the partition's GRES."""
    assert partition.gres is not None
    text = config.files.get("gres.conf")
    where = f"gres.conf beside {config.source}"
    if text is None:
        return [Finding("gres-conf", f"no {where}", partition=partition.name)]
    words = {w.lower() for w in text.split()}
    if not any(w.startswith("autodetect=") for w in words) and (
        f"name={partition.gres.name}".lower() not in words
    ):
        return [
            Finding(
                "gres-conf",
                f"{where} neither autodetects GPUs nor lists Name={partition.gres.name}",
                partition=partition.name,
                actual=text.strip(),
            )
        ]
    return []


def _check_pod(partition: Partition, hostname: str, line: str | None) -> list[Finding]:
    """The profile's GRES count and features in one pod's slurmd ``--conf``."""
    where = f"pod {hostname} slurmd --conf"
    if line is None:
        return [Finding("pod", f"{where}: no --conf argument", partition.name, hostname)]
    tokens: dict[str, str] = {}
    for key, value in line_tokens(line).items():
        tokens[conf_key(key)] = value
    return node_findings(partition, hostname, tokens.get("Gres"), tokens.get("Features"), where)
