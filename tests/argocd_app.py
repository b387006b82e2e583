"""An Argo CD application source directory and build environment for the slinky-pr
Config Management Plugin (docs/argocd/plugin.yaml): shared by the plugin test on the host
(tests/cli/test_argocd_cmp.py) and the sidecar image test (tests/e2e/test_argocd_image.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ARGOCD = ROOT / "docs" / "argocd"
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
# A template showing what Helm was told of the destination cluster.
CAPABILITIES = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: capabilities}
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  exampleApi: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
"""
# What Argo CD's repo-server sets for a plugin: the application and its destination's
# Kubernetes version and API versions (the build environment).
BUILD_ENV = {
    "ARGOCD_APP_NAME": "slinky",
    "ARGOCD_APP_NAMESPACE": "slurm",
    "KUBE_VERSION": "1.31.2",
    "KUBE_API_VERSIONS": "example.com/v1,apps/v1",
}
# The helm template arguments the plugin must derive from BUILD_ENV.
HELM_ARGS = [
    "template", "slinky", ".", "--namespace", "slurm", "--values", "values.yaml",
    "--kube-version", "1.31.2", "--api-versions", "example.com/v1,apps/v1",
]  # fmt: skip
# The chart's auth Secrets carry new random keys on every render.
RANDOM_KEYS = re.compile(r"(?m)^(  (?:slurm|jwt)\.key: ).*$")


def make_app(source: Path) -> None:
    """The fixture chart with its values, the capabilities template and the catalogue."""
    shutil.copytree(CHART, source)
    (source / "templates" / "capabilities.yaml").write_text(CAPABILITIES)
    shutil.copy(PROFILES, source / "slinky-profiles.yaml")


def command(step: str) -> list[str]:
    """The plugin's ``init`` or ``generate`` command line, as plugin.yaml gives it."""
    spec: dict[str, Any] = yaml.safe_load((ARGOCD / "plugin.yaml").read_text())["spec"]
    return [*spec[step]["command"], *spec[step]["args"]]


def without_random_keys(stream: str) -> str:
    return RANDOM_KEYS.sub(r"\1", stream)
