"""Partition profiles: the catalogue users write (docs/profile.md), loaded and checked.

Loading reports every problem at once, each with file, line, key and a hint, then
resolves what the profile leaves to the instance type (``gres: auto``,
``efa_count: auto``) from the bundled instance catalogue.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from postrender.errors import EXIT_PROFILE, Problem, SlinkyError
from postrender.model import catalogue
from postrender.model.profile_doc import TITLE
from postrender.model.profile_read import gres_conf, read_profile
from postrender.model.profile_schema import schema_problems
from postrender.model.slurmconf import Gres, option_problems
from postrender.validate import kubernetes as k8s

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

DEFAULT_HUGEPAGES = "5120Mi"
DEFAULT_MEMORY_REQUEST = "1Gi"
# Fields that describe the node a partition runs on; partitions sharing a NodeSet must agree.
NODE_FIELDS = (
    "nodeSelector",
    "tolerations",
    "labels",
    "annotations",
    "gres",
    "instance_types",
    "efa_enabled",
    "efa_count",
    "hugepages",
    "memory_request",
    "features",
)


# The annotation that selects a NodeSet's partitions (release.ANNOTATION; release imports
# this module). A profile that wrote it would retarget the NodeSet on the next run.
_TARGETING_ANNOTATION = "slinky-pr/partition"


# Plain classes, not dataclasses: see tests/test_import_cost.py.
class Partition:
    """One partition of the catalogue, resolved against the instance catalogue."""

    __slots__ = ("accelerator_resource", "efa", "gres", "name", "options", "spec", "where")

    def __init__(
        self,
        name: str,
        where: str,
        spec: Mapping[str, Any],
        gres: Gres | None = None,
        accelerator_resource: str | None = None,
        efa: int = 0,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.where = where  # "profiles.yaml:12", for messages
        self.spec = spec  # the entry as written
        self.gres = gres
        self.accelerator_resource = accelerator_resource
        self.efa = efa
        self.options: Mapping[str, Any] = {} if options is None else options

    @property
    def label(self) -> str:
        return f"{self.where} partition {self.name}"

    @property
    def nodesets(self) -> list[str]:
        return list(self.spec.get("nodesets", []))

    @property
    def instance_types(self) -> list[str]:
        return list(self.spec.get("instance_types", []))


class Profile:
    """The selected cluster of a catalogue file."""

    __slots__ = ("accounting_tres", "cluster", "gpu_minutes", "gres_conf", "partitions", "path")

    def __init__(
        self,
        path: str,
        cluster: str,
        partitions: dict[str, Partition],
        gres_conf: str | bool = "nvidia",
        accounting_tres: bool | None = None,
        gpu_minutes: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self.cluster = cluster
        self.partitions = partitions
        self.gres_conf = gres_conf
        self.accounting_tres = accounting_tres
        # Slurm account -> GPU-minutes cap (an association limit in slurmdbd).
        self.gpu_minutes = dict(gpu_minutes or {})


def _resolve(entry: Mapping[str, Any], where: str, path: str) -> tuple[Partition, list[Problem]]:
    """Fill in what the instance types decide and check the entry against them."""
    problems: list[Problem] = []
    name = str(entry["name"])

    def bad(message: str, key: str, hint: str | None = None) -> None:
        problems.append(
            Problem(message, profile=f"{where} partition {name}", path=f"{path}.{key}", hint=hint)
        )

    types = []
    # Unknown types are reported once; "needs instance_types" would then mislead.
    named = bool(entry.get("instance_types"))
    for i, type_name in enumerate(entry.get("instance_types", [])):
        info = catalogue.lookup(type_name)
        if info is None:
            close = catalogue.suggest(type_name)
            bad(
                f"instance type {type_name!r} does not exist",
                f"instance_types[{i}]",
                f"did you mean {' or '.join(close)}?" if close else None,
            )
        else:
            types.append(info)

    gres: Gres | None = None
    resource: str | None = None
    spec_gres = entry.get("gres")
    accelerated = [t for t in types if t.accelerator_count]
    if spec_gres == "auto":
        counts = {(t.accelerator_count, t.gpu_name) for t in types}
        if not types:
            if not named:
                bad(
                    "gres: auto needs instance_types",
                    "gres",
                    "name the instance types, or write gpu:8",
                )
        elif not accelerated:
            bad(f"gres: auto, but {types[0].name} has no GPU", "gres")
        elif len(counts) > 1:
            bad("gres: auto, but the instance types differ in GPU count or model", "gres")
        else:
            first = accelerated[0]
            gres_name = "gpu" if first.accelerator_resource == "nvidia.com/gpu" else "neuron"
            gpu_type = catalogue.slurm_gpu_type(first.gpu_name)
            gres = Gres(gres_name, gpu_type, first.accelerator_count)
    elif spec_gres:
        gres = Gres.parse(spec_gres)
        if gres.count < 1:
            bad("GRES count must be at least 1", "gres")
        for t in types:
            if gres.count > t.accelerator_count:
                bad(
                    f"gres asks for {gres.count} but {t.name} has {t.accelerator_count} GPUs",
                    "gres",
                )
            elif (
                gres.type
                and t.gpu_name
                and gres.type not in (slurm_type := str(catalogue.slurm_gpu_type(t.gpu_name)))
            ):
                bad(
                    f"GRES type {gres.type!r} does not match {t.name}'s GPU {t.gpu_name!r}",
                    "gres",
                    f"use gpu:{slurm_type}:{gres.count}",
                )
    if gres:
        resource = next((t.accelerator_resource for t in accelerated), None) or (
            "aws.amazon.com/neuron" if gres.name == "neuron" else "nvidia.com/gpu"
        )

    efa = 0
    if entry.get("efa_enabled"):
        asked = entry.get("efa_count", "auto")
        for t in types:
            if t.max_efa == 0:
                bad(f"efa_enabled, but {t.name} has no EFA interface", "efa_enabled")
            elif asked != "auto" and int(asked) > t.max_efa:
                bad(
                    f"efa_count {asked} is more than {t.name}'s maximum of {t.max_efa}", "efa_count"
                )
        if asked == "auto":
            if types:
                efa = min(t.max_efa for t in types)
            elif not named:
                bad("efa_count: auto needs instance_types", "efa_count", "give efa_count: N")
        else:
            efa = int(asked)
    elif "efa_count" in entry:
        bad("efa_count without efa_enabled: true", "efa_count")

    for key in ("nodeSelector", "labels", "annotations"):
        # Annotation values are free text; only their keys follow the label key rules.
        for problem in k8s.labels_problems(entry.get(key, {}), key, values=key != "annotations"):
            bad(problem.message, problem.path or key)
    if _TARGETING_ANNOTATION in entry.get("annotations", {}):
        bad(
            f"{_TARGETING_ANNOTATION} chooses a NodeSet's partitions; the profile cannot set it",
            f"annotations[{_TARGETING_ANNOTATION}]",
            "annotate the NodeSet in the chart's values, or list its key under nodesets",
        )
    for i, tol in enumerate(entry.get("tolerations", [])):
        for problem in k8s.toleration_problems(tol, f"tolerations[{i}]"):
            bad(problem.message, problem.path or "tolerations")

    for key, value in entry.get("options", {}).items():
        for message, hint in option_problems(key, value):
            bad(message, f"options.{key}", hint)

    partition = Partition(
        name=name,
        where=where,
        spec=entry,
        gres=gres,
        accelerator_resource=resource,
        efa=efa,
        options=dict(entry.get("options", {})),
    )
    return partition, problems


def load_profile(path: str, cluster: str | None = None) -> Profile:
    """Load, validate and resolve a catalogue file; raise one error listing every problem."""
    src = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise SlinkyError(
            [Problem(f"cannot read profile: {exc.strerror}", profile=path)], EXIT_PROFILE
        ) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise SlinkyError(
            [Problem(f"not UTF-8: byte {exc.start} is invalid", profile=f"{path}:{line}")],
            EXIT_PROFILE,
            "invalid partition profile",
        ) from None
    return parse_profile(text, src, cluster)


def parse_profile(text: str, src: str = "<profile>", cluster: str | None = None) -> Profile:
    """Like :func:`load_profile`, from text; ``src`` names the file in messages."""
    title = TITLE
    data, lines, problems = read_profile(text, src)
    problems += schema_problems(data, lines, src)
    if problems:
        raise SlinkyError(problems, EXIT_PROFILE, title)

    clusters: dict[str, tuple[int, Any]] = {}
    for i, entry in enumerate(data["clusters"]):
        first = clusters.get(entry["name"])
        if first is not None:  # a dict comprehension would silently keep the last one
            problems.append(
                Problem(
                    f"cluster {entry['name']!r} is defined twice",
                    profile=f"{src}:{lines.get(('clusters', i), 1)}",
                    path=f"clusters[{i}].name",
                    hint=f"first defined at {src}:{lines.get(('clusters', first[0]), 1)}",
                )
            )
        else:
            clusters[entry["name"]] = (i, entry)
    if problems:
        raise SlinkyError(problems, EXIT_PROFILE, title)
    if cluster is None and len(clusters) > 1:
        raise SlinkyError(
            [
                Problem(
                    f"the file has {len(clusters)} clusters",
                    profile=src,
                    hint=f"choose one with --cluster: {', '.join(clusters)}",
                )
            ],
            EXIT_PROFILE,
            title,
        )
    chosen = cluster or next(iter(clusters))
    if chosen not in clusters:
        raise SlinkyError(
            [
                Problem(
                    f"no cluster named {chosen!r}",
                    profile=src,
                    hint=f"known: {', '.join(clusters)}",
                )
            ],
            EXIT_PROFILE,
            title,
        )
    index, entry = clusters[chosen]
    partitions: dict[str, Partition] = {}
    for i, raw in enumerate(entry["partitions"]):
        path = f"clusters[{index}].partitions[{i}]"
        where = f"{src}:{lines.get(('clusters', index, 'partitions', i), 1)}"
        if raw["name"] in partitions:
            problems.append(
                Problem(
                    f"partition {raw['name']!r} is defined twice",
                    profile=where,
                    path=f"{path}.name",
                    hint=f"first defined at {partitions[raw['name']].where}",
                )
            )
            continue
        partition, found = _resolve(raw, where, path)
        problems += found
        partitions[partition.name] = partition
    defaults = [p for p in partitions.values() if p.options.get("Default") in (True, "YES")]
    if len(defaults) > 1:
        problems.append(
            Problem(
                "more than one partition has Default=YES: " + ", ".join(p.name for p in defaults),
                profile=defaults[1].label,
                hint="Slurm has one default partition",
            )
        )
    if problems:
        raise SlinkyError(problems, EXIT_PROFILE, title)
    return Profile(
        path=src,
        cluster=chosen,
        partitions=partitions,
        gres_conf=gres_conf(entry, text, lines.get(("clusters", index, "gres_conf"))),
        accounting_tres=entry.get("accounting_tres"),
        gpu_minutes=entry.get("gpu_minutes"),
    )
