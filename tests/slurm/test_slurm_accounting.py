"""Accounting for real: slurmdbd and MariaDB in the Slurm 26.05 chroot.

The upstream chart's release with an Accounting object, post-rendered with the example
catalogue plus a GPU-minutes cap (`gpu_minutes: {ml: 10}`): slinky-pr adds
`AccountingStorageTRES=gres/gpu` and `AccountingStorageEnforce=associations,limits,safe`;
the harness starts MariaDB and slurmdbd and creates
the account with its cap (`sacctmgr ... GrpTRESMins=gres/gpu=10`), as an admin would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from postrender.cli.slinky import slinky_main
from postrender.errors import SlinkyError
from postrender.model.profiles import Profile, parse_profile
from postrender.pipeline import post_render
from postrender.slurm.accounting import Account
from postrender.slurm.assemble import assemble
from postrender.slurm.cluster import SlurmCluster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "testdata" / "examples"
ACCOUNTING = (
    "---\napiVersion: slinky.slurm.net/v1beta1\nkind: Accounting\n"
    "metadata: {name: slinky-slurm, namespace: slurm}\n"
    "spec: {slurmKeyRef: {name: k, key: k}, jwtKeyRef: {name: j, key: j}}\n"
)
CAP = "  - name: slinky-cluster\n    gpu_minutes: {ml: 10}\n"


def capped_profile() -> Profile:
    text = (EXAMPLES / "profiles.yaml").read_text()
    assert "  - name: slinky-cluster\n" in text
    return parse_profile(text.replace("  - name: slinky-cluster\n", CAP), "profiles.yaml")


def release_with_accounting() -> str:
    return (EXAMPLES / "release.yaml").read_text() + ACCOUNTING


@pytest.fixture(scope="module")
def output() -> str:
    return post_render(release_with_accounting(), capped_profile()).output


@pytest.fixture(scope="module")
def cluster(
    slurm_required: None, output: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlurmCluster]:
    accounts = [Account("ml", gpu_minutes=10)]
    workdir = tmp_path_factory.mktemp("accounting")
    with SlurmCluster(assemble(output), workdir, accounts=accounts, startup_timeout=60) as running:
        yield running


def test_the_controller_gets_what_enforces_the_cap(output: str) -> None:
    release = assemble(output)
    assert release.has_accounting
    lines = release.controller_extra_conf.splitlines()
    assert "AccountingStorageTRES=gres/gpu" in lines
    assert "AccountingStorageEnforce=associations,limits,safe" in lines


def test_a_cap_without_accounting_is_refused() -> None:
    text = (EXAMPLES / "release.yaml").read_text()
    with pytest.raises(SlinkyError, match="gpu_minutes caps GPU use, but the release has no"):
        post_render(text, capped_profile())


@pytest.mark.slurm
def test_sacct_shows_the_gpus_a_job_had(cluster: SlurmCluster) -> None:
    ran = cluster.run("gpu-partition", gres="gpu:2", time="1", extra=["--account=ml"])
    assert ran.returncode == 0, ran.stderr
    deadline = time.monotonic() + 20
    while True:
        rows = cluster.sacct("--allocations", "--format=JobID,Account,AllocTRES")
        done = [r for r in rows if r[1] == "ml"]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert done, rows
    assert "gres/gpu=2" in done[0][2].split(","), done


@pytest.mark.slurm
def test_a_job_over_the_gpu_minutes_cap_is_held(cluster: SlurmCluster) -> None:
    # 8 GPUs for 10 minutes is 80 GPU-minutes: over the cap of 10, it never starts.
    over = cluster.submit("gpu-partition", gres="gpu:8", time="10", extra=["--account=ml"])
    try:
        cluster.wait_job(over, ["PENDING"], reason="AssocGrpGRESMinutes")
    finally:
        cluster.cancel(over)
    # The same job under the uncapped account of root runs.
    assert cluster.run("gpu-partition", gres="gpu:8", time="10").returncode == 0


@pytest.mark.slurm
def test_why_limits_are_enforced(slurm_required: None, output: str, tmp_path: Path) -> None:
    """Without `limits` in AccountingStorageEnforce, Slurm 26.05 runs the job past the cap."""
    enforce = "AccountingStorageEnforce=associations,limits,safe"
    edited = output.replace(enforce, "AccountingStorageEnforce=associations")
    assert edited != output
    accounts = [Account("ml", gpu_minutes=10)]
    with SlurmCluster(assemble(edited), tmp_path, accounts=accounts, startup_timeout=60) as running:
        ran = running.run("gpu-partition", gres="gpu:8", time="10", extra=["--account=ml"])
        assert ran.returncode == 0, ran.stderr


@pytest.mark.slurm
def test_slurm_check_runs_releases_with_accounting(tmp_path: Path) -> None:
    stream = tmp_path / "stream.yaml"
    stream.write_text(release_with_accounting())
    profile = tmp_path / "profiles.yaml"
    profile.write_text(
        (EXAMPLES / "profiles.yaml").read_text().replace("  - name: slinky-cluster\n", CAP)
    )
    result = CliRunner().invoke(slinky_main, ["slurm-check", "-c", str(profile), str(stream)])
    assert result.exit_code == 0, result.output
    assert "OK: 3 partition(s) of profile cluster slinky-cluster match Slurm" in result.output
