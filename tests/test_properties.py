"""Properties of the post-renderer over generated Slinky-shaped streams and profiles (issue 8).

Streams: a Controller, NodeSets (random keys, annotations naming profile partitions, in
chart >= 1.1 or 1.0 shape, extra labels, selectors, extraConf), Secrets, ConfigMaps,
arbitrary other documents (other kinds, scalars, lists, empty and comment-only documents),
in Helm 3 form (``# Source:`` heads) or Helm 4 form (filename annotations), LF or CRLF,
block, flow or JSON style. Profiles: partitions with any of the fields slinky-pr owns.

Generated releases and profiles are consistent by construction (a NodeSet belongs to at
most one partition, selectors never clash with the chart's), so every example must
succeed, and then:

- every input document is in the output, in its place, with its kind and name;
- documents slinky-pr does not own are byte-identical;
- the output is a fixed point: post-rendering it again changes nothing;
- in the documents it does change, only the fields the profile owns differ.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from postrender.errors import EXIT_PLAN, SlinkyError
from postrender.model.profiles import Profile, parse_profile
from postrender.pipeline import post_render
from postrender.yaml.scalars import kube_plain
from postrender.yaml.stream import FILENAME_ANNOTATION, Document, decode, read_stream

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = {
    d.kind: d.body
    for d in read_stream((ROOT / "testdata" / "examples" / "release.yaml").read_text()).documents
    if d.kind
}
ANNOTATION = "slinky-pr/partition"
PARTITIONS = ["gpu-partition", "cpu-partition", "debug", "batch"]
KEYS = ["gpu", "cpu", "a100x8", "spot-1", "x"]  # never a partition name: that is an error
OWNED = {
    "NodeSet": [
        ["spec", "template", "spec", "nodeSelector"],
        ["spec", "template", "spec", "tolerations"],
        ["spec", "template", "metadata", "labels"],
        ["spec", "template", "metadata", "annotations"],
        ["spec", "slurmd", "resources"],
        ["spec", "extraConf"],
    ],
    "Controller": [["spec", "extraConf"], ["spec", "configFileRefs"]],
}
# 60 keeps the suite fast; HYPOTHESIS_EXAMPLES=2000 for a deep run (docs/hostile-input.md).
SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What YAML can carry raw: no surrogates, no control characters, no BOM or non-characters
# (JSON allows DEL and C1 controls unescaped, YAML 1.1 refuses them).
TEXT = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufeff\ufffe\uffff")
LABEL_VALUES = ["a", "ml", "slurm-gpu-pool", "v1.2", "x_y"]
label_values = st.sampled_from([*LABEL_VALUES, ""])
label_keys = st.sampled_from(["role", "karpenter.sh/nodepool", "example.com/tier", "team"])
TOLERATIONS = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "slinky.io/usage", "operator": "Equal", "value": "gpu-task", "effect": "NoSchedule"},
    {"operator": "Exists"},
    {"key": "spot", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
]
# instance_types, gres, efa: combinations the instance catalogue accepts
HARDWARE = [
    {},
    {"gres": "gpu:8"},
    {"gres": "gpu:a100:4"},
    {"instance_types": ["p4d.24xlarge"], "gres": "auto"},
    {"instance_types": ["p4d.24xlarge"], "gres": "auto", "efa_enabled": True},
    {"instance_types": ["p4d.24xlarge"], "efa_enabled": True, "efa_count": 2, "hugepages": "2Gi"},
    {"instance_types": ["g6.xlarge"], "gres": "auto"},
    {"instance_types": ["c5.24xlarge"], "features": ["avx512"]},
]
OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "MaxTime": st.sampled_from([30, "30:00", "2-00:00:00", "UNLIMITED"]),
        "PriorityTier": st.integers(0, 65533),
        "AllowGroups": st.sampled_from(["ALL", ["ml", "hpc"], "ml,hpc"]),
        "State": st.sampled_from(["UP", "DRAIN"]),
        "DefMemPerGPU": st.integers(0, 2**31 - 1),
    },
)


@st.composite
def partition(draw: st.DrawFn, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    entry.update(draw(st.sampled_from(HARDWARE)))
    optional = {
        "nodeSelector": st.dictionaries(label_keys, st.sampled_from(LABEL_VALUES), max_size=2),
        "tolerations": st.lists(st.sampled_from(TOLERATIONS), max_size=2, unique_by=str),
        "labels": st.dictionaries(label_keys, label_values, max_size=2),
        "annotations": st.dictionaries(
            st.sampled_from(["example.com/owner", "note"]), st.text(TEXT, max_size=20), max_size=2
        ),
        "options": OPTIONS,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            entry[key] = draw(strategy)
    return entry


@st.composite
def layouts(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str | None], dict[str, str]]:
    """A profile, which partition each NodeSet key's annotation names, and how it is named.

    Returns (profile data, {key: annotated partition or None}, {key: "metadata" |
    "template" | "nodesets" | "none"}). A key belongs to at most one partition.
    """
    names = draw(st.lists(st.sampled_from(PARTITIONS), min_size=1, max_size=3, unique=True))
    partitions = [draw(partition(n)) for n in names]
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
    owner: dict[str, str | None] = {}
    how: dict[str, str] = {}
    for key in keys:
        choice = draw(st.sampled_from(["metadata", "template", "nodesets", "none"]))
        target = draw(st.sampled_from(partitions))
        how[key] = choice
        owner[key] = target["name"] if choice != "none" else None
        if choice == "nodesets":
            target.setdefault("nodesets", []).append(key)
    return {"clusters": [{"name": "c", "partitions": partitions}]}, owner, how


def nodeset(draw: st.DrawFn, key: str, partition_name: str | None, how: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(TEMPLATE["NodeSet"])
    meta, template = body["metadata"], body["spec"]["template"]
    meta["name"] = f"slinky-slurm-worker-{key}"
    template["spec"]["hostname"] = f"{key}-"
    meta.pop("annotations", None)
    template["metadata"].pop("annotations", None)
    body["spec"]["partition"] = {"enabled": draw(st.booleans())}
    if how == "metadata":
        meta["annotations"] = {ANNOTATION: partition_name}
        if draw(st.booleans()):  # chart >= 1.1 renders it in both places
            template["metadata"]["annotations"] = {ANNOTATION: partition_name}
    elif how == "template":  # chart 1.0.x
        template["metadata"]["annotations"] = {ANNOTATION: partition_name}
    if draw(st.booleans()):
        # An annotation Kubernetes accepts: PyYAML writes "y" plain, which Kubernetes reads
        # as a boolean (slinky-pr refuses that, as the API server would).
        kept = st.text(TEXT, max_size=10).filter(lambda v: isinstance(kube_plain(v), str))
        meta.setdefault("annotations", {})["example.com/kept"] = draw(kept)
    if draw(st.booleans()):
        body["spec"]["extraConf"] = draw(st.sampled_from(["Weight=10", "Weight=5 RealMemory=1000"]))
    if draw(st.booleans()):
        body["spec"]["slurmd"]["resources"] = {"requests": {"cpu": "2", "memory": "4Gi"}}
    return body


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(TEXT, max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(TEXT, max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def extra_document(draw: st.DrawFn, i: int) -> Any:
    kind = draw(st.sampled_from(["Secret", "ConfigMap", "Widget", "scalar", "list", "empty"]))
    if kind == "Secret":
        body = copy.deepcopy(TEMPLATE["Secret"])
        body["metadata"]["name"] = f"secret-{i}"
        body["data"] = {"key": draw(st.text("ABCDEFabcdef0123456789+/", min_size=4, max_size=16))}
        return body
    if kind == "ConfigMap":
        data = draw(st.dictionaries(st.sampled_from(["a.conf", "x"]), st.text(TEXT, max_size=30)))
        if draw(st.booleans()):  # one slinky-pr reuses instead of adding its own
            data["gres.conf"] = draw(st.sampled_from(["AutoDetect=nvidia\n", "AutoDetect=nvml"]))
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}"},
            "data": data,
        }
    if kind == "Widget":
        return {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": f"w-{i}"},
            "spec": draw(json_values),
        }
    if kind == "scalar":
        return draw(st.integers() | st.text(TEXT, min_size=1, max_size=10).filter(str.strip))
    if kind == "list":
        return draw(st.lists(json_values, min_size=1, max_size=3))
    return None


def render(draw: st.DrawFn, body: Any, helm4: bool, source: str) -> str:
    """One document as Helm 3 or Helm 4 would hand it over, in a random style."""
    if helm4 and isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        body = copy.deepcopy(body)
        body["metadata"].setdefault("annotations", {})[FILENAME_ANNOTATION] = source
    if body is None:
        text = draw(st.sampled_from(["", "# only a comment\n"]))
    else:
        style = draw(st.sampled_from(["block", "flow", "json"]))
        if style == "json":
            # ASCII-only JSON writes a character beyond U+FFFF as a surrogate pair escape,
            # which libyaml refuses (tests/cli/test_hostile.py: json-surrogate-pair-escape).
            wide = any(ord(c) > 0xFFFF for c in json.dumps(body, ensure_ascii=False))
            text = json.dumps(body, ensure_ascii=draw(st.booleans()) and not wide) + "\n"
        else:
            text = yaml.safe_dump(
                body, default_flow_style=style == "flow", sort_keys=draw(st.booleans()), width=80
            )
    comment = draw(st.sampled_from(["", "# a comment\n"]))
    if helm4:
        return f"---\n{comment}{text}"
    return f"---\n# Source: slurm/templates/{source}\n{comment}{text}"


@st.composite
def releases(draw: st.DrawFn) -> tuple[str, Profile, set[int]]:
    """(stream text, profile, indexes of the documents slinky-pr may change)."""
    data, owner, how = draw(layouts())
    profile = parse_profile(yaml.safe_dump(data), "generated.yaml")
    helm4 = draw(st.booleans())
    bodies: list[tuple[Any, str]] = []
    controller = copy.deepcopy(TEMPLATE["Controller"])
    if draw(st.booleans()):
        controller["spec"]["extraConf"] = "SchedulerParameters=salloc_wait_nodes"
    bodies.append((controller, "controller/controller-cr.yaml"))
    targeted: set[int] = set()
    for key, partition_name in owner.items():
        if partition_name is not None:
            targeted.add(len(bodies))
        bodies.append((nodeset(draw, key, partition_name, how[key]), "nodeset/nodeset-cr.yaml"))
    for i in range(draw(st.integers(0, 5))):
        position = draw(st.integers(1, len(bodies)))
        targeted = {t + 1 if t >= position else t for t in targeted}
        bodies.insert(position, (draw(extra_document(i)), f"extra/doc-{i}.yaml"))
    text = "".join(render(draw, body, helm4, source) for body, source in bodies)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text, profile, {0, *targeted}


def stripped(body: Any, kind: str) -> Any:
    """``body`` without the fields slinky-pr owns in a ``kind``, nor maps left empty."""
    body = copy.deepcopy(body)
    for path in OWNED.get(kind, []):
        parents = [body]
        for part in path[:-1]:
            child = parents[-1].get(part) if isinstance(parents[-1], dict) else None
            if not isinstance(child, dict):
                break
            parents.append(child)
        else:
            parents[-1].pop(path[-1], None)
            for parent, part in zip(reversed(parents[:-1]), reversed(path[:-1]), strict=True):
                if parent.get(part) == {}:
                    del parent[part]
    return body


def identity(doc: Document) -> tuple[str, str, str]:
    return (doc.kind, doc.name, type(doc.body).__name__)


@SETTINGS
@given(releases())
def test_post_render_keeps_every_document_and_changes_only_what_it_owns(
    release: tuple[str, Profile, set[int]],
) -> None:
    text, profile, may_change = release
    result = post_render(text, profile)
    before = read_stream(text).documents
    output = read_stream(result.output).documents
    added = [d for d in output if identity(d) not in {identity(b) for b in before}]
    after = [d for d in output if d not in added]

    # every input document, in its place; the added gres.conf just ahead of its Controller
    assert [identity(d) for d in after] == [identity(d) for d in before]
    assert all(d.kind == "ConfigMap" for d in added)
    for doc in added:
        assert output[output.index(doc) + 1].kind == "Controller"

    for i, (old, new) in enumerate(zip(before, after[: len(before)], strict=True)):
        if i not in may_change:
            assert new.raw == old.raw, f"document {i + 1} ({old.kind}) was touched"
        elif new.raw != old.raw:
            assert stripped(new.body, old.kind) == stripped(old.body, old.kind)
            assert new.raw.startswith(old.head), "the separator and comments stay"

    changed = sum(new.raw != old.raw for old, new in zip(before, after, strict=False))
    event(f"documents changed: {min(changed, 3)}{'+' if changed >= 3 else ''}")
    event(f"documents added: {len(after) - len(before)}")

    # a fixed point: post-rendering the output again changes nothing
    assert post_render(result.output, profile).output == result.output


@SETTINGS
@given(releases())
def test_without_a_profile_the_stream_passes_or_names_the_annotation(
    release: tuple[str, Profile, set[int]],
) -> None:
    text, _, _ = release
    try:
        assert post_render(text, None).output == text
    except SlinkyError as exc:
        assert exc.exit_code == EXIT_PLAN and ANNOTATION in exc.format()
        assert ANNOTATION in text


@SETTINGS
@given(releases(), st.booleans())
def test_decoded_bytes_give_the_same_result(
    release: tuple[str, Profile, set[int]], bom: bool
) -> None:
    text, profile, _ = release
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    assert post_render(decode(data), profile).output == post_render(text, profile).output
