"""slinky-pr inside the real Helm v4 post-render pipeline (helm-python-sdk), end to end.

Helm 4 runs the post-renderer plugin from ``plugins/slinky-pr`` (found through a fresh
``HELM_PLUGINS``), exactly as ``helm install --post-renderer slinky-pr`` would. These tests
skip only where helm_python does not import, and fail instead under CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_engine as he
import pytest
import yaml

from postrender.golden.cases import normalize

ROOT = Path(__file__).parent.parent
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
PLUGINS = ROOT / "plugins"

pytestmark = pytest.mark.skipif(
    not he.engine_available() and not os.environ.get("CI"),
    reason="helm-python-sdk (the embedded Helm v4 engine) is not installed",
)


def by_name(stream: str) -> dict[str, dict[str, Any]]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in he.documents(stream)}


@pytest.fixture(scope="module", params=["1.3", "1.0"])
def installed(request: pytest.FixtureRequest) -> he.HelmResult:
    result = he.install_dry_run(
        CHART,
        {"shape": request.param},
        PLUGINS,
        post_renderer="slinky-pr",
        post_renderer_args=["--config", str(PROFILES)],
    )
    assert result.ok, result.error + "\n" + "".join(c.stderr for c in result.calls)
    return result


def test_nodesets_patched_as_the_profile_says(installed: he.HelmResult) -> None:
    objects = by_name(installed.manifest)
    gpu = objects["NodeSet/slinky-slurm-worker-gpu"]
    assert gpu["spec"]["slurmd"]["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert gpu["spec"]["slurmd"]["resources"]["limits"]["vpc.amazonaws.com/efa"] == 4
    assert (
        gpu["spec"]["template"]["spec"]["nodeSelector"]["karpenter.sh/nodepool"] == "slurm-gpu-pool"
    )
    assert "Gres=gpu:a100:8" in gpu["spec"]["extraConf"]
    controller = objects["Controller/slinky-slurm"]
    assert "PartitionName=gpu-partition Nodes=gpu" in controller["spec"]["extraConf"]
    assert controller["spec"]["configFileRefs"] == [{"name": "slinky-slurm-gres-conf"}]


def test_every_document_keeps_its_source_and_added_ones_are_named(installed: he.HelmResult) -> None:
    sources = he.sources(installed.manifest)
    assert not [s for s in sources if "generated-by-postrender" in s]
    assert "slurm/templates/slinky-pr/gres-conf.yaml" in sources
    assert "slurm/templates/nodeset/nodeset-cr.yaml" in sources
    # Helm writes one "# Source:" per document; a second one would be our comment kept as text.
    added = installed.manifest.split("# Source: slurm/templates/slinky-pr/gres-conf.yaml", 1)[1]
    assert "# Source:" not in added.split("\n---", 1)[0]
    # Helm 4 strips the filename annotation after filing the document.
    assert "postrenderer.helm.sh/postrender-filename" not in installed.manifest


def test_hooks_pass_through(installed: he.HelmResult) -> None:
    (call,) = installed.calls
    assert "helm.sh/hook" in call.stdin
    assert [yaml.safe_load(h)["kind"] for h in he.hook_documents(call.stdout)] == ["Job"]


def test_template_piped_into_slinky_pr_gives_the_same_documents(installed: he.HelmResult) -> None:
    shape = "1.0" if "jwths256" in installed.manifest else "1.3"
    rendered = he.render(CHART, {"shape": shape}, include_hooks=False)
    piped = subprocess.run(
        [sys.executable, "-m", "postrender", "--config", str(PROFILES)],
        input=rendered,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    masks = [{"kind": "Secret", "path": "data"}]
    assert normalize(piped, masks) == normalize(installed.manifest, masks)


def test_broken_profile_fails_helm_and_the_log_file_says_why(tmp_path: Path) -> None:
    bad = tmp_path / "profiles.yaml"
    bad.write_text(
        "clusters:\n  - name: c\n    partitions:\n"
        "      - name: gpu-partition\n        gres: gpu:eight\n"
    )
    log = tmp_path / "slinky-pr.log"
    result = he.install_dry_run(
        CHART,
        {},
        PLUGINS,
        post_renderer="slinky-pr",
        post_renderer_args=["--config", str(bad), "--log-file", str(log)],
    )
    assert not result.ok
    assert "exited with error" in result.error
    text = log.read_text()
    assert "profiles.yaml:5" in text and "gres" in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_log_file_from_environment_when_helm_hides_stderr(tmp_path: Path) -> None:
    log = tmp_path / "env.log"
    result = he.install_dry_run(
        CHART,
        {},
        PLUGINS,
        post_renderer="slinky-pr",
        post_renderer_args=[],  # no --config: annotated NodeSets make this an error
        env={"SLINKY_PR_LOG_FILE": str(log)},
    )
    assert not result.ok
    assert "no profile was given" in log.read_text()
