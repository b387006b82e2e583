"""`slinky export kustomize`: the change plan as patches that Kustomize applies to the same end."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from needs import built_or_on_path, missing

from postrender.cli.slinky import slinky_main
from postrender.errors import SlinkyError
from postrender.export import kustomize
from postrender.golden.cases import Case
from postrender.model.profiles import load_profile, parse_profile
from postrender.pipeline import post_render

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "testdata" / "golden"
RENDERED = ROOT / "testdata" / "upstream" / "rendered"
EXAMPLES = ROOT / "testdata" / "examples" / "profiles.yaml"


def _case(name: str) -> tuple[str, Any]:
    case = Case.load(GOLDEN / name)
    source, profiles = case.path("input"), case.path("profiles")
    assert source is not None and profiles is not None
    return source.read_text(), load_profile(str(profiles), case.spec.get("cluster"))


def _with_list() -> str:
    """The 1.3.0-rc1 release with its NodeSets wrapped in one ``kind: List`` document."""
    docs = list(yaml.safe_load_all((RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()))
    nodesets = [d for d in docs if d and d["kind"] == "NodeSet"]
    rest = [d for d in docs if d and d["kind"] != "NodeSet"]
    listed = {"apiVersion": "v1", "kind": "List", "items": nodesets}
    return "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in [*rest, listed])


CASES = {
    "every-change": lambda: _case("explain-every-change"),
    "karpenter-helm4": lambda: _case("karpenter-gpu-efa-p5"),
    "chart-1.0.1": lambda: (
        (RENDERED / "slurm-1.0.1_gpu-cpu.yaml").read_text(),
        load_profile(str(EXAMPLES)),
    ),
    "list-document": lambda: (_with_list(), load_profile(str(EXAMPLES))),
}


def objects(text: str) -> dict[tuple[str, str, str], Any]:
    """Documents as a set of objects keyed by kind/namespace/name (List items flattened)."""
    out = {}
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        for obj in doc["items"] if doc.get("kind") == "List" else [doc]:
            meta = obj.get("metadata") or {}
            out[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
    return out


# --- the plan as patches --------------------------------------------------------------


def test_collapse_keeps_the_last_value_of_a_path() -> None:
    ops = [
        {"op": "add", "path": "/spec/extraConf", "value": "a"},
        {"op": "replace", "path": "/spec/extraConf", "value": "a\nb"},
        {"op": "replace", "path": "/spec/extraConf", "value": "a\nb\nc"},
    ]
    # the member was absent in the input, so the surviving op must stay an add
    assert kustomize.collapse(ops) == [{"op": "add", "path": "/spec/extraConf", "value": "a\nb\nc"}]


def test_collapse_drops_edits_below_a_later_set() -> None:
    ops = [
        {"op": "add", "path": "/a", "value": {}},
        {"op": "add", "path": "/a/b", "value": 1},
        {"op": "add", "path": "/l/-", "value": 1},
        {"op": "add", "path": "/l/-", "value": 2},
        {"op": "replace", "path": "/a", "value": {"c": 2}},
    ]
    assert kustomize.collapse(ops) == [
        {"op": "add", "path": "/l/-", "value": 1},
        {"op": "add", "path": "/l/-", "value": 2},
        {"op": "add", "path": "/a", "value": {"c": 2}},
    ]


def test_patch_set_shape() -> None:
    text, profile = _case("explain-every-change")
    export = kustomize.export(text, profile)
    assert export.files[kustomize.RELEASE_FILE] == text  # the input, byte for byte
    kustomization = yaml.safe_load(export.files[kustomize.KUSTOMIZATION_FILE])
    assert kustomization["resources"] == [
        "release.yaml",
        "slinky-pr/configmap-slinky-slurm-gres-conf.yaml",
        "slinky-pr/nodepool-slurm-gpu-pool.yaml",
    ]
    targets = {p["target"]["name"]: p for p in kustomization["patches"]}
    controller = targets["slinky-slurm"]
    assert controller["target"] == {
        "group": "slinky.slurm.net",
        "version": "v1beta1",
        "kind": "Controller",
        "name": "slinky-slurm",
        "namespace": "slurm",
    }
    ops = yaml.safe_load(controller["patch"])
    # four replaces of extraConf (three partition lines, GresTypes) collapse to the last
    assert [o["path"] for o in ops] == ["/spec/extraConf", "/spec/configFileRefs"]
    assert ops[0]["value"].endswith("GresTypes=gpu")
    gpu = yaml.safe_load(targets["slinky-slurm-worker-gpu"]["patch"])
    assert "/spec/template/spec/nodeSelector/karpenter.sh~1nodepool" in [o["path"] for o in gpu]
    flux = yaml.safe_load(export.files[kustomize.FLUX_FILE])
    assert flux["postRenderers"][0]["kustomize"]["patches"] == kustomization["patches"]
    assert "slinky-pr/nodepool-slurm-gpu-pool.yaml" in export.files[kustomize.FLUX_FILE]


def test_no_changes_no_patches() -> None:
    text = (RENDERED / "slurm-1.3.0-rc1_default.yaml").read_text()
    profile = parse_profile("clusters: [{name: c, partitions: []}]")
    export = kustomize.export(text, profile)
    assert "patches" not in yaml.safe_load(export.files[kustomize.KUSTOMIZATION_FILE])


def test_two_tolerations_on_a_nodeset_without_tolerations() -> None:
    docs = list(yaml.safe_load_all((RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()))
    for doc in docs:
        if doc and doc["kind"] == "NodeSet":
            del doc["spec"]["template"]["spec"]["tolerations"]
    text = "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in docs if d)
    profile = parse_profile(
        """
clusters:
  - name: c
    partitions:
      - name: gpu-partition
        tolerations:
          - {key: a, operator: Exists, effect: NoSchedule}
          - {key: b, operator: Exists, effect: NoSchedule}
      - name: cpu-partition
"""
    )
    kustomize.export(text, profile)


# --- a real kustomize --------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubectl() -> str:
    """kubectl with its built-in kustomize (the one `make e2e-build` builds, else one on
    PATH); skipped without it, except under CI."""
    path = built_or_on_path("kubectl")
    if path is None:
        missing(
            "no kubectl (`make e2e-build` builds one): cannot check the export with a real "
            "kustomize",
            "the kustomize equivalence test",
        )
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_kubectl_kustomize_gives_slinky_prs_output(name: str, kubectl: str, tmp_path: Path) -> None:
    text, profile = CASES[name]()
    expected = objects(post_render(text, profile).output)
    kustomize.write(kustomize.export(text, profile).files, tmp_path)
    run = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    got = objects(run.stdout)
    assert got.keys() == expected.keys()
    for key, obj in expected.items():
        assert got[key] == obj, key


# --- command line --------------------------------------------------------------------------


def test_cli_writes_the_directory(tmp_path: Path) -> None:
    case = Case.load(GOLDEN / "explain-every-change")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        slinky_main,
        [
            "export",
            "kustomize",
            "--config",
            str(case.path("profiles")),
            str(case.path("input")),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "kustomization.yaml").is_file()
    assert (
        (out / "slinky-pr" / "nodepool-slurm-gpu-pool.yaml")
        .read_text()
        .startswith("---\n# Source: slurm/templates/slinky-pr/nodepool-slurm-gpu-pool.yaml\n")
    )
    assert "3 patch(es), 2 added document(s)" in result.output


def test_cli_needs_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLINKY_PR_CONFIG", raising=False)
    stream = RENDERED / "slurm-1.3.0-rc1_gpu-cpu.yaml"
    result = CliRunner().invoke(
        slinky_main, ["export", "kustomize", str(stream), "-o", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no profile given" in result.output


def test_errors_surface_as_slinky_errors() -> None:
    with pytest.raises(SlinkyError):
        kustomize.export("---\nkind: [\n", parse_profile("clusters: [{name: c, partitions: []}]"))
