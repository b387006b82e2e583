"""Run one transform on a small release: the examples in the transforms' docstrings.

Each transform module's docstring shows a release, the profile partitions it is given,
and the edits the transform plans: JSON Patch operations, an added document in YAML, then
its problems and notes. tests/transforms/test_examples.py runs every one of them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable

import yaml

from postrender.model.profiles import parse_profile
from postrender.plan import Change, Plan
from postrender.select import build_release
from postrender.transforms.context import Context
from postrender.yaml.stream import read_stream

TYPE_CHECKING = False  # not typing's: see tests/test_import_cost.py
if TYPE_CHECKING:
    from typing import Any

# A NodeSet of partition "gpu", as the chart renders one (trimmed to what transforms read).
NODESET = """\
apiVersion: slinky.slurm.net/v1beta1
kind: NodeSet
metadata:
  name: slurm-worker-gpu
  annotations: {slinky-pr/partition: gpu}
spec:
  replicas: 2
  template:
    spec:
      hostname: gpu-
      nodeSelector: {kubernetes.io/os: linux}
  slurmd:
    resources: {}
"""
# The Controller the chart renders, with its own partition line.
CONTROLLER = """\
apiVersion: slinky.slurm.net/v1beta1
kind: Controller
metadata: {name: slurm}
spec:
  extraConf: PartitionName=all Nodes=ALL Default=YES MaxTime=UNLIMITED
"""


class _Dumper(yaml.SafeDumper):
    """Short YAML: maps and lists of plain values on one line, multi-line text as a block."""


def _flat(values: Iterable[Any]) -> bool:
    return not any(
        isinstance(v, (dict, list)) or (isinstance(v, str) and "\n" in v) for v in values
    )


_Dumper.add_representer(
    dict,
    lambda d, data: d.represent_mapping(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, data, _flat(data.values())
    ),
)
_Dumper.add_representer(
    list,
    lambda d, data: d.represent_sequence(
        yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, data, _flat(data)
    ),
)
_Dumper.add_representer(
    str,
    lambda d, data: d.represent_scalar(
        yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG, data, "|" if "\n" in data else None
    ),
)


def _line(change: Change) -> str:
    """One change: its operation, path and value (a document or text as a YAML block)."""
    value = change.value
    if not change.path:  # a whole document
        text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, width=88)
        return "add document:\n" + textwrap.indent(text.rstrip(), "    ")
    if isinstance(value, str) and "\n" in value:
        text = yaml.dump(value, Dumper=_Dumper).rstrip()
        return f"{change.op} {change.path}: " + text.replace("\n", "\n  ")
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1000).rstrip()
    return f"{change.op} {change.path}: {text.removesuffix(chr(10) + '...')}"


def run(transform: Callable[[Context], None], release: str, partitions: str) -> None:
    """Print the edits ``transform`` plans for ``release`` (YAML documents) under a profile
    with ``partitions`` (a YAML list), then its problems and notes."""
    stream = read_stream(textwrap.dedent(release).strip() + "\n")
    items = textwrap.indent(textwrap.dedent(partitions).strip(), "      ")
    profile = parse_profile(f"clusters:\n  - name: example\n    partitions:\n{items}\n", "p.yaml")
    ctx = Context(build_release(stream, profile), Plan(stream))
    transform(ctx)
    for change in ctx.plan.changes:
        print(_line(change))
    for problem in ctx.problems:
        print(f"problem at {problem.path}: {problem.message}")
    for note in ctx.notes:
        print(f"note: {note}")
