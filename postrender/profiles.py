"""Partition profiles: the catalogue users write (DOMAIN.md §1), loaded and checked.

Loading reports every problem at once, each with file, line, key and a hint, then
resolves what the profile leaves to the instance type (``gres: auto``,
``efa_count: auto``) from the bundled instance catalogue.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from postrender import catalogue, k8s
from postrender.errors import EXIT_PROFILE, Problem, SlinkyError
from postrender.resources import schema_text
from postrender.slurmconf import Gres

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


class _ProfileLoader(yaml.CSafeLoader):
    """libyaml's parser (the pure-Python one costs more than the whole post-render of a
    typical release), YAML 1.1 without sexagesimal integers: ``DefaultTime: 30:00`` stays
    a string."""


_ProfileLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}
_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+)$"),
    list("-+0123456789"),
)

Path = tuple[str | int, ...]

# Bounds on the node graph, checked while it is turned into values: aliases can make it
# a cycle or a billion laughs, and every step below (schema validation too) recurses.
MAX_PROFILE_DEPTH = 64
MAX_PROFILE_NODES = 200_000
# The annotation that selects a NodeSet's partitions (release.ANNOTATION; release imports
# this module). A profile that wrote it would retarget the NodeSet on the next run.
_TARGETING_ANNOTATION = "slinky-pr/partition"


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _Refused(Exception):
    """A value the loader cannot turn into data; aborts building with one problem."""

    def __init__(self, message: str, node: yaml.Node, hint: str | None = None) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.hint = hint


def _text(value: str, node: yaml.Node) -> str:
    """A ``"\\ud800"`` escape yields a string no encoder (nor the validator) accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused("text with a lone surrogate escape (\\uD800-\\uDFFF)", node) from None
    return value


def _scalar(loader: _ProfileLoader, node: yaml.Node) -> Any:
    """A scalar as JSON-compatible data (what the schema validator accepts)."""
    try:
        value = loader.construct_object(node)
    except yaml.YAMLError as exc:  # a tag with no safe constructor: !!python/...
        raise _Refused(str(getattr(exc, "problem", None) or "unreadable value"), node) from None
    except Exception as exc:  # bad tagged scalars raise KeyError, ValueError, ...
        raise _Refused(f"cannot read this value ({type(exc).__name__})", node) from None
    if isinstance(value, str):
        return _text(value, node)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused(f"{value} is not a finite number", node)  # JSON has no inf or nan
    if not isinstance(value, (int, float, type(None))):  # bool is an int
        raise _Refused(
            f"a YAML {type(value).__name__} is not a profile value", node, "quote it as a string"
        )
    return value


def _format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _build(
    loader: _ProfileLoader,
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    problems: list[Problem],
    src: str,
    walk: list[int] | None = None,
    open_nodes: set[int] | None = None,
) -> Any:
    """Node tree to Python values, recording each path's line and flagging duplicate keys.

    ``walk`` counts nodes visited (aliases re-visit theirs) and ``open_nodes`` holds the
    collections being built, to refuse bombs and recursive aliases before they hang.
    """
    walk = [0] if walk is None else walk
    open_nodes = set() if open_nodes is None else open_nodes
    walk[0] += 1
    if walk[0] > MAX_PROFILE_NODES:
        raise _Refused(f"more than {MAX_PROFILE_NODES} values (aliases expanded)", node)
    if len(path) > MAX_PROFILE_DEPTH:
        raise _Refused(f"nested deeper than {MAX_PROFILE_DEPTH} levels", node)
    if id(node) in open_nodes:
        raise _Refused("recursive alias", node)
    lines[path] = node.start_mark.line + 1
    if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        return _scalar(loader, node)
    if node.tag not in (_MAP_TAG, _SEQ_TAG):  # built as plain maps and lists: a tag would lie
        raise _Refused(f"tag {node.tag} is not allowed in a profile", node)
    open_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        out_list = [
            _build(loader, n, (*path, i), lines, problems, src, walk, open_nodes)
            for i, n in enumerate(node.value)
        ]
        open_nodes.discard(id(node))
        return out_list
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Refused("a mapping key must be a scalar", key_node)
        key = _text(key_node.value, key_node)  # as written: "1: x" is the key "1"
        if key in out:
            problems.append(
                Problem(
                    f"duplicate key {key!r}",
                    profile=f"{src}:{key_node.start_mark.line + 1}",
                    path=_format_path((*path, key)),
                    hint="YAML keeps only the last one; remove the other",
                )
            )
        out[key] = _build(loader, value_node, (*path, key), lines, problems, src, walk, open_nodes)
    open_nodes.discard(id(node))
    return out


@cache
def _schema() -> dict[str, Any]:
    text = schema_text("profile.schema.json")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema_at(schema: dict[str, Any], schema_path: list[str | int]) -> dict[str, Any]:
    node: Any = schema
    for part in schema_path[:-1]:
        node = node[part]
    return node if isinstance(node, dict) else {}


@dataclass(frozen=True)
class Partition:
    """One partition of the catalogue, resolved against the instance catalogue."""

    name: str
    where: str  # "profiles.yaml:12", for messages
    spec: Mapping[str, Any]  # the entry as written
    gres: Gres | None = None
    accelerator_resource: str | None = None
    efa: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.where} partition {self.name}"

    @property
    def nodesets(self) -> list[str]:
        return list(self.spec.get("nodesets", []))

    @property
    def instance_types(self) -> list[str]:
        return list(self.spec.get("instance_types", []))


@dataclass(frozen=True)
class Profile:
    """The selected cluster of a catalogue file."""

    path: str
    cluster: str
    partitions: dict[str, Partition]
    gres_conf: str | bool = "nvidia"
    accounting_tres: bool | None = None


def _check_schema(data: Any, lines: dict[Path, int], src: str) -> list[Problem]:
    import jsonschema_rs

    schema = _schema()
    problems = []
    for error in jsonschema_rs.validator_for(schema).iter_errors(data):
        path: Path = tuple(error.instance_path)
        line = lines.get(path) or lines.get(path[:-1]) or 1
        message, hint = error.message, None
        unexpected = getattr(error.kind, "unexpected", None)
        if unexpected:
            import difflib  # only for a profile with unknown keys: not on the happy path

            known = list(_schema_at(schema, list(error.schema_path)).get("properties", {}))
            for key in unexpected:
                line = lines.get((*path, key), line)
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
                problems.append(
                    Problem(
                        f"unknown key {key!r}",
                        profile=f"{src}:{line}",
                        path=_format_path((*path, key)),
                        hint=hint,
                    )
                )
            continue
        schema_path = list(error.schema_path)
        described = _schema_at(schema, schema_path).get("description")
        if schema_path and schema_path[-1] in ("oneOf", "anyOf"):
            message = f"{json.dumps(error.instance)} is not an accepted value"
        if isinstance(error.instance, bool) and "string" in message:
            hint = f'quote it: "{str(error.instance).lower()}"'
        problems.append(
            Problem(
                message,
                profile=f"{src}:{line}",
                path=_format_path(path),
                hint=hint or (f"expected {described}" if described else None),
            )
        )
    return sorted(problems, key=lambda p: int((p.profile or ":0").rsplit(":", 1)[1]))


def _resolve(entry: Mapping[str, Any], where: str, path: str) -> tuple[Partition, list[Problem]]:
    """Fill in what the instance types decide and check the entry against them."""
    problems: list[Problem] = []
    name = str(entry["name"])

    def bad(message: str, key: str, hint: str | None = None) -> None:
        problems.append(
            Problem(message, profile=f"{where} partition {name}", path=f"{path}.{key}", hint=hint)
        )

    types = []
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
            bad(
                "gres: auto needs instance_types", "gres", "name the instance types, or write gpu:8"
            )
        elif not accelerated:
            bad(f"gres: auto, but {types[0].name} has no GPU", "gres")
        elif len(counts) > 1:
            bad("gres: auto, but the instance types differ in GPU count or model", "gres")
        else:
            first = accelerated[0]
            gres_name = "gpu" if first.accelerator_resource == "nvidia.com/gpu" else "neuron"
            gres = Gres(gres_name, first.gpu_name or None, first.accelerator_count)
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
            elif gres.type and t.gpu_name and gres.type not in t.gpu_name:
                bad(
                    f"GRES type {gres.type!r} does not match {t.name}'s GPU {t.gpu_name!r}",
                    "gres",
                    f"use gpu:{t.gpu_name}:{gres.count}",
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
            else:
                bad("efa_count: auto needs instance_types", "efa_count", "give efa_count: N")
        else:
            efa = int(asked)
    elif "efa_count" in entry:
        bad("efa_count without efa_enabled: true", "efa_count")

    for key in ("nodeSelector", "labels"):
        for sub, message in k8s.labels_problems(entry.get(key, {})):
            bad(message, key + sub)
    for sub, message in k8s.labels_problems(entry.get("annotations", {}), values=False):
        bad(message, "annotations" + sub)
    if _TARGETING_ANNOTATION in entry.get("annotations", {}):
        bad(
            f"{_TARGETING_ANNOTATION} chooses a NodeSet's partitions; the profile cannot set it",
            f"annotations[{_TARGETING_ANNOTATION}]",
            "annotate the NodeSet in the chart's values, or list its key under nodesets",
        )
    for i, tol in enumerate(entry.get("tolerations", [])):
        for sub, message in k8s.toleration_problems(tol):
            bad(message, f"tolerations[{i}]{sub}")

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
    title = "invalid partition profile"
    lines: dict[Path, int] = {}
    problems: list[Problem] = []
    try:
        loader = _ProfileLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise SlinkyError(
                [Problem("the profile file is empty", profile=src)], EXIT_PROFILE, title
            )
        data = _build(loader, node, (), lines, problems, src)
    except yaml.reader.ReaderError as exc:  # libyaml gives a byte offset, not a line
        line = text.encode("utf-8", "surrogatepass")[: exc.position].count(b"\n") + 1
        raise SlinkyError(
            [Problem(f"invalid YAML: {exc.reason}", profile=f"{src}:{line}")], EXIT_PROFILE, title
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{src}:{mark.line + 1}" if mark else src
        reason = getattr(exc, "problem", None) or str(exc)
        raise SlinkyError(
            [Problem(f"invalid YAML: {reason}", profile=where)], EXIT_PROFILE, title
        ) from None
    except _Refused as exc:
        raise SlinkyError(
            [Problem(str(exc), profile=f"{src}:{exc.line}", hint=exc.hint)], EXIT_PROFILE, title
        ) from None
    problems += _check_schema(data, lines, src)
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
        gres_conf=entry.get("gres_conf", "nvidia"),
        accounting_tres=entry.get("accounting_tres"),
    )
