"""Accelerators: GPUs (or Neuron devices) for slurmd, and the GRES Slurm advertises.

For a partition with ``gres: gpu:a100:8`` on p4d.24xlarge:

- ``spec.slurmd.resources.limits`` and ``requests`` get ``nvidia.com/gpu: 8``
  (``aws.amazon.com/neuron`` on Trainium/Inferentia), so the device plugin hands the
  GPUs to the slurmd container;
- ``spec.extraConf`` gets ``Gres=gpu:a100:8`` merged the way the operator merges
  (every ``Gres=`` token, keys title-cased, written back as one token; single spaces,
  other keys kept); a GRES mixing typed and untyped entries of one name or repeating one
  is refused and ``Features`` extended with the
  instance type (when the partition names exactly one), ``efa`` and the profile's
  ``features``.

Without both, jobs asking ``--gres=gpu`` fail (``Gres=(null)``). Example::

    >>> from postrender.transforms.example import NODESET, run
    >>> run(plan, NODESET, '''
    ... - name: gpu
    ...   instance_types: [p4d.24xlarge]
    ...   gres: auto
    ... ''')
    add /spec/slurmd/resources/limits: {}
    add /spec/slurmd/resources/limits/nvidia.com~1gpu: 8
    add /spec/slurmd/resources/requests: {}
    add /spec/slurmd/resources/requests/nvidia.com~1gpu: 8
    add /spec/extraConf: Gres=gpu:a100:8 Features=p4d.24xlarge
"""

from __future__ import annotations

from postrender.errors import Problem
from postrender.model.profiles import Partition
from postrender.model.slurmconf import (
    ConfError,
    format_tokens,
    gres_conflicts,
    gres_entries,
    merge_gres,
    merge_list_token,
    parse_tokens,
)
from postrender.plan import Why, lookup
from postrender.select import Target
from postrender.transforms.context import Context
from postrender.validate.quantity import same_quantity

RESOURCES = ["spec", "slurmd", "resources"]


def _features(target: Target) -> tuple[list[str], str | None]:
    features: list[str] = []
    owner = None
    types = target.owner("instance_types")
    if types and len(types.instance_types) == 1:
        features.append(types.instance_types[0].removeprefix("ml."))
        owner = types.name
    efa = target.owner("efa_enabled")
    if efa and efa.efa:
        features.append("efa")
        owner = owner or efa.name
    extra = target.owner("features")
    if extra:
        features += [f for f in extra.spec["features"] if f not in features]
        owner = owner or extra.name
    return features, owner


def set_resource(
    ctx: Context, target: Target, name: str, value: int | str, owner: Partition, why: Why
) -> None:
    """Set a limit and an equal request, refusing to overwrite a different chart amount."""
    for side in ("limits", "requests"):
        current = lookup(ctx.obj(target), [*RESOURCES, side, name])
        if current is not None and not same_quantity(current, value):
            ctx.problems.append(
                Problem(
                    f"{name} {side} is {current} in the chart's values, the profile needs {value}",
                    document=target.doc.label,
                    path=".".join([*RESOURCES, side, name]),
                    profile=owner.label,
                    hint="remove it from the chart's values and let slinky-pr set it",
                )
            )
            return
    for side in ("limits", "requests"):
        # The same amount already written (5Gi for 5120Mi) stays as the chart wrote it.
        if lookup(ctx.obj(target), [*RESOURCES, side, name]) is None:
            ctx.plan.set(target.doc, [*target.prefix, *RESOURCES, side, name], value, why)


def plan(ctx: Context) -> None:
    """GPU resources and GRES/Features tokens for every targeted NodeSet."""
    for target in ctx.release.targets:
        owner = target.owner("gres")
        tokens_before = lookup(ctx.obj(target), ["spec", "extraConf"])
        try:
            tokens = parse_tokens(tokens_before, strict=False)
        except ConfError as exc:
            ctx.problems.append(Problem(str(exc), document=target.doc.label, path="spec.extraConf"))
            continue
        if owner and owner.gres and owner.accelerator_resource:
            resource, count = owner.accelerator_resource, owner.gres.count
            why = Why(f"{resource}: {count} for Gres={owner.gres}", owner.name, "gres")
            set_resource(ctx, target, resource, count, owner, why)
            try:
                merge_gres(tokens, owner.gres)
            except ConfError as exc:
                ctx.problems.append(
                    Problem(
                        str(exc),
                        document=target.doc.label,
                        path="spec.extraConf",
                        profile=owner.label,
                    )
                )
        else:
            try:
                problems = gres_conflicts(gres_entries(tokens))
            except ConfError as exc:
                problems = [str(exc)]
            for message in problems:
                ctx.problems.append(
                    Problem(
                        message,
                        document=target.doc.label,
                        path="spec.extraConf",
                        hint="keep one entry per GRES name (the operator merges every Gres= token)",
                    )
                )
        features, features_owner = _features(target)
        merge_list_token(tokens, "Features", features)
        line = format_tokens(tokens)
        if tokens and line != tokens_before:
            reason = "Gres/Features for slurmd --conf"
            ctx.plan.set(
                target.doc,
                [*target.prefix, "spec", "extraConf"],
                line,
                Why(
                    reason,
                    (owner.name if owner else features_owner),
                    "gres" if owner else "features",
                ),
            )
