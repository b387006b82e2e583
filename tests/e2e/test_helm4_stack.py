"""Helm 4 CLI: the post-renderer plugin (plugins/slinky-pr) and the `helm slinky` plugin
installed with `helm plugin install`, then install, upgrade, rollback and a broken profile
against the real kube-apiserver, operator and webhooks (tools/e2e/devcluster.py), and
`helm slinky render|lint` run by the Helm 4 binary.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from devcluster import Cluster
from e2e_stack import (
    FULLNAME,
    PROFILES,
    RELEASE,
    ROOT,
    VALUES,
    Helm,
    config,
    controller,
    helm_for,
    install,
    nodeset,
    refused_upgrade,
    upgrade_and_roll_back,
)
from helm_cli import BROKEN_PROFILE

from postrender.golden.cases import normalize

#: Random keys in the chart's Secrets differ between two renders.
MASKS = [{"kind": "Secret", "path": "data"}]
NOT_PLUGIN = shutil.ignore_patterns(
    ".git", ".venv", "venv", "bench", "fuzz", "tests", "testdata", "docs", "build",
    "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
)  # fmt: skip


@pytest.fixture
def helm4(tmp_path: Path, cluster: Cluster) -> Helm:
    helm = helm_for("helm4", tmp_path / "home", cluster)
    assert helm("version", "--template", "{{.Version}}").stdout.startswith("v4.")
    # the CLI plugin from a copy of the files a clone has (a link to a git checkout is
    # refused); a local directory cannot be signed: --verify=false (README)
    clone = tmp_path / "clone"  # Helm names the link after it; plugins/slinky-pr takes slinky-pr
    shutil.copytree(ROOT, clone, ignore=NOT_PLUGIN)
    for source in (clone / "plugins" / "slinky-pr", clone):
        installed = helm("plugin", "install", "--verify=false", source)
        assert "Installed plugin:" in installed.stdout
    listed = helm("plugin", "list").stdout
    assert "postrenderer/v1" in listed and "cli/v1" in listed
    return helm


def test_install_upgrade_rollback_through_the_plugin(
    helm4: Helm, chart: Path, cluster: Cluster
) -> None:
    ns = "h4-cycle"
    done = install(helm4, chart, ns, *config())
    assert done.returncode == 0, done.stderr
    refs = [r["name"] for r in controller(cluster, ns)["spec"]["configFileRefs"]]
    assert f"{FULLNAME}-gres-conf" in refs
    assert "Gres=gpu:a100:8" in nodeset(cluster, ns, "gpu")["spec"]["extraConf"]

    upgrade_and_roll_back(helm4, chart, ns, *config())


def test_broken_profile_leaves_the_release_untouched(
    helm4: Helm, chart: Path, tmp_path: Path
) -> None:
    ns = "h4-broken"
    bad = tmp_path / "profiles.yaml"
    bad.write_text(BROKEN_PROFILE)
    log = tmp_path / "slinky-pr.log"
    # Helm 4 does not show a post-renderer plugin's stderr: --log-file keeps the message
    refused_upgrade(
        helm4, chart, ns, config(), [*config(bad), "--post-renderer-args", f"--log-file={log}"]
    )
    assert "profiles.yaml:5 at clusters[0].partitions[0].gres" in log.read_text()


def test_helm_slinky_render_and_lint_under_helm4(helm4: Helm, chart: Path) -> None:
    rendered = helm4(
        "-n", "slurm", "slinky", "render", RELEASE, chart, "-f", VALUES, "--config", PROFILES
    )  # fmt: skip
    through_plugin = helm4(
        "template", RELEASE, chart, "-n", "slurm", "-f", VALUES,
        "--post-renderer", "slinky-pr", *config(),
    ).stdout  # fmt: skip
    docs = {d["metadata"]["name"] for d in yaml.safe_load_all(rendered.stdout) if d}
    assert f"{FULLNAME}-gres-conf" in docs
    assert normalize(rendered.stdout, MASKS) == normalize(through_plugin, MASKS)

    lint = helm4(
        "slinky", "lint", RELEASE, chart, "-f", VALUES, "--config", PROFILES, "--format", "json",
        check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stderr
    report = yaml.safe_load(lint.stdout)
    assert report["post_rendered"] and report["summary"]["error"] == 0
    # the one finding: the GPU partition's tolerations replace the operator's default
    assert [(f["rule"], f["object"]) for f in report["findings"]] == [
        ("SPR-O002", f"NodeSet/{FULLNAME}-worker-gpu")
    ]
