"""What every lint rule reads: the release, the profile and the cluster, indexed once.

Building the context reads each input once: the stream (post-rendered when the profile
applies, since that is what gets deployed), the profile (its load problems kept, not
raised), and the cluster-object files. Derived views (NodeSets with their selector,
resources and GRES; node sources; which sources a selector can reach) are computed on first
use and cached, so rules never re-parse and a 2,000-NodeSet release is matched against the
node pools once per distinct nodeSelector.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from postrender.errors import Problem
from postrender.lint import cluster
from postrender.lint.cluster import INSTANCE_TYPE, NodeSource
from postrender.lint.finding import Finding
from postrender.lint.nodesets import NodeSetView
from postrender.lint.objects import Obj, as_map, dig, ignore_ids
from postrender.model import catalogue
from postrender.model.catalogue import InstanceType
from postrender.model.nodeset import nodeset_key
from postrender.model.profiles import Partition, Profile
from postrender.model.slurmconf import conf_lines, line_tokens
from postrender.select import SLINKY_GROUP, partition_annotation

# "profiles.yaml:12 partition gpu-partition", as profiles.py writes Problem.profile.
_PROFILE_WHERE = re.compile(r"^(?P<file>.*?)(?::(?P<line>\d+))?(?: partition (?P<partition>.+))?$")
# "clusters[0].partitions[3].instance_types[0]": the partition field a problem is about.
_PARTITION_FIELD = re.compile(r"partitions\[\d+\]\.(?P<field>[A-Za-z_]+)")


def _annotation(body: dict[str, Any]) -> str | None:
    try:
        return partition_annotation(body)
    except (AttributeError, TypeError):  # as above
        return None


@dataclass(frozen=True)
class PartitionLine:
    """One Slurm partition as the release defines it, and where."""

    obj: Obj
    path: str  # "spec.extraConf" (Controller) or "spec.partition.config" (NodeSet)
    name: str
    tokens: dict[str, str]  # Key=Value options, keys as written


@dataclass(frozen=True)
class Candidates:
    """The instance types a NodeSet can run on, and what says so (for messages)."""

    types: list[InstanceType]
    origin: str


@dataclass
class LintContext:
    """The inputs of one lint run. Rules only read it."""

    release: list[Obj] = field(default_factory=list)
    cluster_objects: list[Obj] = field(default_factory=list)
    profile: Profile | None = None
    profile_file: str | None = None  # as given on the command line
    profile_problems: list[Problem] = field(default_factory=list)
    plan_problems: list[Problem] = field(default_factory=list)
    post_rendered: bool = False
    routes: Mapping[str, str] = field(default_factory=dict)  # profile field -> rule ID
    _matches: dict[frozenset[tuple[str, str]], list[NodeSource]] = field(
        default_factory=dict, repr=False
    )

    # --- the release -------------------------------------------------------------------

    def _slinky(self, kind: str) -> list[Obj]:
        return [
            o for o in self.release if o.kind == kind and o.api_version.startswith(SLINKY_GROUP)
        ]

    @cached_property
    def nodesets(self) -> list[NodeSetView]:
        views = []
        for obj in self._slinky("NodeSet"):
            pending = not self.post_rendered and _annotation(obj.body) is not None
            views.append(NodeSetView(obj, tuple(self._partitions_of(obj)), pending))
        return views

    @cached_property
    def placed(self) -> list[NodeSetView]:
        """NodeSets whose nodeSelector, tolerations and resources are final.

        All of them once the profile is applied. When it cannot be (SPR-P001, SPR-P002),
        helm would deploy nothing and the profile will still change the NodeSets it
        targets: placement rules wait for it rather than report on the chart's defaults.
        """
        return [ns for ns in self.nodesets if not ns.pending]

    @cached_property
    def controllers(self) -> list[Obj]:
        return self._slinky("Controller")

    @cached_property
    def has_accounting(self) -> bool:
        return bool(self._slinky("Accounting"))

    @cached_property
    def configmaps(self) -> dict[str, Obj]:
        return {o.name: o for o in self.release if o.kind == "ConfigMap" and o.api_version == "v1"}

    @cached_property
    def nodeset_keys(self) -> set[str]:
        return {ns.key for ns in self.nodesets}

    def _partitions_of(self, obj: Obj) -> Iterator[Partition]:
        """Profile partitions targeting a NodeSet: by annotation, or listing its key."""
        if self.profile is None:
            return
        partitions = self.profile.partitions
        names = [n.strip() for n in (_annotation(obj.body) or "").split(",")]
        seen = set()
        for name in names:
            if name in partitions and name not in seen:
                seen.add(name)
                yield partitions[name]
        key = nodeset_key(obj.body)
        for partition in partitions.values():
            if key in partition.nodesets and partition.name not in seen:
                seen.add(partition.name)
                yield partition

    @cached_property
    def partition_lines(self) -> list[PartitionLine]:
        """Every partition definition: Controller ``PartitionName=`` lines, NodeSet partitions."""
        lines = []
        for controller in self.controllers:
            block = dig(controller.body, "spec", "extraConf")
            for text in conf_lines(block if isinstance(block, str) else None):
                tokens = line_tokens(text)
                name = next((v for k, v in tokens.items() if k.lower() == "partitionname"), None)
                if name:
                    lines.append(PartitionLine(controller, "spec.extraConf", name, tokens))
        for ns in self.nodesets:
            partition = as_map(dig(ns.obj.body, "spec", "partition"))
            config = partition.get("config")
            if partition.get("enabled") and isinstance(config, str):
                tokens = line_tokens(config)
                lines.append(PartitionLine(ns.obj, "spec.partition.config", ns.key, tokens))
        return lines

    # --- the cluster -------------------------------------------------------------------

    @cached_property
    def infra(self) -> list[Obj]:
        """Objects that describe nodes: the cluster objects, and any NodePool, EC2NodeClass
        or eksctl config the release carries itself (slinky-pr can generate NodePools)."""
        carried = [o for o in self.release if cluster.is_infra(o)]
        return [*self.cluster_objects, *carried]

    @cached_property
    def cluster_known(self) -> bool:
        """Whether the user described where nodes come from (NodePools or node groups given).

        NodePools the release carries alone do not say it: static node groups may exist.
        """
        return any(cluster.is_nodepool(o) or cluster.is_eksctl(o) for o in self.cluster_objects)

    @cached_property
    def node_sources(self) -> list[NodeSource]:
        return cluster.node_sources(self.infra)

    @cached_property
    def efa_plugins(self) -> list[Obj]:
        return [o for o in self.infra if cluster.is_efa_plugin(o)]

    def sources_for(self, ns: NodeSetView) -> list[NodeSource]:
        """The node sources whose nodes satisfy the NodeSet's nodeSelector (cached per selector)."""
        key = frozenset(ns.placement.items())
        found = self._matches.get(key)
        if found is None:
            found = [s for s in self.node_sources if not s.unmet(ns.placement)]
            self._matches[key] = found
        return found

    def only_source(self, ns: NodeSetView) -> NodeSource | None:
        """The one source the NodeSet's pods can land on, if its selector pins exactly one."""
        found = self.sources_for(ns)
        return found[0] if len(found) == 1 else None

    def candidates(self, ns: NodeSetView) -> Candidates | None:
        """Instance types the NodeSet runs on: its selector, its profile, or its pools."""
        named = ns.selector.get(INSTANCE_TYPE)
        if named is not None:
            found = catalogue.lookup(named)
            return Candidates([found], f"nodeSelector {INSTANCE_TYPE}") if found else None
        owner = ns.spec_value("instance_types")
        if owner:
            types = [t for t in map(catalogue.lookup, owner[1]) if t is not None]
            if types:
                return Candidates(types, f"partition {owner[0].name} instance_types")
        sources = self.sources_for(ns)
        types = [t for s in sources for t in s.types_for(ns.placement)]
        if types:
            return Candidates(types, ", ".join(s.label for s in sources))
        return None

    # --- the profile -------------------------------------------------------------------

    def profile_finding(self, problem: Problem) -> Finding:
        """A profile load problem as a finding on ``Partition/<name>`` (or the file)."""
        where = _PROFILE_WHERE.match(problem.profile or "")
        partition = where["partition"] if where else None
        line = int(where["line"]) if where and where["line"] else None
        name = os.path.basename(self.profile_file or (where["file"] if where else "") or "profile")
        return Finding(
            problem.message,
            f"Partition/{partition}" if partition else f"Profile/{name}",
            path=problem.path,
            hint=problem.hint,
            file=self.profile_file,
            line=line,
        )

    def profile_field(self, problem: Problem) -> str | None:
        """The partition field a per-partition problem is about (``instance_types``, ...)."""
        if " partition " not in (problem.profile or ""):
            return None  # schema and file-level problems: SPR-P001
        match = _PARTITION_FIELD.search(problem.path or "")
        return match["field"] if match else None

    def profile_findings(self, rule_id: str) -> Iterator[Finding]:
        """The profile load problems routed to ``rule_id`` by its ``PROFILE_FIELDS``."""
        for problem in self.profile_problems:
            name = self.profile_field(problem)
            if name is not None and self.routes.get(name) == rule_id:
                yield self.profile_finding(problem)

    def partition_ignored(self, partition: str) -> frozenset[str]:
        """Rules suppressed by a partition's own ``annotations`` (they reach its pods too)."""
        if self.profile is None or partition not in self.profile.partitions:
            return frozenset()
        return ignore_ids(self.profile.partitions[partition].spec.get("annotations"))
