"""Helm 4 CLI: the post-renderer plugin (plugins/slinky-pr) and the `helm slinky` plugin
installed with `helm plugin install`, then install, upgrade, rollback and a broken profile
against the real kube-apiserver, operator and webhooks (tools/e2e/devcluster.py), and
`helm slinky render|lint` run by the Helm 4 binary.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from devcluster import Cluster, ClusterError
from e2e_stack import (
    BROKEN_PROFILE,
    PROFILES,
    ROOT,
    SLINKY,
    STATIC_GPU,
    VALUES,
    Helm,
    eventually,
    get,
    helm_for,
    retry_webhook_cache_miss,
)

from postrender.golden.cases import normalize

RELEASE = "slinky"
FULLNAME = "slinky-slurm"
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


def install(helm: Helm, chart: Path, namespace: str, *extra: str | Path) -> Any:
    return retry_webhook_cache_miss(helm.cluster, namespace, lambda: helm(
        "upgrade", "--install", RELEASE, chart, "-n", namespace, "--create-namespace",
        "-f", VALUES, *extra, "--post-renderer", "slinky-pr", check=False,
    ))  # fmt: skip


def config(profiles: Path = PROFILES) -> list[str]:
    return ["--post-renderer-args", f"--config={profiles}"]


def nodeset(cluster: Cluster, namespace: str, key: str) -> Any:
    return get(cluster, f"nodesets.{SLINKY}", namespace, f"{FULLNAME}-worker-{key}")


def controller(cluster: Cluster, namespace: str) -> Any:
    return get(cluster, f"controllers.{SLINKY}", namespace, FULLNAME)


def test_install_upgrade_rollback_through_the_plugin(
    helm4: Helm, chart: Path, cluster: Cluster
) -> None:
    ns = "h4-cycle"
    done = install(helm4, chart, ns, *config())
    assert done.returncode == 0, done.stderr
    refs = [r["name"] for r in controller(cluster, ns)["spec"]["configFileRefs"]]
    assert f"{FULLNAME}-gres-conf" in refs
    assert "Gres=gpu:a100:8" in nodeset(cluster, ns, "gpu")["spec"]["extraConf"]

    assert install(helm4, chart, ns, *config()).returncode == 0  # rev. 2 (see Helm 3 tests)
    done = install(helm4, chart, ns, "-f", STATIC_GPU, *config())
    assert done.returncode == 0, done.stderr
    assert "Gres=gpu:8" in nodeset(cluster, ns, "static")["spec"]["extraConf"]
    assert "PartitionName=static-gpu-partition" in controller(cluster, ns)["spec"]["extraConf"]

    rolled = helm4("rollback", RELEASE, "2", "-n", ns, check=False)
    assert rolled.returncode == 0, rolled.stderr
    assert [r["status"] for r in helm4.history(RELEASE, ns)][-1] == "deployed"
    assert "PartitionName=static-gpu-partition" not in controller(cluster, ns)["spec"]["extraConf"]

    def static_gone() -> bool:
        try:
            nodeset(cluster, ns, "static")
        except ClusterError as err:
            return "NotFound" in str(err)
        return False

    eventually(static_gone)


def test_broken_profile_leaves_the_release_untouched(
    helm4: Helm, chart: Path, cluster: Cluster, tmp_path: Path
) -> None:
    ns = "h4-broken"
    assert install(helm4, chart, ns, *config()).returncode == 0
    history = helm4.history(RELEASE, ns)
    before = nodeset(cluster, ns, "gpu")["metadata"]["generation"]
    bad = tmp_path / "profiles.yaml"
    bad.write_text(BROKEN_PROFILE)
    log = tmp_path / "slinky-pr.log"

    # Helm 4 does not show a post-renderer plugin's stderr: --log-file keeps the message
    args = [*config(bad), "--post-renderer-args", f"--log-file={log}"]
    done = install(helm4, chart, ns, "-f", STATIC_GPU, *args)
    assert done.returncode != 0
    assert "profiles.yaml:5 at clusters[0].partitions[0].gres" in log.read_text()
    assert helm4.history(RELEASE, ns) == history
    assert nodeset(cluster, ns, "gpu")["metadata"]["generation"] == before
    with pytest.raises(ClusterError, match="NotFound"):
        nodeset(cluster, ns, "static")


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
