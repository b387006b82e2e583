"""`helm slinky` and the post-renderer plugin under the real Helm 4 command-line binary.

The binary is built from Helm's Go module by the project's e2e build into
``${SLINKY_E2E_CACHE:-~/.cache/slinky-pr/e2e}/bin/helm4``; without it these tests skip
(and fail under CI). Every Helm directory is a temporary one; nothing contacts a cluster.
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
from helm_cli import HelmCli
from needs import missing

from postrender.golden.cases import normalize

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
VENV_BIN = Path(sys.executable).parent
MASKS = [{"kind": "Secret", "path": "data"}]
#: What a plugin needs from a clone (not tests or data), as a user's checkout has it.
NOT_PLUGIN = shutil.ignore_patterns(
    ".git", ".venv", "venv", "bench", "fuzz", "tests", "testdata", "docs", "build",
    "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
)  # fmt: skip


@pytest.fixture(scope="module")
def helm4_binary() -> Path:
    cache = Path(os.environ.get("SLINKY_E2E_CACHE") or Path.home() / ".cache/slinky-pr/e2e")
    binary = cache / "bin" / "helm4"
    if not os.access(binary, os.X_OK):
        missing(f"no Helm 4 binary at {binary} (built by the e2e build)", "the Helm 4 CLI tests")
    return binary


def git(repo: Path, *args: str | Path) -> str:
    done = subprocess.run(
        ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout


def clone_with_sentinel(destination: Path) -> tuple[Path, Path]:
    """A committed clone of the plugin's files and a git-ignored file of the user's in it."""
    if shutil.which("git") is None:
        missing("no git (Helm's VCS plugin installer runs it)", "the Helm 4 plugin tests")
    shutil.copytree(ROOT, destination, ignore=NOT_PLUGIN)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "copy")
    sentinel = destination / "bench" / "out" / "results.json"
    sentinel.parent.mkdir(parents=True)
    sentinel.write_text("precious\n")
    assert git(destination, "check-ignore", sentinel).strip()
    return destination, sentinel


def by_name(stream: str) -> dict[str, dict[str, Any]]:
    docs = (d for d in yaml.safe_load_all(stream) if isinstance(d, dict))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def test_helm4_git_url_install_update_uninstall_keeps_user_files(
    helm4_binary: Path, tmp_path: Path
) -> None:
    helm = HelmCli(helm4_binary, tmp_path / "home", slinky_on_path=False)
    helm.env["SLINKY_PYTHON"] = sys.executable
    clone, sentinel = clone_with_sentinel(tmp_path / "slinky-pr")

    helm("plugin", "install", "--verify=false", f"file://{clone}")
    plugin_dir = helm.plugins / "slinky-pr"
    assert plugin_dir.is_dir() and not plugin_dir.is_symlink()
    venv = plugin_dir / ".venv"
    assert (venv / "bin" / "slinky").exists() and not (clone / ".venv").exists()

    rendered = helm("-n", "slurm", "slinky", "render", "slinky", CHART, "--config", PROFILES)
    gpu = by_name(rendered.stdout)["NodeSet/slinky-slurm-worker-gpu"]
    assert "Gres=gpu:a100:8" in str(gpu["spec"])

    plugin_yaml = clone / "plugin.yaml"
    plugin_yaml.write_text(plugin_yaml.read_text().replace("  Tools for", "  (updated) Tools for"))
    git(clone, "commit", "-q", "-am", "a change")
    (venv / "stale").write_text("")
    helm("plugin", "update", "slinky")
    assert "(updated)" in (plugin_dir / "plugin.yaml").read_text()
    assert not (venv / "stale").exists() and (venv / "bin" / "slinky").exists()
    after = helm("-n", "slurm", "slinky", "render", "slinky", CHART, "--config", PROFILES)
    assert normalize(after.stdout, MASKS) == normalize(rendered.stdout, MASKS)
    assert sentinel.read_text() == "precious\n"

    helm("plugin", "uninstall", "slinky")
    assert not plugin_dir.exists()
    assert sentinel.read_text() == "precious\n"
    assert git(clone, "status", "--porcelain") == ""


def test_helm4_link_to_a_git_checkout_is_refused(helm4_binary: Path, tmp_path: Path) -> None:
    helm = HelmCli(helm4_binary, tmp_path / "home", slinky_on_path=True)
    clone, sentinel = clone_with_sentinel(tmp_path / "slinky-pr")
    refused = helm("plugin", "install", "--verify=false", clone, check=False)
    assert refused.returncode != 0
    assert f"helm plugin install file://{clone}" in refused.stderr
    assert list(helm.plugins.iterdir()) == []
    assert sentinel.read_text() == "precious\n"


def test_helm4_post_renderer_plugin_link_survives_update(
    helm4_binary: Path, tmp_path: Path
) -> None:
    """plugins/slinky-pr is linked (a directory without .git): `helm plugin update` finds no
    source to pull and changes nothing; the plugin keeps post-rendering."""
    helm = HelmCli(helm4_binary, tmp_path / "home", slinky_on_path=True)
    clone, sentinel = clone_with_sentinel(tmp_path / "slinky-pr")
    helm("plugin", "install", "--verify=false", clone / "plugins" / "slinky-pr")
    template = (
        "template", "slinky", CHART, "-n", "slurm",
        "--post-renderer", "slinky-pr", "--post-renderer-args", f"--config={PROFILES}",
    )  # fmt: skip
    before = helm(*template).stdout
    updated = helm("plugin", "update", "slinky-pr", check=False)
    assert updated.returncode != 0 and "cannot get information about plugin source" in (
        updated.stderr
    )
    assert normalize(helm(*template).stdout, MASKS) == normalize(before, MASKS)
    assert "Gres=gpu:a100:8" in before
    helm("plugin", "uninstall", "slinky-pr")
    assert sentinel.read_text() == "precious\n"
    assert (clone / "plugins" / "slinky-pr" / "plugin.yaml").exists()


def test_helm4_links_a_local_directory_under_the_data_home_not_helm_plugins(
    helm4_binary: Path, tmp_path: Path
) -> None:
    """Why the docs separate Helm 4 by HELM_DATA_HOME: HELM_PLUGINS alone strands the link."""
    helm = HelmCli(helm4_binary, tmp_path / "home", slinky_on_path=True)
    helm.env["HELM_PLUGINS"] = str(tmp_path / "helm4-plugins")
    helm("plugin", "install", "--verify=false", ROOT / "plugins" / "slinky-pr")
    assert (helm.plugins / "slinky-pr").is_symlink()
    assert not (tmp_path / "helm4-plugins").exists()
    assert "slinky-pr" not in helm("plugin", "list").stdout


def test_helm4_color_flag_reaches_helm_slinky_lint(helm4_binary: Path, tmp_path: Path) -> None:
    """Helm 4 hands `--color` to the plugin, after the command or (its global flag) before."""
    helm = HelmCli(helm4_binary, tmp_path / "home", slinky_on_path=True)
    clone, _ = clone_with_sentinel(tmp_path / "slinky-pr")
    helm("plugin", "install", "--verify=false", f"file://{clone}")
    lint = ("lint", "slinky", CHART, "--config", PROFILES)
    for args, coloured in (
        (("slinky", *lint, "--color=always"), True),
        (("--color", "always", "slinky", *lint), True),
        (("slinky", *lint, "--color", "never"), False),
        (("--color=never", "slinky", *lint), False),
    ):
        done = helm(*args)
        assert "info" in done.stdout and ("\x1b[" in done.stdout) is coloured, args


def test_helm4_slinky_render_passes_helm_template_flags_unchanged(
    helm4_binary: Path, tmp_path: Path
) -> None:
    """Helm 4 keeps -n for itself (HELM_NAMESPACE) and hands the rest to the plugin, which
    gives it to `$HELM_BIN template` as it came."""
    helm = HelmCli(helm4_binary, tmp_path / "home", slinky_on_path=True)
    clone, _ = clone_with_sentinel(tmp_path / "slinky-pr")
    helm("plugin", "install", "--verify=false", f"file://{clone}")
    conf = tmp_path / "extra.conf"
    conf.write_text("SchedulerParameters=bf_continue")
    args = [
        "slinky", CHART, "-n", "slurm", "-f", CHART / "values.yaml",
        "--set-string", "imagePullPolicy=Always", "--set-json", "nodesets.gpu.replicas=3",
        "--set-file", f"controller.extraConf={conf}", "--kube-version", "1.31.2",
    ]  # fmt: skip
    ours = helm("slinky", "render", *args, "--config", PROFILES).stdout
    plain = helm("template", *args).stdout
    piped = subprocess.run(
        [VENV_BIN / "slinky-pr", "--config", PROFILES],
        input=plain, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert normalize(ours, MASKS) == normalize(piped, MASKS)
    docs = by_name(ours)
    gpu = docs["NodeSet/slinky-slurm-worker-gpu"]
    assert gpu["metadata"]["namespace"] == "slurm"
    assert gpu["spec"]["replicas"] == 3
    assert "SchedulerParameters=bf_continue" in str(docs["Controller/slinky-slurm"]["spec"])
