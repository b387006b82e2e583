"""Kustomize export: the post-renderer's change plan as a Kustomize patch set.

For tools that run Kustomize but not post-renderers (Flux ``HelmRelease.spec.postRenderers``,
a GitOps repository of rendered manifests). ``slinky export kustomize --config profiles.yaml
release.yaml -o DIR`` writes:

- ``DIR/release.yaml``: the rendered release, byte for byte;
- ``DIR/slinky-pr/<kind>-<name>.yaml``: each document slinky-pr adds (gres.conf ConfigMap,
  Karpenter NodePool/EC2NodeClass);
- ``DIR/kustomization.yaml``: those as ``resources`` plus one JSON 6902 patch per changed
  object (target group/version/kind/name/namespace);
- ``DIR/flux-postrenderers.yaml``: the same patches as a ``HelmRelease`` ``postRenderers``
  block (Flux cannot add documents there: see docs/flux.md).

The patches are the plan itself (``post_render(...).changes``), not a diff: only
edits later ones overwrite are dropped (the Controller ``extraConf`` is replaced once per
partition line; the last value stands). Before writing, every patch is replayed on the
input (:func:`postrender.apply.apply_patch`) and must give exactly slinky-pr's object, so
``kubectl kustomize DIR`` and slinky-pr agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postrender.apply import apply_patch
from postrender.errors import EXIT_INTERNAL, Problem, SlinkyError
from postrender.model.profiles import Profile
from postrender.pipeline import Result, post_render
from postrender.plan import Change
from postrender.yaml.stream import Document, dump, read_stream

RELEASE_FILE = "release.yaml"
KUSTOMIZATION_FILE = "kustomization.yaml"
FLUX_FILE = "flux-postrenderers.yaml"
ADDED_DIR = "slinky-pr"


@dataclass
class Export:
    """Files to write, by path relative to the output directory."""

    files: dict[str, str] = field(default_factory=dict)
    patches: list[dict[str, Any]] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)


def collapse(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the operations a later one overwrites: a set of ``/a`` moots earlier ``/a/...``.

    The surviving operation becomes ``add`` when the first one it replaces was an ``add``:
    the member did not exist in the input, so a JSON Patch ``replace`` would fail there.
    """
    out: list[dict[str, Any]] = []
    for op in ops:
        path = op["path"]
        if not path.endswith("/-"):
            mooted = [o for o in out if o["path"] == path or o["path"].startswith(path + "/")]
            same = next((o for o in mooted if o["path"] == path), None)
            if same is not None and same["op"] == "add":
                op = {**op, "op": "add"}
            out = [o for o in out if not any(o is m for m in mooted)]
        out.append(op)
    return out


def _target(obj: dict[str, Any]) -> dict[str, str]:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    meta = obj.get("metadata") or {}
    target = {"group": group, "version": version, "kind": str(obj.get("kind", ""))}
    if not group:
        del target["group"]  # the core group: Kustomize matches it by omission
    target["name"] = str(meta.get("name", ""))
    if meta.get("namespace"):
        target["namespace"] = str(meta["namespace"])
    return target


def _object_ops(
    document: Document, changes: list[Change]
) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Per object of the document (itself, or each List item): the object and its ops."""
    objects = dict(document.objects())
    grouped: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for change in changes:
        prefix = next((p for p in objects if p and change.path.startswith(p + "/")), "")
        obj = objects[prefix]
        patch = change.as_patch()
        patch["path"] = change.path[len(prefix) :]
        grouped.setdefault(prefix, (obj, []))[1].append(patch)
    return grouped


def _original(document: Document, prefix: str) -> Any:
    """The object as it was in the input (the apply stage patched the stream in place)."""
    return dict(read_stream(document.raw).documents[0].objects())[prefix]


def _added_file(doc: Document, taken: set[str]) -> str:
    stem = f"{doc.kind.lower()}-{doc.name}"
    name, n = f"{ADDED_DIR}/{stem}.yaml", 2
    while name in taken:
        name, n = f"{ADDED_DIR}/{stem}-{n}.yaml", n + 1
    taken.add(name)
    return name


def build(text: str, result: Result) -> Export:
    """The patch set that turns ``text`` (the rendered release) into ``result.output``."""
    stream = result.stream
    export = Export(files={RELEASE_FILE: text}, resources=[RELEASE_FILE])
    by_doc: dict[int, list[Change]] = {}
    for change in result.changes:
        by_doc.setdefault(change.document, []).append(change)
    taken: set[str] = set()
    for index, changes in sorted(by_doc.items()):
        if index >= len(stream.documents):
            doc = stream.added[index - len(stream.documents)]
            name = _added_file(doc, taken)
            export.files[name] = doc.head + dump(doc.body)
            export.resources.append(name)
            continue
        document = stream.documents[index]
        for prefix, (obj, ops) in _object_ops(document, changes).items():
            ops = collapse(ops)
            try:
                reproduced = apply_patch(_original(document, prefix), ops) == obj
            except (KeyError, IndexError, TypeError, ValueError):
                reproduced = False
            if not reproduced:
                raise SlinkyError(
                    [
                        Problem(
                            "the exported patches would not reproduce slinky-pr's output",
                            document=document.label,
                            hint="this is a bug in slinky-pr: please report it with the input",
                        )
                    ],
                    EXIT_INTERNAL,
                    "cannot export a Kustomize patch set",
                )
            export.patches.append({"target": _target(obj), "patch": dump(ops)})
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": export.resources,
    }
    if export.patches:
        kustomization["patches"] = export.patches
    export.files[KUSTOMIZATION_FILE] = (
        "# Generated by `slinky export kustomize`: `kubectl kustomize .` = slinky-pr's output.\n"
        + dump(kustomization)
    )
    added = [r for r in export.resources if r != RELEASE_FILE]
    flux = {"postRenderers": [{"kustomize": {"patches": export.patches}}]}
    note = ["# Flux HelmRelease.spec.postRenderers: the same patches."]
    if added:
        note.append("# Flux cannot add documents there: apply these with a Flux Kustomization")
        note.append("# (docs/flux.md):")
        note += [f"#   {name}" for name in added]
    export.files[FLUX_FILE] = "\n".join(note) + "\n" + dump(flux)
    return export


def export(text: str, profile: Profile) -> Export:
    """Run the post-renderer on ``text`` and turn its change plan into a patch set."""
    return build(text, post_render(text, profile))


def write(files: dict[str, str], directory: Path) -> list[Path]:
    """Write the files under ``directory`` (created if missing); return their paths."""
    written = []
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
