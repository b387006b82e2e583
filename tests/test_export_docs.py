"""The Flux and Argo CD docs: their manifests parse, and what they show is what runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from postrender.export import kustomize
from postrender.golden import Case
from postrender.profiles import load_profile

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CASE = Case.load(ROOT / "testdata" / "golden" / "explain-every-change")


def _yaml_blocks(markdown: str) -> list[Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", markdown, flags=re.S)
    return [doc for block in blocks for doc in yaml.safe_load_all(block)]


def _case() -> tuple[str, str]:
    source, profiles = CASE.path("input"), CASE.path("profiles")
    assert source is not None and profiles is not None
    return source.read_text(), str(profiles)


def test_flux_example_matches_the_export() -> None:
    """Every patch the HelmRelease example shows starts as the export writes it."""
    (release,) = [
        d for d in _yaml_blocks((DOCS / "flux.md").read_text()) if d["kind"] == "HelmRelease"
    ]
    shown = release["spec"]["postRenderers"][0]["kustomize"]["patches"]
    text, profiles = _case()
    exported = {
        p["target"]["name"]: p for p in kustomize.export(text, load_profile(profiles)).patches
    }
    for patch in shown:
        full = exported[patch["target"]["name"]]
        assert patch["target"] == full["target"]
        ops = yaml.safe_load(patch["patch"])
        assert ops == yaml.safe_load(full["patch"])[: len(ops)]


def test_argocd_manifests() -> None:
    plugin = yaml.safe_load((DOCS / "argocd" / "plugin.yaml").read_text())
    assert plugin["apiVersion"] == "argoproj.io/v1alpha1"
    assert plugin["kind"] == "ConfigManagementPlugin"
    assert plugin["spec"]["discover"]["fileName"] == "./slinky-profiles.yaml"
    app, project = yaml.safe_load_all((DOCS / "argocd" / "application.yaml").read_text())
    name = f"{plugin['metadata']['name']}-{plugin['spec']['version']}"
    assert app["spec"]["source"]["plugin"]["name"] == name
    allowed = {(r["group"], r["kind"]) for r in project["spec"]["clusterResourceWhitelist"]}
    assert allowed == {("karpenter.sh", "NodePool"), ("karpenter.k8s.aws", "EC2NodeClass")}
    patch = yaml.safe_load((DOCS / "argocd" / "repo-server-patch.yaml").read_text())
    (sidecar,) = patch["spec"]["template"]["spec"]["containers"]
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert sidecar["securityContext"]["runAsUser"] == 999
