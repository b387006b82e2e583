"""Exports: the profile and the change plan, in the formats other deploy tools take.

- :mod:`~postrender.export.kustomize`: a Kustomize patch set that turns the rendered release
  into slinky-pr's output (Flux ``postRenderers``, plain ``kubectl kustomize``);
- :mod:`~postrender.export.eksctl`: eksctl ``managedNodeGroups`` for static partitions;
- :mod:`~postrender.cli.export`: the ``slinky export`` commands.
"""
