"""The transforms, run in order; one module each, configuration in, changes out.

Each module exposes ``plan(ctx)``. It reads the release and the profile from the
context, plans its edits through ``ctx.plan`` (which records them; nothing is applied
until the apply stage, :mod:`postrender.apply`), and reports what it cannot do as
problems rather than raising, so the user sees every problem of a run at once.
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
