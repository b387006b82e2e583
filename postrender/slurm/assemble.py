"""What the Slinky operator builds from a post-rendered release: :func:`assemble`.

From the Controller, its NodeSets and the ConfigMaps its ``configFileRefs`` name, rebuild
the slurm.conf lines (NodeSets, partitions, extraConf), each slurmd's ``--conf`` and the
files the Controller mounts, as operator 1.0.1 writes them (held equal to the real
operator by tests/e2e/test_operator_stack.py). postrender.slurm.cluster runs the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from postrender.model.nodeset import nodeset_key
from postrender.model.slurmconf import ConfError, Gres, operator_conf
from postrender.slurm.errors import AssembleError
from postrender.validate.quantity import whole_quantity

NODESET_API = "slinky.slurm.net/v1beta1"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class NodeSetConf:
    """What the operator derives from one NodeSet."""

    key: str
    name: str
    extra_conf: str
    slurmd_conf: str
    gres: tuple[Gres, ...]
    gpu_limit: int | None
    partition_enabled: bool
    partition_config: str
    # spec.replicas: 0 means no pod, hence no slurmd and no Slurm node (a Karpenter pool
    # that never scaled up looks the same to Slurm).
    replicas: int = 1
    # The pod whose slurmd the harness runs, and that pod's slurmd args as the operator
    # wrote them (postrender.slurm.operator); empty: the harness builds them.
    ordinal: int = 0
    slurmd_args: tuple[str, ...] = ()

    @property
    def node_name(self) -> str:
        """Name of the harness's single node (its pod's hostname)."""
        return f"{self.key}-{self.ordinal}"

    def gpu_items(self) -> tuple[Gres, ...]:
        """The ``gpu`` entries of ``Gres=``."""
        return tuple(item for item in self.gres if item.name == "gpu")


@dataclass(frozen=True)
class SlurmRelease:
    """The Slurm configuration a post-rendered release turns into under the operator."""

    cluster_name: str
    nodesets: tuple[NodeSetConf, ...]
    controller_extra_conf: str
    has_accounting: bool
    gres_conf: str | None
    config_files: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # The operator's own slurm.conf (postrender.slurm.operator), run instead of the
    # lines this class renders.
    slurm_conf: str | None = None

    def slurm_conf_body(self) -> str:
        """slurm.conf after the general settings: accounting, NodeSets, partitions, extraConf."""
        lines: list[str] = []
        if self.has_accounting:
            lines.append("AccountingStorageType=accounting_storage/slurmdbd")
        else:
            lines.append("AccountingStorageType=accounting_storage/none")
        # The operator sorts NodeSets by object name before writing their lines.
        for nodeset in sorted(self.nodesets, key=lambda n: n.name):
            lines.append(f"NodeSet={nodeset.key} Feature={nodeset.key}")
            if nodeset.partition_enabled:
                lines.append(
                    f"PartitionName={nodeset.key} Nodes={nodeset.key} {nodeset.partition_config}"
                )
        if self.controller_extra_conf:
            lines.append(self.controller_extra_conf)
        return "\n".join(lines) + "\n"

    def render_slurm_conf(self, general: Sequence[tuple[str, str]]) -> str:
        """Full slurm.conf: ``general`` settings first, then :meth:`slurm_conf_body`."""
        head = "".join(f"{key}={value}\n" for key, value in general)
        return head + self.slurm_conf_body()


def operator_slurmd_conf(extra_conf: str, key: str) -> str:
    """The ``slurmd --conf`` line the operator builds from a NodeSet's ``extraConf``.

    Keys are title-cased and repeated keys comma-merged in order; ``Feature``/``Features``
    are folded into one ``Features=`` that starts with the NodeSet key, the others after
    it as written (operators 1.0.1 and 1.1.0 neither sort nor de-duplicate them; held
    equal to the real operator by tests/e2e/test_operator_stack.py). Tokens are sorted as
    the operator does. Spacing the 1.0.1-1.2.1 operators panic on (double, leading or
    trailing spaces, tabs, newlines, no ``=``) raises :class:`AssembleError`.
    """
    if extra_conf != " ".join(extra_conf.split()):
        raise AssembleError(
            f"NodeSet {key}: extraConf {extra_conf!r} has a newline, tab, double, leading or "
            "trailing space (operators 1.0.1-1.2.1 panic on it)"
        )
    tokens = []
    for token in extra_conf.split(" ") if extra_conf else []:
        name, sep, value = token.partition("=")
        if not sep or not name or any(c.isspace() for c in token):
            raise AssembleError(
                f"NodeSet {key}: extraConf token {token!r} is not Key=Value "
                "(operators 1.0.1-1.2.1 panic on it)"
            )
        tokens.append((name, value))
    merged = operator_conf(tokens)
    merged["Features"] = [key, *merged.get("Features", [])]
    return " ".join(sorted(f"{k}={','.join(v)}" for k, v in merged.items()))


def _gpu_limit(spec: Mapping[str, Any]) -> int | None:
    """The slurmd container's ``nvidia.com/gpu`` limit, if any."""
    resources = ((spec.get("slurmd") or {}).get("resources")) or {}
    limits = resources.get("limits") or {}
    value = limits.get(GPU_RESOURCE)
    if value is None:
        return None
    whole = whole_quantity(value)
    if whole is None:
        raise AssembleError(f"{GPU_RESOURCE} limit {value!r} is not an integer")
    return whole


def _replicas(spec: Mapping[str, Any], key: str) -> int:
    """``spec.replicas`` (the CRD defaults it to 1)."""
    value = spec.get("replicas", 1)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AssembleError(f"NodeSet {key}: replicas {value!r} is not a count")
    return value


def conf_gres(line: str, where: str) -> tuple[Gres, ...]:
    """The ``Gres=`` entries of a slurmd ``--conf`` line (``where`` names it in errors)."""
    for token in line.split(" "):
        name, _, value = token.partition("=")
        if name == "Gres":
            try:
                return tuple(Gres.parse(part) for part in value.split(","))
            except ConfError as exc:
                raise AssembleError(f"{where}: {exc}") from exc
    return ()


def assemble(stream_text: str) -> SlurmRelease:
    """Build, from a post-rendered Helm stream, the Slurm configuration the operator would.

    Reads the Controller (``extraConf``, ``configFileRefs``), every NodeSet, the
    ConfigMaps the Controller references and whether an Accounting object exists.
    """
    docs = [d for d in yaml.safe_load_all(stream_text) if d is not None]
    controllers = [d for d in docs if _is(d, "Controller")]
    if len(controllers) != 1:
        raise AssembleError(f"expected one Controller, found {len(controllers)}")
    controller = controllers[0]
    cspec = controller.get("spec") or {}
    cname = str((controller.get("metadata") or {}).get("name") or "slurm")
    warnings: list[str] = []

    nodesets: list[NodeSetConf] = []
    for doc in docs:
        if not _is(doc, "NodeSet"):
            continue
        spec = doc.get("spec") or {}
        ref = (spec.get("controllerRef") or {}).get("name")
        if ref and ref != cname:
            continue
        key = nodeset_key(doc)
        extra = spec.get("extraConf") or ""
        if not isinstance(extra, str):
            raise AssembleError(f"NodeSet {key}: extraConf is not a string")
        slurmd_conf = operator_slurmd_conf(extra, key)
        gres = conf_gres(slurmd_conf, f"NodeSet {key}")
        limit = _gpu_limit(spec)
        gpus = sum(item.count for item in gres if item.name == "gpu")
        if gpus and limit is None:
            warnings.append(
                f"NodeSet {key}: Gres asks {gpus} GPU(s) but slurmd has no {GPU_RESOURCE} "
                "limit, so its pod sees no GPU"
            )
        partition = spec.get("partition") or {}
        nodesets.append(
            NodeSetConf(
                key=key,
                name=str((doc.get("metadata") or {}).get("name") or key),
                extra_conf=extra,
                slurmd_conf=slurmd_conf,
                gres=gres,
                gpu_limit=limit,
                partition_enabled=bool(partition.get("enabled")),
                partition_config=str(partition.get("config") or ""),
                replicas=_replicas(spec, key),
            )
        )
    keys = [n.key for n in nodesets]
    if len(set(keys)) != len(keys):
        raise AssembleError(f"two NodeSets share a Slurm name: {sorted(keys)}")

    files: dict[str, str] = {}
    configmaps = {
        str((d.get("metadata") or {}).get("name")): d for d in docs if _is(d, "ConfigMap", "v1")
    }
    for ref in cspec.get("configFileRefs") or []:
        ref_name = str((ref or {}).get("name") or "")
        configmap = configmaps.get(ref_name)
        if configmap is None:
            warnings.append(f"configFileRefs names ConfigMap {ref_name!r}, not in the stream")
            continue
        for fname, text in (configmap.get("data") or {}).items():
            if fname in files:
                raise AssembleError(f"{fname} comes from two ConfigMaps")
            files[str(fname)] = str(text)

    extra_conf = cspec.get("extraConf") or ""
    if not isinstance(extra_conf, str):
        raise AssembleError("Controller extraConf is not a string")
    return SlurmRelease(
        cluster_name=_cluster_name(cname),
        nodesets=tuple(nodesets),
        controller_extra_conf=extra_conf.rstrip("\n"),
        has_accounting=any(_is(d, "Accounting") for d in docs),
        gres_conf=files.get("gres.conf"),
        config_files=files,
        warnings=tuple(warnings),
    )


def _is(doc: Any, kind: str, api: str = NODESET_API) -> bool:
    """Whether ``doc`` is a mapping of that kind (and API version)."""
    return isinstance(doc, dict) and doc.get("kind") == kind and doc.get("apiVersion") == api


def _cluster_name(name: str) -> str:
    """A ClusterName slurmctld accepts (lower case, no dashes or dots)."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return cleaned[:40] or "slurm"
