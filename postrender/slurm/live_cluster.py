"""Reading a live cluster for ``slinky verify``: the operator's objects through ``kubectl
get``, then the Slurm state through ``kubectl exec`` into the slurmctld pod, ``scontrol show
partition|node -o``."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Sequence
from typing import Any

import click

from postrender.errors import EXIT_INPUT, Problem, SlinkyError
from postrender.slurm.scontrol import parse_scontrol_oneliners
from postrender.slurm.verify_config import OperatorConfig
from postrender.validate.kubernetes import DNS_SUBDOMAIN

_GROUP = "slinky.slurm.net"
_CONFIG = "cannot read the operator's configuration"
_SLURM = "cannot read the Slurm state"
_HINTS = {
    _CONFIG: "check --namespace and --release (the Controller is named after the release)",
    _SLURM: "check --namespace/--release/--pod, or give the command with --scontrol",
}


def fullname(release: str) -> str:
    """The Slinky chart's fullname: the release if it contains "slurm", else ``<release>-slurm``."""
    return release if "slurm" in release else f"{release}-slurm"


def kubectl_argv(kubectl: str, context: str | None, **names: str) -> list[str]:
    """The kubectl command with its --context, once ``names`` (option: value) are checked.

    The names must be Kubernetes names: ``--pod=--server=https://x`` would otherwise be
    read by kubectl as a flag. The context is any text, always read as --context's value."""
    for option, value in names.items():
        if not DNS_SUBDOMAIN.fullmatch(value):
            raise click.BadParameter(
                f"{value!r} is not a Kubernetes name (lowercase letters, digits, '-', '.')",
                param_hint=f"--{option}",
            )
    try:
        argv = shlex.split(kubectl)
    except ValueError as exc:
        raise click.BadParameter(f"{kubectl!r}: {exc}", param_hint="--kubectl") from None
    return [*argv, "--context", context] if context else argv


def kubectl_scontrol(
    kubectl: str, namespace: str, pod: str, container: str, context: str | None = None
) -> list[str]:
    """``kubectl exec`` into the slurmctld container, up to and including ``scontrol``."""
    argv = kubectl_argv(kubectl, context, namespace=namespace, pod=pod, container=container)
    return [*argv, "exec", "-n", namespace, pod, "-c", container, "--", "scontrol"]


def read_slurm(
    scontrol: Sequence[str], timeout: float = 60.0
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """``scontrol show partition -o`` and ``show node -o`` through the ``scontrol`` argv."""
    outputs = []
    for entity in ("partition", "node"):
        # --all: scontrol otherwise leaves out Hidden=YES partitions.
        argv = [*scontrol, "--all", "show", entity, "-o"]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _read_error(argv, str(exc), _SLURM) from None
        text = done.stdout + done.stderr
        # A cluster without nodes answers "No nodes in the system" (exit 0 or 1 by version).
        if entity == "node" and "No nodes in the system" in text:
            outputs.append("")
            continue
        if done.returncode != 0:
            raise _read_error(argv, done.stderr.strip() or f"exit status {done.returncode}", _SLURM)
        outputs.append(done.stdout)
    return (
        parse_scontrol_oneliners(outputs[0], "PartitionName"),
        parse_scontrol_oneliners(outputs[1], "NodeName"),
    )


def _read_error(argv: Sequence[str], why: str, what: str) -> SlinkyError:
    return SlinkyError(
        [
            Problem(
                f"{shlex.join(argv)}: {why}",
                hint=_HINTS[what],
            )
        ],
        EXIT_INPUT,
        what,
    )


def kubectl_get(kubectl: Sequence[str], namespace: str, what: Sequence[str], timeout: float) -> Any:
    """``kubectl get -n NAMESPACE WHAT -o json``, parsed."""
    argv = [*kubectl, "get", "-n", namespace, *what, "-o", "json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _read_error(argv, str(exc), _CONFIG) from None
    if done.returncode != 0:
        raise _read_error(argv, done.stderr.strip() or f"exit status {done.returncode}", _CONFIG)
    try:
        found = json.loads(done.stdout)
    except ValueError as exc:
        raise _read_error(argv, f"not JSON: {exc}", _CONFIG) from None
    if not isinstance(found, dict):
        raise _read_error(argv, "not a Kubernetes object", _CONFIG)
    return found


def read_operator_config(
    kubectl: Sequence[str], namespace: str, name: str, timeout: float = 60.0
) -> OperatorConfig:
    """What the operator built for the Controller ``name`` (the release's fullname):
    its slurm.conf ConfigMap, the ConfigMaps its configFileRefs name, its NodeSets' pods."""
    configmap = f"{name}-config"
    data = kubectl_get(kubectl, namespace, ["configmap", configmap], timeout).get("data") or {}
    if "slurm.conf" not in data:
        raise _read_error(
            [*kubectl, "get", "-n", namespace, "configmap", configmap],
            "no slurm.conf in its data",
            _CONFIG,
        )
    files = {k: str(v) for k, v in data.items() if k != "slurm.conf"}
    controller = kubectl_get(kubectl, namespace, [f"controllers.{_GROUP}", name], timeout)
    for ref in (controller.get("spec") or {}).get("configFileRefs") or []:
        ref_name = str(ref.get("name"))
        if not DNS_SUBDOMAIN.fullmatch(ref_name):
            # kubectl would read a name like --server=... as a flag
            raise _read_error(
                [*kubectl, "get", "-n", namespace, f"controllers.{_GROUP}", name],
                f"configFileRefs names {ref_name!r}, not a Kubernetes name",
                _CONFIG,
            )
        ref_data = kubectl_get(kubectl, namespace, ["configmap", ref_name], timeout)
        files.update({k: str(v) for k, v in (ref_data.get("data") or {}).items()})
    nodesets = {
        _field(item, "metadata", "name")
        for item in _items(kubectl_get(kubectl, namespace, [f"nodesets.{_GROUP}"], timeout))
        if _field(item, "spec", "controllerRef", "name") == name
    }
    pods = [
        pod
        for pod in _items(kubectl_get(kubectl, namespace, ["pods"], timeout))
        if any(
            isinstance(ref, dict) and ref.get("kind") == "NodeSet" and ref.get("name") in nodesets
            for ref in _field(pod, "metadata", "ownerReferences") or []
        )
    ]
    source = f"ConfigMap {namespace}/{configmap}"
    return OperatorConfig(source, str(data["slurm.conf"]), files, pods)


def _items(listing: Any) -> list[dict[str, Any]]:
    """The objects of a ``kubectl get -o json`` list; whatever is not an object is skipped."""
    items = listing.get("items") if isinstance(listing, dict) else None
    return (
        [item for item in items or [] if isinstance(item, dict)] if isinstance(items, list) else []
    )


def _field(obj: Any, *path: str) -> Any:
    """The value at ``path``, or None where a step is missing or not an object."""
    for step in path:
        obj = obj.get(step) if isinstance(obj, dict) else None
    return obj
