"""Kubernetes validation rules for the schemaless parts slinky-pr writes.

The NodeSet CRD leaves the pod template unchecked (x-kubernetes-preserve-unknown-fields),
so a bad label or toleration would pass admission and fail only when pods are created.
The checks yield :class:`~postrender.errors.Problem` values located by field path (``at``,
the path of the value checked, is its start); callers attach the document or profile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from postrender.errors import Problem
from postrender.validate.quantity import same_quantity, whole_quantity

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Extended resources slinky-pr writes, beyond hugepages-*: integers, requests = limits.
EXTENDED_PREFIXES = ("nvidia.com/", "aws.amazon.com/", "vpc.amazonaws.com/")

_INT64 = 1 << 63
MAX_NAME = 253  # an object name: a DNS subdomain
# Kubernetes' limit on all annotations of one object, keys and values (TotalAnnotationSizeLimitB).
ANNOTATIONS_MAX_BYTES = 256 * 1024

# The parts of a NodeSet that slinky-pr reads and writes and the CRD leaves unchecked, with
# the shape Kubernetes gives them (null is "not set"). Checked before anything is planned.
_NODESET_SHAPES: tuple[tuple[tuple[str, ...], type], ...] = (
    (("spec", "slurmd"), dict),
    (("spec", "slurmd", "resources"), dict),
    (("spec", "slurmd", "resources", "limits"), dict),
    (("spec", "slurmd", "resources", "requests"), dict),
    (("spec", "template", "spec", "nodeSelector"), dict),
    (("spec", "template", "spec", "tolerations"), list),
)
_SHAPE_NAMES: dict[type, str] = {dict: "a map", list: "a list", str: "a string"}


def _shape_name(value: object) -> str:
    return _SHAPE_NAMES.get(type(value)) or f"the {type(value).__name__} {repr(value)[:40]}"


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def nodeset_shape_problems(nodeset: Mapping[str, Any], at: str = "") -> Iterator[Problem]:
    """Where a targeted NodeSet has the wrong shape in a part slinky-pr edits
    (``tolerations: x``, a list as ``nodeSelector``, ``resources: []``); ``at`` is the
    NodeSet's place in its document ("items.3." in a List, else "")."""
    for path, shape in _NODESET_SHAPES:
        value = _at(nodeset, path)
        if value is not None and not isinstance(value, shape):
            message = f"must be {_SHAPE_NAMES[shape]}, not {_shape_name(value)}"
            yield Problem(message, path=at + ".".join(path))
    tolerations = _at(nodeset, ("spec", "template", "spec", "tolerations"))
    for i, toleration in enumerate(tolerations if isinstance(tolerations, list) else ()):
        if not isinstance(toleration, dict):
            message = f"a toleration must be a map, not {_shape_name(toleration)}"
            yield Problem(message, path=f"{at}spec.template.spec.tolerations[{i}]")


def label_key_problems(key: str) -> list[str]:
    """Why ``key`` is not a valid label/annotation key (empty list if it is)."""
    prefix, _, name = key.rpartition("/")
    problems = []
    if "://" in key:
        return [
            f"label key {key!r} looks like a URL, not a label key "
            '(EFA nodes carry vpc.amazonaws.com/efa.present: "true")'
        ]
    if "/" in key and not prefix:
        problems.append(f"label key {key!r} has an empty prefix")
    elif prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix)):
        problems.append(f"label key prefix {prefix!r} is not a DNS subdomain (lowercase, dots)")
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        problems.append(
            f"label key name {name!r} must be 1-63 characters of [A-Za-z0-9-_.], "
            "starting and ending alphanumeric"
        )
    return problems


def label_value_problems(value: object) -> list[str]:
    """Why ``value`` is not a valid label value (empty list if it is)."""
    if not isinstance(value, str):
        return [f"label value {value!r} must be a string (quote it in YAML)"]
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        return [f"label value {value!r} must be at most 63 characters of [A-Za-z0-9-_.]"]
    return []


def labels_problems(
    labels: Mapping[str, Any], at: str = "", values: bool = True
) -> Iterator[Problem]:
    """Check a labels/nodeSelector map found at ``at`` (``values=False`` for annotations)."""
    for key, value in labels.items():
        for message in label_key_problems(str(key)):
            yield Problem(message, path=f"{at}[{key}]")
        if values:
            for message in label_value_problems(value):
                yield Problem(message, path=f"{at}[{key}]")


def annotations_size_problems(annotations: Mapping[str, Any], at: str = "") -> Iterator[Problem]:
    """Kubernetes refuses an object whose annotations total more than 256 KiB."""
    total = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if total > ANNOTATIONS_MAX_BYTES:
        yield Problem(
            f"annotations total {total} bytes, over Kubernetes' limit of 256 KiB", path=at
        )


def toleration_problems(toleration: Mapping[str, Any], at: str = "") -> Iterator[Problem]:
    """Kubernetes toleration rules the API server enforces only at pod creation."""
    operator = toleration.get("operator", "Equal")
    effect = toleration.get("effect", "")
    if operator not in ("Equal", "Exists"):
        yield Problem(f"operator must be Equal or Exists, not {operator!r}", path=at + ".operator")
    if operator == "Exists" and toleration.get("value"):
        yield Problem("a toleration with operator Exists must not have a value", path=at + ".value")
    if operator == "Equal" and not toleration.get("key"):
        yield Problem(
            "a toleration with operator Equal needs a key (empty key needs Exists)",
            path=at + ".key",
        )
    if effect and effect not in EFFECTS:
        yield Problem(
            f"effect must be one of {', '.join(EFFECTS)}, not {effect!r}", path=at + ".effect"
        )
    if "tolerationSeconds" in toleration and effect != "NoExecute":
        yield Problem(
            "tolerationSeconds is only valid with effect NoExecute", path=at + ".tolerationSeconds"
        )
    seconds = toleration.get("tolerationSeconds")
    if seconds is not None and not (
        isinstance(seconds, int) and not isinstance(seconds, bool) and -_INT64 <= seconds < _INT64
    ):
        yield Problem(
            f"tolerationSeconds must be a 64-bit integer, not {seconds!r}",
            path=at + ".tolerationSeconds",
        )
    if toleration.get("key"):
        for message in label_key_problems(str(toleration["key"])):
            yield Problem(message, path=at + ".key")
    if toleration.get("value"):
        for message in label_value_problems(toleration["value"]):
            yield Problem(message, path=at + ".value")


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether ``toleration`` tolerates ``taint`` (Kubernetes' own matching rule)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if toleration.get("operator", "Equal") == "Exists":
        return not key or key == taint.get("key")
    return bool(key == taint.get("key") and toleration.get("value", "") == taint.get("value", ""))


def _is_checked(resource: str) -> bool:
    return resource.startswith("hugepages-") or resource.startswith(EXTENDED_PREFIXES)


def resources_problems(resources: Mapping[str, Any], at: str = "") -> Iterator[Problem]:
    """Extended resources and hugepages: limit set, request = limit, integer counts."""
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    if not isinstance(limits, Mapping) or not isinstance(requests, Mapping):
        yield Problem("resources.limits and resources.requests must be maps", path=at)
        return
    for name in sorted({*limits, *requests}):
        if not _is_checked(str(name)):
            continue
        if name not in limits:
            yield Problem(
                f"{name} needs a limit (Kubernetes requires one)", path=f"{at}.limits[{name}]"
            )
        elif name in requests and not same_quantity(requests[name], limits[name]):
            message = f"{name} request {requests[name]} must equal its limit {limits[name]}"
            yield Problem(message, path=f"{at}.requests[{name}]")
        whole = whole_quantity(limits.get(name, 0))
        if not name.startswith("hugepages-") and (whole is None or whole < 0):
            yield Problem(
                f"{name} must be a whole number, not {limits[name]!r}", path=f"{at}.limits[{name}]"
            )
    if any(str(n).startswith("hugepages-") for n in limits):
        both = {**limits, **requests}
        if "cpu" not in both and "memory" not in both:
            yield Problem(
                "hugepages need a cpu or memory request beside them", path=at + ".requests"
            )
