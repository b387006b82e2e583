"""The transforms, run in order; one module each, configuration in, changes out.

Each transform module exposes ``plan(ctx)``. It reads the release and the profile from
the context, and the documents as planned so far (``ctx.obj``); plans its edits through
``ctx.plan``, which records them and touches no document (the apply stage,
:mod:`postrender.apply`, does that for the whole plan); and reports what it cannot do as
problems rather than raising, so the user sees every problem of a run at once. Its
docstring ends with an example that runs as a test. Beside them: ``context.py`` (what a
transform gets), ``karpenter.py`` (what the EC2NodeClass, NodePool and capacity
transforms read of a partition's ``karpenter`` block) and ``example.py`` (runs the
examples).
"""

from __future__ import annotations

from collections.abc import Callable

from postrender.transforms.context import Context


def pipeline() -> list[Callable[[Context], None]]:
    """The transforms in order: node scheduling, Slurm config, the Karpenter objects (the
    EC2NodeClass a NodePool uses first), then the capacity check over all of them."""
    from postrender.transforms import (
        accelerators,
        capacity,
        controller,
        efa,
        gres_conf,
        nodeclass,
        nodepool,
        partitions,
        scheduling,
    )

    return [
        scheduling.plan,
        accelerators.plan,
        efa.plan,
        partitions.plan,
        controller.plan,
        gres_conf.plan,
        nodeclass.plan,
        nodepool.plan,
        capacity.plan,
    ]
