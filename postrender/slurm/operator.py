"""Run what the real Slinky operator wrote: its slurm.conf and each NodeSet pod's slurmd args.

The operator (tests/e2e) writes slurm.conf into the Controller's ``<fullname>-config``
ConfigMap and starts each NodeSet pod as ``slurmd -Z --conf-server <controller>:6817 --conf
'<line>'``. Those are run here as written, except the settings that bind them to the pods'
environment (the controller's DNS name, the pod volumes' paths, the JWT key Secret,
cgroups), which only the pods have: :data:`REBOUND` names each one and why, and
:func:`bind_slurm_conf` touches no other key. NodeSet, partition and extraConf lines,
``GresTypes``, ``SelectTypeParameters``, ``MaxNodeCount``, ``SlurmctldParameters`` and every
other key stay byte for byte.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from postrender.slurm.assemble import GPU_RESOURCE, NodeSetConf, SlurmRelease, conf_gres
from postrender.slurm.errors import AssembleError

#: slurm.conf keys the harness sets in place of the operator's value, with the reason.
#: A key with no harness value is dropped.
REBOUND: Mapping[str, str] = {
    "SlurmctldHost": "the controller pod's name and Service DNS name: here 127.0.0.1",
    "SlurmctldPort": "6817 may be taken on this machine: a free port",
    "SlurmUser": "slurm owns the pod's volumes; the run's dirs are root's",
    "StateSaveLocation": "the Controller's persistent volume: the run's work dir",
    "SlurmctldLogFile": "a pod volume: the run's work dir",
    "SlurmSchedLogFile": "a pod volume: the run's work dir",
    "SlurmdLogFile": "a pod volume: the run's work dir, one per node",
    "AuthAltTypes": "auth/jwt is not built into Debian's slurmctld; dropped",
    "AuthAltParameters": "the JWT key Secret is not mounted; dropped",
    "CommunicationParameters": "extended: daemons on one host bind loopback only",
    "ProctrackType": "no cgroups in a chroot: process groups",
    "TaskPlugin": "no cgroups in a chroot: task/cgroup dropped",
}
#: Keys whose harness value is added to the operator's instead of replacing it.
EXTENDED = frozenset({"CommunicationParameters"})


@dataclass(frozen=True)
class PodSlurmd:
    """A NodeSet pod as the operator created it: its hostname, slurmd args and GPU limit."""

    hostname: str
    args: tuple[str, ...]
    gpu_limit: int | None


def bind_slurm_conf(text: str, values: Mapping[str, str | None]) -> str:
    """The operator's slurm.conf with the :data:`REBOUND` keys set to ``values``.

    Every line whose key is not in REBOUND is kept as written; a rebound key with a None
    value is dropped; rebound keys the operator did not write are appended.
    """
    unknown = set(values) - set(REBOUND)
    if unknown:
        raise ValueError(f"not rebindable (not in REBOUND): {sorted(unknown)}")
    lines = []
    seen = set()
    # Slurm reads keys in any case: a "slurmctldhost=" line is rebound too.
    by_lower = {k.lower(): k for k in values}
    for line in text.splitlines():
        written, sep, old = line.partition("=")
        key = by_lower.get(written.lower().strip())
        if not sep or key is None or " " in written:
            lines.append(line)
            continue
        seen.add(key)
        value = values[key]
        if value is None:
            continue
        lines.append(f"{key}={old},{value}" if key in EXTENDED else f"{key}={value}")
    lines += [f"{k}={v}" for k, v in values.items() if k not in seen and v is not None]
    return "\n".join(lines) + "\n"


def slurmd_argv(args: Sequence[str], conf_server: str, port: int) -> list[str]:
    """The pod's slurmd arguments, unquoted as the container's shell does, bound to the run.

    ``--conf-server`` names the run's slurmctld and ``Port=`` is added to ``--conf``:
    every slurmd of the run shares one host, where each pod has its own network.
    """
    words = shlex.split(" ".join(args))
    for option in ("--conf-server", "--conf"):
        if option not in words or words.index(option) + 1 >= len(words):
            raise AssembleError(f"slurmd args {list(args)} have no {option} value")
    words[words.index("--conf-server") + 1] = conf_server
    at = words.index("--conf") + 1
    words[at] = f"{words[at]} Port={port}"
    return words


def conf_line(args: Sequence[str]) -> str:
    """The ``--conf`` value of a pod's slurmd arguments, unquoted."""
    words = shlex.split(" ".join(args))
    if "--conf" not in words or words.index("--conf") + 1 >= len(words):
        raise AssembleError(f"slurmd args {list(args)} have no --conf value")
    return words[words.index("--conf") + 1]


def operator_release(
    slurm_conf: str, files: Mapping[str, str], pods: Sequence[PodSlurmd]
) -> SlurmRelease:
    """A release that runs the operator's slurm.conf, ``files`` beside it, and one slurmd
    per pod with the pod's arguments (its node name is the pod's hostname)."""
    nodesets = []
    for pod in pods:
        key, dash, ordinal = pod.hostname.rpartition("-")
        if not dash or not ordinal.isdigit():
            raise AssembleError(f"pod hostname {pod.hostname!r} is not <nodeset>-<ordinal>")
        line = conf_line(pod.args)
        gres = conf_gres(line, f"pod {pod.hostname}")
        nodesets.append(
            NodeSetConf(
                key=key,
                name=key,
                extra_conf="",
                slurmd_conf=line,
                gres=gres,
                gpu_limit=pod.gpu_limit,
                partition_enabled=False,
                partition_config="",
                ordinal=int(ordinal),
                slurmd_args=pod.args,
            )
        )
    names = dict(line.partition("=")[::2] for line in slurm_conf.splitlines() if "=" in line)
    if names.get("AccountingStorageType") == "accounting_storage/slurmdbd":
        # slurmdbd's host and port would be rebound too; no release under test has one.
        raise AssembleError("the operator's slurm.conf uses slurmdbd, which is not bound here")
    return SlurmRelease(
        cluster_name=names.get("ClusterName", "slurm"),
        nodesets=tuple(nodesets),
        controller_extra_conf="",
        has_accounting=False,
        gres_conf=files.get("gres.conf"),
        config_files=dict(files),
        slurm_conf=slurm_conf,
    )


def pod_slurmds(pods: Iterable[Mapping[str, Any]]) -> tuple[PodSlurmd, ...]:
    """From Pod objects (``kubectl get pods -o json`` items), the first pod of each NodeSet:
    the one with the lowest ordinal among those with a ``slurmd`` container."""
    first: dict[str, tuple[int, PodSlurmd]] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        for container in spec.get("containers") or []:
            if container.get("name") != "slurmd":
                continue
            hostname = str(spec.get("hostname") or "")
            key, _, ordinal = hostname.rpartition("-")
            if not key or not ordinal.isdigit():
                raise AssembleError(f"pod hostname {hostname!r} is not <nodeset>-<ordinal>")
            limit = ((container.get("resources") or {}).get("limits") or {}).get(GPU_RESOURCE)
            found = PodSlurmd(
                hostname,
                tuple(str(a) for a in container.get("args") or ()),
                None if limit is None else int(str(limit)),
            )
            if key not in first or int(ordinal) < first[key][0]:
                first[key] = (int(ordinal), found)
    return tuple(pod for _, pod in sorted(first.values(), key=lambda f: f[1].hostname))
