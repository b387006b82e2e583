"""Helm 3 CLI, the upstream `slurm` chart and slinky-pr against a real kube-apiserver with the
Slinky operator and its validating webhooks (tools/e2e/devcluster.py).

`helm upgrade --install --post-renderer slinky-pr` as users run it: the first install (the
Controller webhook denies a Controller whose gres.conf ConfigMap does not exist yet), an
upgrade that adds a GPU partition, `helm rollback`, and a broken profile that must leave
the release as it was. Each test has its own namespace and release.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from devcluster import Cluster, ClusterError
from e2e_stack import (
    FULLNAME,
    RELEASE,
    VALUES,
    Helm,
    config,
    controller,
    get,
    helm_for,
    install,
    nodeset,
    operator_at_least,
    refused_upgrade,
    upgrade_and_roll_back,
)
from helm_cli import BROKEN_PROFILE


@pytest.fixture
def helm3(tmp_path: Path, cluster: Cluster) -> Helm:
    helm = helm_for("helm3", tmp_path, cluster)
    assert helm("version", "--template", "{{.Version}}").stdout.startswith("v3.")
    return helm


def test_first_install_passes_the_controller_webhook(
    helm3: Helm, chart: Path, cluster: Cluster
) -> None:
    ns = "h3-first"
    done = install(helm3, chart, ns, *config())
    assert done.returncode == 0, done.stderr
    assert helm3.history(RELEASE, ns)[-1]["status"] == "deployed"
    # what slinky-pr added is what the API server stored
    refs = [r["name"] for r in controller(cluster, ns)["spec"]["configFileRefs"]]
    assert f"{FULLNAME}-gres-conf" in refs
    gres = get(cluster, "configmap", ns, f"{FULLNAME}-gres-conf")
    assert "AutoDetect=nvidia" in gres["data"]["gres.conf"]
    gpu = nodeset(cluster, ns, "gpu")
    assert "Gres=gpu:a100:8" in gpu["spec"]["extraConf"]
    assert gpu["spec"]["template"]["spec"]["nodeSelector"]["karpenter.sh/nodepool"] == (
        "slurm-gpu-pool"
    )

    # The webhook is really on: the same Controller naming a ConfigMap that does not exist
    # is denied (the first-install failure slinky-pr's ordering avoids).
    bad = controller(cluster, ns)
    bad["metadata"] = {"name": "no-gres-conf", "namespace": ns}
    bad["spec"]["configFileRefs"] = [{"name": "does-not-exist"}]
    bad.pop("status", None)
    with pytest.raises(ClusterError, match=r"denied the request.*does-not-exist"):
        cluster.kubectl("create", "-f", "-", stdin=json.dumps(bad))


def test_upgrade_adds_a_gpu_partition_and_rollback_removes_it(helm3: Helm, chart: Path) -> None:
    ns = "h3-upgrade"
    assert install(helm3, chart, ns, *config()).returncode == 0
    upgrade_and_roll_back(helm3, chart, ns, *config())


def test_rollback_to_the_first_revision_fails_without_slinky_pr_too(
    helm3: Helm, chart: Path, cluster: Cluster
) -> None:
    """The chart renders its Secrets only when `lookup` finds none (revision 1), and Helm 3
    refuses to roll back to a revision holding an object the current one does not. Plain
    chart, no post-renderer: the limit is the chart's and Helm 3's (docs/e2e.md)."""
    ns = "h3-plain"
    plain = ("upgrade", "--install", RELEASE, chart, "-n", ns, "--create-namespace", "-f", VALUES)
    helm3(*plain, "--set", "nodesets.gpu.enabled=false")  # no GRES: nothing needs slinky-pr
    helm3(*plain, "--set", "nodesets.gpu.enabled=false")
    rolled = helm3("rollback", RELEASE, "1", "-n", ns, check=False)
    if operator_at_least("1.1"):
        # chart 1.1.0 renders its Secrets in every revision (reusing the data `lookup`
        # finds), so the rollback to revision 1 works
        assert rolled.returncode == 0, rolled.stderr
        return
    assert rolled.returncode != 0
    assert f'no Secret with the name "{FULLNAME}-auth-' in rolled.stderr


def test_broken_profile_leaves_the_release_untouched(
    helm3: Helm, chart: Path, tmp_path: Path
) -> None:
    ns = "h3-broken"
    bad = tmp_path / "profiles.yaml"
    bad.write_text(BROKEN_PROFILE)
    done = refused_upgrade(helm3, chart, ns, config(), config(bad))
    assert "profiles.yaml:5 at clusters[0].partitions[0].gres" in done.stderr
    assert "Traceback" not in done.stderr
    manifest = yaml.safe_load_all(helm3("get", "manifest", RELEASE, "-n", ns).stdout)
    assert f"{FULLNAME}-worker-static" not in {
        d["metadata"]["name"] for d in manifest if isinstance(d, dict)
    }
