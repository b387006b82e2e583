"""A NodeSet's key is what the operator calls it: hostname prefix, else the whole name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from postrender.model.nodeset import nodeset_hostname, nodeset_key
from postrender.slurm.assemble import assemble
from postrender.yaml.stream import read_stream

RELEASE_13 = (
    Path(__file__).parents[2]
    / "testdata"
    / "upstream"
    / "rendered"
    / "slurm-1.3.0-rc1_gpu-cpu.yaml"
).read_text()


def nodeset(name: Any = "slinky-slurm-worker-gpu", hostname: Any = None) -> dict[str, Any]:
    pod = {} if hostname is None else {"hostname": hostname}
    return {"kind": "NodeSet", "metadata": {"name": name}, "spec": {"template": {"spec": pod}}}


@pytest.mark.parametrize(
    ("hostname", "key"),
    [
        ("gpu-", "gpu"),  # the chart's hostname: "<key>-"
        ("gpu", "gpu"),
        ("-gpu--", "gpu"),  # the operator trims dashes at both ends
        ("gpu-a100-", "gpu-a100"),  # inner dashes stay
        ("gpu x-", "gpu"),  # operator 1.1+: the first whitespace-separated word
        ("---", ""),  # trimmed to nothing, as the operator does
    ],
)
def test_the_key_is_the_hostname_prefix(hostname: str, key: str) -> None:
    assert nodeset_key(nodeset(hostname=hostname)) == key


@pytest.mark.parametrize("hostname", [None, "", "  ", 7])
def test_without_a_hostname_the_key_is_the_whole_name(hostname: Any) -> None:
    # Not "gpu" (the part after -worker-): the operator writes NodeSet=<metadata.name>.
    assert nodeset_key(nodeset(hostname=hostname)) == "slinky-slurm-worker-gpu"


@pytest.mark.parametrize(
    "body",
    [
        {"metadata": {"name": "n"}, "spec": 5},
        {"metadata": {"name": "n"}, "spec": {"template": "x"}},
        {"metadata": {"name": "n"}, "spec": {"template": {"spec": []}}},
    ],
)
def test_a_spec_that_is_not_a_map_counts_as_no_hostname(body: dict[str, Any]) -> None:
    assert nodeset_key(body) == "n"
    assert nodeset_hostname(body) is None


def test_no_metadata_gives_an_empty_key() -> None:
    assert nodeset_key({"metadata": 5}) == ""
    assert nodeset_key({}) == ""


def test_items_of_a_list_each_have_their_key() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {kind: NodeSet, metadata: {name: a-worker-cpu},"
        " spec: {template: {spec: {hostname: cpu-}}}}\n"
        "- {kind: NodeSet, metadata: {name: b-worker-gpu}}\n"
    )
    (document,) = read_stream(text).documents
    assert [nodeset_key(body) for _, body in document.objects()] == ["cpu", "b-worker-gpu"]


def test_the_slurm_harness_names_nodesets_by_the_same_key() -> None:
    # The harness assembles slurm.conf as the operator would; its NodeSet= names are the keys.
    without = RELEASE_13.replace("      hostname: cpu-\n", "", 1)
    keys = {n.name: n.key for n in assemble(without).nodesets}
    assert keys == {
        "slinky-slurm-worker-gpu": "gpu",
        "slinky-slurm-worker-cpu": "slinky-slurm-worker-cpu",
    }
