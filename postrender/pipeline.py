"""The pipeline: read stream → documents → select → plan → apply → validate → write stream.

Every stage is a function (:func:`~postrender.yaml.stream.read_stream`,
:func:`~postrender.select.build_release`, :func:`plan`, :func:`~postrender.apply.apply`,
:func:`validate`, :func:`~postrender.yaml.stream.write_stream`); :func:`post_render`
chains them and is what the CLI, the Helm plugins, golden tests and the exports call.
"""

from __future__ import annotations

from collections.abc import Iterable

from postrender.apply import apply
from postrender.errors import EXIT_INVALID, EXIT_PLAN, Problem, SlinkyError
from postrender.model.profiles import Profile
from postrender.plan import Change, Plan, lookup
from postrender.select import ANNOTATION, Release, build_release, partition_annotation
from postrender.validate.kubernetes import (
    annotations_size_problems,
    labels_problems,
    nodeset_shape_problems,
    resources_problems,
    toleration_problems,
)
from postrender.yaml.stream import Document, Stream, read_stream, write_stream


class Result:
    """The patched stream and how it came to be."""

    # A plain class, not a dataclass: importing dataclasses costs ~17 ms of every `helm upgrade`.
    __slots__ = ("changes", "notes", "output", "stream")

    def __init__(
        self,
        output: str,
        stream: Stream,
        changes: list[Change] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.output = output
        self.stream = stream
        self.changes: list[Change] = [] if changes is None else changes
        self.notes: list[str] = [] if notes is None else notes


def plan(stream: Stream, profile: Profile) -> tuple[Release, Plan, list[str]]:
    """Run every transform over the stream: the plan of its changes, and notes. The
    stream is left as it was; :func:`~postrender.apply.apply` writes the plan into it."""
    from postrender.transforms import pipeline
    from postrender.transforms.context import Context

    release = build_release(stream, profile)
    shapes = [
        problem.replace(document=t.doc.label)
        for t in release.targets
        for problem in nodeset_shape_problems(t.obj, _prefix(t.prefix))
    ]
    if shapes:
        raise SlinkyError(shapes, EXIT_INVALID, "the rendered release is not valid")
    ctx = Context(release, Plan(stream), notes=list(release.notes))
    for transform in pipeline():
        transform(ctx)
    if ctx.problems:
        raise SlinkyError(ctx.problems, EXIT_PLAN, "the profile cannot be applied to this release")
    return release, ctx.plan, ctx.notes


def _prefix(parts: list[str | int]) -> str:
    """Where an object sits in its document, as the start of a field path ("items.3.")."""
    return "".join(f"{part}." for part in parts)


def _pod_rules(release: Release) -> list[Problem]:
    """Rules for the schemaless pod-template parts slinky-pr writes."""
    problems = []
    for target in release.targets:
        checks = [
            (
                "spec.template.metadata.labels",
                lookup(target.obj, ["spec", "template", "metadata", "labels"]),
                "labels",
            ),
            (
                "spec.template.spec.nodeSelector",
                lookup(target.obj, ["spec", "template", "spec", "nodeSelector"]),
                "labels",
            ),
        ]
        found = [p for path, value, _ in checks for p in labels_problems(value or {}, path)]
        annotations = lookup(target.obj, ["spec", "template", "metadata", "annotations"])
        found += annotations_size_problems(annotations or {}, "spec.template.metadata.annotations")
        for i, toleration in enumerate(
            lookup(target.obj, ["spec", "template", "spec", "tolerations"]) or []
        ):
            found += toleration_problems(toleration, f"spec.template.spec.tolerations[{i}]")
        resources = lookup(target.obj, ["spec", "slurmd", "resources"]) or {}
        found += resources_problems(resources, "spec.slurmd.resources")
        problems += [problem.replace(document=target.doc.label) for problem in found]
    return problems


def validate(documents: Iterable[Document], release: Release | None = None) -> None:
    """Documents of known kinds against their schemas, plus the pod-template rules
    for what slinky-pr wrote (given the release)."""
    from postrender.validate.schemas import validate_document

    problems = []
    for doc in documents:
        for prefix, obj in doc.objects():
            for problem in validate_document(obj):
                where = f"{prefix.lstrip('/').replace('/', '.')}." if prefix else ""
                problems.append(
                    problem.replace(document=doc.label, path=where + (problem.path or ""))
                )
    if release is not None:
        problems += _pod_rules(release)
    if problems:
        title = (
            "the patched release is not valid" if release else "the rendered release is not valid"
        )
        raise SlinkyError(problems, EXIT_INVALID, title)


def untargeted(stream: Stream) -> bool:
    """True when no NodeSet carries the slinky-pr/partition annotation."""
    return not any(
        partition_annotation(obj)
        for doc in stream.documents
        for _, obj in doc.objects()
        if obj.get("kind") == "NodeSet"
    )


def post_render(text: str, profile: Profile | None) -> Result:
    """The whole post-renderer on one stream of text."""
    stream = read_stream(text)
    # The input first: transforms may then rely on the shapes the CRDs promise, and a
    # broken chart value is reported as the chart's, not as slinky-pr's.
    validate(stream.documents)
    if profile is None:
        if not untargeted(stream):
            raise SlinkyError(
                [
                    Problem(
                        f"NodeSets carry the {ANNOTATION} annotation but no profile was given",
                        hint="pass --config FILE (or set SLINKY_PR_CONFIG)",
                    )
                ],
                EXIT_PLAN,
            )
        return Result(text, stream)
    release, planned, notes = plan(stream, profile)
    apply(stream, planned)
    validate([d for d in [*stream.documents, *stream.added] if d.changed or d.added], release)
    output = write_stream(stream) if planned.changes else text
    return Result(output, stream, planned.changes, notes)
