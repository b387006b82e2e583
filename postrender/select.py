"""The release as slinky-pr sees it: which NodeSets a profile targets, and the Controller.

A NodeSet is targeted when its ``slinky-pr/partition`` annotation (on the NodeSet,
or only on its pod template in chart 1.0.x) names profile partitions, or when a
partition lists its key under ``nodesets``. Several partitions may share a NodeSet;
the node-level settings they imply must then agree.
"""

from __future__ import annotations

import re

from postrender.errors import EXIT_PLAN, Problem, SlinkyError
from postrender.model.nodeset import nodeset_hostname, nodeset_key
from postrender.model.profiles import NODE_FIELDS, Partition, Profile
from postrender.model.slurmconf import Gres
from postrender.yaml.stream import Document, Stream

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

ANNOTATION = "slinky-pr/partition"
_KEY = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SLINKY_GROUP = "slinky.slurm.net/"


# Plain classes, not dataclasses: see tests/test_import_cost.py.
class Target:
    """A NodeSet and the partitions it belongs to."""

    __slots__ = ("doc", "key", "owners", "partitions", "prefix")

    def __init__(
        self,
        doc: Document,
        prefix: list[str | int],
        key: str,
        partitions: list[Partition],
        owners: dict[str, Partition] | None = None,
    ) -> None:
        self.doc = doc
        self.prefix = prefix  # path of the NodeSet inside the document ([] or [items, i])
        self.key = key
        self.partitions = partitions
        # node field -> partition
        self.owners: dict[str, Partition] = {} if owners is None else owners

    @property
    def obj(self) -> dict[str, Any]:
        node: Any = self.doc.body
        for part in self.prefix:
            node = node[part]
        return node  # type: ignore[no-any-return]

    @property
    def gres(self) -> Gres | None:
        """The GRES this NodeSet advertises, if any partition sets one."""
        owner = self.owners.get("gres")
        return owner.gres if owner else None

    def owner(self, name: str) -> Partition | None:
        """The partition that sets node-level field ``name`` for this NodeSet."""
        return self.owners.get(name)


class SlinkyObject:
    """Any Slinky or core object found in the stream, with where it sits."""

    __slots__ = ("doc", "obj", "prefix")

    def __init__(self, doc: Document, prefix: list[str | int], obj: dict[str, Any]) -> None:
        self.doc = doc
        self.prefix = prefix
        self.obj = obj


class Release:
    """Targets plus the objects transforms need to find."""

    __slots__ = (
        "configmaps",
        "controllers",
        "has_accounting",
        "nodesets",
        "notes",
        "profile",
        "stream",
        "targets",
    )

    def __init__(
        self,
        stream: Stream,
        profile: Profile,
        targets: list[Target],
        controllers: list[SlinkyObject],
        nodesets: list[SlinkyObject],
        configmaps: list[SlinkyObject],
        has_accounting: bool,
        notes: list[str] | None = None,
    ) -> None:
        self.stream = stream
        self.profile = profile
        self.targets = targets
        self.controllers = controllers
        self.nodesets = nodesets
        self.configmaps = configmaps
        self.has_accounting = has_accounting
        self.notes: list[str] = [] if notes is None else notes

    @property
    def gres_tres(self) -> bool:
        """Whether GRES usage is accounted as TRES: the profile says so, else an Accounting
        object (slurmdbd) is in the release."""
        asked = self.profile.accounting_tres
        return asked if asked is not None else self.has_accounting

    @property
    def controller(self) -> SlinkyObject | None:
        return self.controllers[0] if self.controllers else None


_CHART_VERSION = re.compile(r"-v?([0-9]+)\.([0-9]+)\.([0-9]+)")


def chart_version(obj: dict[str, Any]) -> tuple[int, int, int] | None:
    """The Slinky chart version an object was rendered by (its ``helm.sh/chart`` label,
    ``slurm-1.1.2``), which is the operator release it is made for; None if unlabelled."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    chart = labels.get("helm.sh/chart") if isinstance(labels, dict) else None
    match = _CHART_VERSION.search(chart) if isinstance(chart, str) else None
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def operator_writes_gres_defaults(obj: dict[str, Any]) -> bool:
    """Whether the operator of this Controller's chart writes ``GresTypes=gpu`` (and, with an
    Accounting, ``AccountingStorageTRES=gres/gpu``) into slurm.conf itself, before the
    Controller extraConf: operators 1.0 and 1.1 do, later ones do not."""
    version = chart_version(obj)
    return version is not None and (1, 0, 0) <= version < (1, 2, 0)


def partition_annotation(obj: dict[str, Any]) -> str | None:
    """The slinky-pr/partition annotation, from the NodeSet or (chart 1.0.x) its template."""
    for meta in (
        obj.get("metadata"),
        ((obj.get("spec") or {}).get("template") or {}).get("metadata"),
    ):
        annotations = (meta or {}).get("annotations") if isinstance(meta, dict) else None
        if isinstance(annotations, dict) and annotations.get(ANNOTATION):
            return str(annotations[ANNOTATION])
    return None


def _owners(target: Target, problems: list[Problem]) -> None:
    for name in NODE_FIELDS:
        for partition in target.partitions:
            if name not in partition.spec:
                continue
            first = target.owners.get(name)
            if first is None:
                target.owners[name] = partition
            elif first.spec[name] != partition.spec[name]:
                problems.append(
                    Problem(
                        f"partitions {first.name} and {partition.name} share this NodeSet "
                        f"but disagree on {name}",
                        document=target.doc.label,
                        profile=partition.label,
                        hint=f"give {name} the same value in both, or set it in one only",
                    )
                )


def build_release(stream: Stream, profile: Profile) -> Release:
    """Find the targets and the objects transforms need; all targeting errors at once."""
    problems: list[Problem] = []
    controllers, nodesets, configmaps = [], [], []
    has_accounting = False
    for doc in stream.documents:
        for pointer_prefix, obj in doc.objects():
            prefix: list[str | int] = (
                ["items", int(pointer_prefix.rsplit("/", 1)[1])] if pointer_prefix else []
            )
            kind, api = obj.get("kind"), str(obj.get("apiVersion", ""))
            found = SlinkyObject(doc, prefix, obj)
            if api.startswith(SLINKY_GROUP):
                if kind == "Controller":
                    controllers.append(found)
                elif kind == "NodeSet":
                    nodesets.append(found)
                elif kind == "Accounting":
                    has_accounting = True
            elif kind == "ConfigMap" and api == "v1":
                configmaps.append(found)

    by_key: dict[str, list[Partition]] = {}
    for partition in profile.partitions.values():
        for key in partition.nodesets:
            by_key.setdefault(key, []).append(partition)

    targets = []
    for found in nodesets:
        key = nodeset_key(found.obj)
        chosen: list[Partition] = []
        annotation = partition_annotation(found.obj)
        for name in (n.strip() for n in (annotation or "").split(",")):
            if not name:
                continue
            if name not in profile.partitions:
                problems.append(
                    Problem(
                        f"annotation {ANNOTATION} names partition {name!r}, which the profile "
                        f"({profile.path}, cluster {profile.cluster}) does not define",
                        document=found.doc.label,
                        path="metadata.annotations",
                        hint="known partitions: " + ", ".join(profile.partitions),
                    )
                )
            elif profile.partitions[name] not in chosen:
                chosen.append(profile.partitions[name])
        chosen += [p for p in by_key.get(key, []) if p not in chosen]
        # The key becomes Nodes=<key> in slurm.conf: nothing else may ride along, and a
        # hostname the operator would cut at whitespace is refused, not silently shortened.
        shown = (nodeset_hostname(found.obj) or "").strip("-") or key
        if chosen and not (_KEY.fullmatch(key) and shown == key):
            problems.append(
                Problem(
                    f"NodeSet key {shown!r} (spec.template.spec.hostname) is not a DNS label",
                    document=found.doc.label,
                    path="spec.template.spec.hostname",
                    hint="use lowercase letters, digits and '-' (the chart's nodesets.<key>)",
                )
            )
            continue
        if chosen:
            target = Target(found.doc, found.prefix, key, chosen)
            _owners(target, problems)
            targets.append(target)

    # A catalogue may serve several releases: a key this release lacks is only a note.
    keys = {nodeset_key(n.obj) for n in nodesets}
    notes = [
        f"{partition.label}: lists NodeSet {key!r}, which this release does not render "
        f"(it has: {', '.join(sorted(keys)) or 'none'})"
        for key, partitions in by_key.items()
        if key not in keys
        for partition in partitions
    ]
    if problems:
        raise SlinkyError(problems, EXIT_PLAN, "the profile does not fit this release")
    return Release(
        stream, profile, targets, controllers, nodesets, configmaps, has_accounting, notes
    )
