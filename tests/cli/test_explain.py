"""`slinky explain` / `slinky diff`: every change, its document, partition and profile field.

The case ``testdata/golden/explain-every-change`` makes every kind of change slinky-pr
knows; its expected output is checked by the golden machinery, its explanation here.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from postrender.cli import explain
from postrender.cli.slinky import slinky_main
from postrender.golden.cases import Case
from postrender.model.profiles import load_profile
from postrender.pipeline import Result, post_render

CASE = Case.load(Path(__file__).resolve().parents[2] / "testdata/golden/explain-every-change")
GPU = "NodeSet/slinky-slurm-worker-gpu (slurm/templates/nodeset/nodeset-cr.yaml)"
CONTROLLER = "Controller/slinky-slurm (slurm/templates/controller/controller-cr.yaml)"
CONFIGMAP = "ConfigMap/slinky-slurm-gres-conf (slurm/templates/slinky-pr/gres-conf.yaml) [added]"
NODEPOOL = (
    "NodePool/slurm-gpu-pool (slurm/templates/slinky-pr/nodepool-slurm-gpu-pool.yaml) [added]"
)
_ROW = re.compile(
    r"  (?P<op>\S+) +(?P<path>\(new document\)|\S+)(?: = .*)?\n"
    r" +because (?P<reason>.*) \[(?P<origin>[^]]+)\]$"
)


def _paths() -> tuple[str, str]:
    source, profiles = CASE.path("input"), CASE.path("profiles")
    assert source is not None and profiles is not None
    return str(source), str(profiles)


@pytest.fixture(scope="module")
def result() -> Result:
    source, profiles = _paths()
    return post_render(Path(source).read_text(), load_profile(profiles))


def rows(table: str) -> list[tuple[str, str, str, str, str]]:
    """(document, op, path, reason, origin) per change row of the table."""
    out = []
    document = ""
    lines = table.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(" ") and not line.startswith("note:"):
            document = line
        elif line.startswith("  ") and not line.startswith("   "):
            match = _ROW.match(line + "\n" + lines[i + 1])
            assert match, line
            out.append((document, match["op"], match["path"], match["reason"], match["origin"]))
    return out


@pytest.mark.parametrize(
    ("document", "path", "origin", "reason"),
    [
        (
            GPU,
            "/spec/template/spec/nodeSelector/karpenter.sh~1nodepool",
            "gpu-partition.nodeSelector",
            "nodeSelector karpenter.sh/nodepool=slurm-gpu-pool",
        ),
        (
            GPU,
            "/spec/template/spec/tolerations/-",
            "gpu-partition.tolerations",
            "toleration nvidia.com/gpu",
        ),
        (
            GPU,
            "/spec/slurmd/resources/limits/nvidia.com~1gpu",
            "gpu-partition.gres",
            "nvidia.com/gpu: 8",
        ),
        (
            GPU,
            "/spec/slurmd/resources/requests/vpc.amazonaws.com~1efa",
            "gpu-partition.efa_count",
            "4 EFA interface(s)",
        ),
        (
            GPU,
            "/spec/slurmd/resources/limits/hugepages-2Mi",
            "gpu-partition.hugepages",
            "hugepages-2Mi 5120Mi",
        ),
        (GPU, "/spec/extraConf", "gpu-partition.gres", "Gres/Features"),
        (
            CONTROLLER,
            "/spec/extraConf",
            "gpu-partition.options",
            "partition line PartitionName=gpu-partition Nodes=gpu",
        ),
        (
            CONTROLLER,
            "/spec/extraConf",
            "debug.options",
            "partition line PartitionName=debug Nodes=gpu",
        ),
        (CONTROLLER, "/spec/extraConf", "gres", "GresTypes"),
        (CONTROLLER, "/spec/configFileRefs", "gres_conf", "mount gres.conf"),
        (CONFIGMAP, "(new document)", "gres_conf", "gres.conf with AutoDetect=nvidia"),
        (
            NODEPOOL,
            "(new document)",
            "gpu-partition.karpenter.nodepool",
            "Karpenter NodePool slurm-gpu-pool",
        ),
    ],
)
def test_table_names_document_partition_and_field(
    result: Result, document: str, path: str, origin: str, reason: str
) -> None:
    found = [r for r in rows(explain.table(result)) if r[0] == document and r[2] == path]
    assert any(r[4] == origin and reason in r[3] for r in found), found


def test_every_change_has_one_row_with_a_profile_field(result: Result) -> None:
    table = Counter((op, path, origin) for _, op, path, _, origin in rows(explain.table(result)))
    expected = Counter(
        (
            change.op,
            change.path or "(new document)",
            ".".join(x for x in (change.partition, change.field) if x),
        )
        for change in result.changes
    )
    assert table == expected
    assert all(change.field for change in result.changes)


def test_table_lists_notes(result: Result) -> None:
    assert "note: " in explain.table(result)


def test_diff_has_kind_name_headers_per_document(result: Result) -> None:
    text = explain.diff(result)
    headers = re.findall(r"^--- a/(.*)$", text, flags=re.M)
    # in stream order, added documents last
    assert headers == [
        CONTROLLER,
        "NodeSet/slinky-slurm-worker-cpu (slurm/templates/nodeset/nodeset-cr.yaml)",
        GPU,
        CONFIGMAP,
        NODEPOOL,
    ]
    assert f"+++ b/{NODEPOOL}" in text
    assert "+kind: NodePool\n" in text and "+  name: slurm-gpu-pool\n" in text
    assert re.search(r"^\+ +karpenter.sh/nodepool: slurm-gpu-pool$", text, flags=re.M)
    assert "+    GresTypes=gpu\n" in text
    assert "\x1b[" not in text


def test_diff_colour(result: Result) -> None:
    text = explain.diff(result, colour=True)
    assert "\x1b[32m+kind: NodePool\x1b[0m" in text
    assert "\x1b[36m@@" in text
    assert f"--- a/{GPU}\n" in text  # file headers stay plain


def test_nothing_to_explain_on_a_second_run(result: Result) -> None:
    _, profiles = _paths()
    again = post_render(result.output, load_profile(profiles))
    assert "no changes: the release already carries" in explain.table(again)
    assert explain.diff(again) == ""


def test_cli_explain_and_diff() -> None:
    source, profiles = _paths()
    runner = CliRunner()
    table = runner.invoke(slinky_main, ["explain", "-c", profiles, "--format", "table", source])
    assert table.exit_code == 0, table.output
    assert "[gpu-partition.karpenter.nodepool]" in table.output
    assert "--- a/" not in table.output
    diff = runner.invoke(slinky_main, ["diff", "-c", profiles, "--no-color", source])
    assert diff.exit_code == 0, diff.output
    assert f"--- a/{NODEPOOL}" in diff.output
