"""The Flux and Argo CD docs: their manifests parse, and what they show is what runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from postrender.engine import post_render
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


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """An Argo CD-like environment: app source dir, a fake helm, slinky-pr on PATH."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not available")
    text, profiles = _case()
    source = tmp_path / "app"
    source.mkdir()
    shutil.copy(profiles, source / "slinky-profiles.yaml")
    (source / "values.yaml").write_text("{}\n")
    (tmp_path / "release.yaml").write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    # Stands in for `helm template`: checks the arguments the plugin passes, prints the release.
    helm.write_text(
        "#!/bin/sh\n"
        '[ "$*" = "template slinky . --namespace slurm --values values.yaml" ] || '
        '{ echo "unexpected: $*" >&2; exit 1; }\n'
        f"cat {tmp_path / 'release.yaml'}\n"
    )
    helm.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {
        "PATH": path,
        "HOME": str(tmp_path),
        "ARGOCD_APP_NAME": "slinky",
        "ARGOCD_APP_NAMESPACE": "slurm",
        "SOURCE": str(source),
    }


def _generate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    plugin = yaml.safe_load((DOCS / "argocd" / "plugin.yaml").read_text())
    generate = plugin["spec"]["generate"]
    return subprocess.run(
        [*generate["command"], *generate["args"]],
        cwd=env["SOURCE"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_argocd_plugin_generates_slinky_prs_output(plugin_env: dict[str, str]) -> None:
    if shutil.which("slinky-pr", path=plugin_env["PATH"]) is None:
        pytest.skip("slinky-pr is not installed next to this Python")
    run = _generate(plugin_env)
    assert run.returncode == 0, run.stderr
    text, profiles = _case()
    assert run.stdout == post_render(text, load_profile(profiles)).output


def test_argocd_plugin_fails_closed(plugin_env: dict[str, str]) -> None:
    """A failing helm fails the plugin, with no manifests that could prune the release."""
    run = _generate({**plugin_env, "ARGOCD_APP_NAME": "other"})
    assert run.returncode != 0
    assert run.stdout == ""
