"""slinky-pr's real output, run by real Slurm 26.05 daemons (the sid chroot) on loopback.

Each scenario post-renders a release with a profile (no hand-written stream), builds
slurm.conf/gres.conf as the Slinky operator would (postrender.slurm.assemble), starts
one cluster for the whole scenario and asserts from scontrol/sinfo and from jobs:

- karpenter: the upstream chart 1.3 release with the example catalogue: the Karpenter
  GPU partition with EFA (p4d.24xlarge, gres auto), debug sharing its NodeSet with a
  higher PriorityTier, and the CPU partition;
- static: the fixture chart with a static-gpu NodeSet (as golden/static-gpu-fixture-chart);
- options: every kind of partition option (testdata/slurm/options-*.yaml);
- broken configurations the harness must catch, and `slinky slurm-check`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_engine as he
import pytest
import yaml
from click.testing import CliRunner

from postrender.cli.slinky import slinky_main
from postrender.errors import SlinkyError
from postrender.model.profiles import Profile, load_profile, parse_profile
from postrender.pipeline import post_render
from postrender.slurm.assemble import assemble
from postrender.slurm.cluster import SlurmCluster
from postrender.slurm.errors import SlurmStartError
from postrender.slurm.probes import carried_partitions
from postrender.slurm.scontrol import parse_scontrol_oneliners
from postrender.slurm.verify import bad_states, compare

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "testdata" / "examples"
DATA = ROOT / "testdata" / "slurm"
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
STATIC_VALUES = ROOT / "testdata" / "golden" / "static-gpu-fixture-chart" / "values.yaml"
UPSTREAM = EXAMPLES / "release.yaml"  # upstream chart 1.3.0-rc1, rendered by Helm v4
NOT_AVAILABLE = "Requested node configuration is not available"

PROFILES = EXAMPLES / "profiles.yaml"


def example_profile() -> Profile:
    return load_profile(str(PROFILES))


def render_fixture(values: Path) -> str:
    """``helm template`` of the fixture chart (Helm-3 shape), in a subprocess (no Go here)."""
    if not he.engine_available() and not os.environ.get("CI"):
        pytest.skip("rendering the fixture chart needs helm-python-sdk (the Helm v4 engine)")
    return he.render(CHART, yaml.safe_load(values.read_text()), include_hooks=False)


@dataclass
class Scenario:
    """A post-rendered release running on a local Slurm."""

    profile: Profile
    output: str
    cluster: SlurmCluster

    @property
    def partitions(self) -> list[str]:
        return carried_partitions(self.output, self.profile)


def started(text: str, profile: Profile, workdir: Path) -> Iterator[Scenario]:
    output = post_render(text, profile).output
    with SlurmCluster(assemble(output), workdir) as cluster:
        yield Scenario(profile, output, cluster)


def no_bad_nodes(cluster: SlurmCluster) -> None:
    for name, node in cluster.show_nodes().items():
        assert not bad_states(node["State"]), (name, node["State"], node.get("Reason"))
        assert "Reason" not in node, (name, node["Reason"])


def features(node: dict[str, str]) -> set[str]:
    return set(node["AvailableFeatures"].split(","))


# ----- karpenter: upstream release, GPU with EFA, debug sharing it, CPU ---------------


@pytest.fixture(scope="module")
def karpenter(slurm_required: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    yield from started(UPSTREAM.read_text(), example_profile(), tmp_path_factory.mktemp("karp"))


@pytest.mark.slurm
class TestKarpenterGpuWithEfa:
    def test_every_profile_partition_exists_with_its_options(self, karpenter: Scenario) -> None:
        parts = karpenter.cluster.show_partitions()
        gpu = parts["gpu-partition"]
        assert gpu["MaxTime"] == "2-00:00:00"
        assert gpu["AllowGroups"] == "ml-team,hpc"
        assert gpu["PriorityTier"] == "10"
        assert gpu["JobDefaults"] == "DefMemPerGPU=65536"
        assert (gpu["State"], gpu["Default"], gpu["Nodes"]) == ("UP", "NO", "gpu-0")
        debug = parts["debug"]
        assert (debug["MaxTime"], debug["PriorityTier"], debug["Nodes"]) == (
            "00:30:00",
            "20",
            "gpu-0",
        )
        cpu = parts["cpu-partition"]
        assert (cpu["MaxTime"], cpu["Nodes"], cpu["State"]) == ("1-00:00:00", "cpu-0", "UP")
        # The chart's own catch-all partition stays the default.
        assert parts["all"]["Default"] == "YES"
        assert karpenter.partitions == ["gpu-partition", "debug", "cpu-partition"]

    def test_the_verify_comparison_finds_nothing(self, karpenter: Scenario) -> None:
        cluster = karpenter.cluster
        report = compare(
            karpenter.profile, cluster.show_partitions(), cluster.show_nodes(), karpenter.partitions
        )
        assert report.findings == []

    def test_nodes_report_the_gres_and_features_asked_for(self, karpenter: Scenario) -> None:
        nodes = karpenter.cluster.show_nodes()
        # gres: auto on p4d.24xlarge; EFA has no Slurm side but is a feature.
        assert nodes["gpu-0"]["Gres"] == "gpu:a100:8(S:0)"
        assert features(nodes["gpu-0"]) == {"gpu", "p4d.24xlarge", "efa"}
        assert nodes["cpu-0"]["Gres"] == "(null)"
        assert features(nodes["cpu-0"]) == {"cpu", "c5.24xlarge"}
        no_bad_nodes(karpenter.cluster)

    def test_a_job_gets_all_eight_gpus_and_nine_are_refused(self, karpenter: Scenario) -> None:
        cluster = karpenter.cluster
        eight = cluster.run(
            "gpu-partition", gres="gpu:8", command=["sh", "-c", "echo $CUDA_VISIBLE_DEVICES"]
        )
        assert eight.returncode == 0, eight.stderr
        assert eight.stdout.strip() == "0,1,2,3,4,5,6,7"
        nine = cluster.run("gpu-partition", gres="gpu:9", immediate=2)
        assert nine.returncode != 0 and NOT_AVAILABLE in nine.stderr
        # debug shares the NodeSet, so its jobs get the same GPUs.
        assert cluster.run("debug", gres="gpu:a100:8").returncode == 0
        assert cluster.run("cpu-partition", gres="gpu:1", immediate=2).returncode != 0

    def test_jobs_select_nodes_by_the_features(self, karpenter: Scenario) -> None:
        run = karpenter.cluster.run
        assert run("gpu-partition", extra=["--constraint=p4d.24xlarge&efa"]).returncode == 0
        assert run("cpu-partition", extra=["--constraint=c5.24xlarge"]).returncode == 0
        assert run("cpu-partition", extra=["--constraint=efa"], immediate=2).returncode != 0
        # In the chart's partition spanning both NodeSets, the feature picks the node.
        where = ["sh", "-c", "echo $SLURMD_NODENAME"]
        for feature, node in [("efa", "gpu-0"), ("c5.24xlarge", "cpu-0"), ("efa", "gpu-0")]:
            ran = run("all", extra=[f"--constraint={feature}"], command=where)
            assert ran.stdout.strip() == node, (feature, ran.stderr)

    def test_a_job_over_max_time_is_refused(self, karpenter: Scenario) -> None:
        cluster = karpenter.cluster
        assert cluster.run("debug", time="30").returncode == 0
        # Slurm's default (EnforcePartLimits=NO) queues such a job forever, with a reason.
        over = [cluster.submit("debug", time="31"), cluster.submit("gpu-partition", time="2-1")]
        try:
            for job in over:
                cluster.wait_job(job, ["PENDING"], reason="PartitionTimeLimit")
        finally:
            cluster.cancel(*over)

    def test_priority_tier_orders_partitions_sharing_nodes(self, karpenter: Scenario) -> None:
        cluster = karpenter.cluster
        blocker = cluster.hold("gpu-partition", extra=["--exclusive"])
        jobs = [blocker]
        try:
            # gpu-partition (tier 10) asks first, debug (tier 20) second, for the whole node.
            low = cluster.submit("gpu-partition", extra=["--exclusive"], command="sleep 60")
            high = cluster.submit("debug", extra=["--exclusive"], command="sleep 60")
            jobs += [low, high]
            cluster.cancel(blocker)
            cluster.wait_job(high, ["RUNNING"])
            assert cluster.show_job(low)["JobState"] == "PENDING"
        finally:
            cluster.cancel(*jobs)


# ----- static: eksctl node group, fixture chart ---------------------------------------


@pytest.fixture(scope="module")
def static(slurm_required: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    text = render_fixture(STATIC_VALUES)
    profile = load_profile(str(PROFILES))
    yield from started(text, profile, tmp_path_factory.mktemp("static"))


@pytest.mark.slurm
class TestStaticGpu:
    def test_only_the_static_partition_is_carried(self, static: Scenario) -> None:
        # The catalogue's other partitions have no NodeSet in this release: skipped.
        assert static.partitions == ["static-gpu-partition"]
        parts = static.cluster.show_partitions()
        assert set(parts) == {"all", "static-gpu-partition"}
        assert (parts["static-gpu-partition"]["Nodes"], parts["static-gpu-partition"]["State"]) == (
            "static-gpu-0",
            "UP",
        )

    def test_node_has_untyped_gpu_gres(self, static: Scenario) -> None:
        node = static.cluster.show_nodes()["static-gpu-0"]
        assert node["Gres"] == "gpu:8(S:0)"
        assert features(node) == {"static-gpu"}
        no_bad_nodes(static.cluster)
        cluster = static.cluster
        report = compare(
            static.profile, cluster.show_partitions(), cluster.show_nodes(), static.partitions
        )
        assert report.findings == []

    def test_gpu_jobs(self, static: Scenario) -> None:
        assert static.cluster.run("static-gpu-partition", gres="gpu:8").returncode == 0
        refused = static.cluster.run("static-gpu-partition", gres="gpu:9", immediate=2)
        assert refused.returncode != 0 and NOT_AVAILABLE in refused.stderr


# ----- options: every kind of partition option ----------------------------------------


@pytest.fixture(scope="module")
def options(slurm_required: None) -> Iterator[Scenario]:
    text = render_fixture(DATA / "options-values.yaml")
    profile = load_profile(str(DATA / "options-profiles.yaml"))
    # Jobs run as `nobody` too (root is exempt from AllowGroups): it must reach the
    # munge socket and slurm.conf, which pytest's private tmp dirs would hide.
    with tempfile.TemporaryDirectory(prefix="slurm-options-") as tmp:
        Path(tmp).chmod(0o755)
        yield from started(text, profile, Path(tmp))


@pytest.mark.slurm
class TestPartitionOptions:
    def test_slurm_reads_every_option(self, options: Scenario) -> None:
        parts = options.cluster.show_partitions()
        gpu = parts["gpu-partition"]
        assert gpu["Default"] == "YES"
        assert (gpu["DefaultTime"], gpu["MaxTime"]) == ("00:10:00", "1-12:00:00")
        assert gpu["OverSubscribe"] == "FORCE:2"
        assert gpu["JobDefaults"] == "DefMemPerGPU=1024"
        assert gpu["TRESBillingWeights"] == "CPU=1.0,Mem=0.25G"
        assert (parts["maintenance"]["State"], parts["maintenance"]["Hidden"]) == ("DRAIN", "YES")
        assert parts["cpu-partition"]["State"] == "INACTIVE"
        assert (parts["cpu-batch"]["PriorityTier"], parts["cpu-batch"]["MaxTime"]) == (
            "5",
            "02:00:00",
        )
        cluster = options.cluster
        report = compare(options.profile, parts, cluster.show_nodes(), options.partitions)
        assert report.findings == []
        # Hidden from users (root sees every partition).
        assert "maintenance" not in cluster.sinfo(user="nobody")
        assert "gpu-partition*" in cluster.sinfo(user="nobody")

    def test_default_partition_and_default_time(self, options: Scenario) -> None:
        # The job reads its own record: no -p, no --time.
        inside = options.cluster.run(
            None, command=["sh", "-c", "scontrol show job -o $SLURM_JOB_ID"]
        )
        job = parse_scontrol_oneliners(inside.stdout, "JobId")
        [(partition, limit)] = [(j["Partition"], j["TimeLimit"]) for j in job.values()]
        assert (partition, limit) == ("gpu-partition", "00:10:00")

    def test_gres_of_a_four_gpu_instance(self, options: Scenario) -> None:
        node = options.cluster.show_nodes()["gpu-0"]
        assert node["Gres"] == "gpu:a10g:4(S:0)"
        assert features(node) == {"gpu", "g5.12xlarge", "nccl"}
        assert options.cluster.run("gpu-partition", gres="gpu:4").returncode == 0
        assert options.cluster.run("gpu-partition", gres="gpu:5", immediate=2).returncode != 0

    @pytest.mark.parametrize("partition", ["maintenance", "cpu-partition"])
    def test_drained_and_inactive_partitions_refuse_jobs(
        self, options: Scenario, partition: str
    ) -> None:
        with pytest.raises(
            Exception, match=r"Required partition not available \(inactive or drain\)"
        ):
            options.cluster.submit(partition)

    def test_allow_groups_is_enforced_for_users(self, options: Scenario) -> None:
        run = options.cluster.run
        assert run("gpu-partition", user="nobody", command=["id", "-un"]).stdout.strip() == "nobody"
        # cpu-batch allows ml-team only; the harness creates the group and its user.
        refused = run("cpu-batch", user="nobody", immediate=2)
        assert refused.returncode != 0
        job = int(refused.stderr.split("job ")[1].split()[0])
        reason = options.cluster.show_job(job)["Reason"]
        assert reason.startswith("uid_65534_not_in_group_permitted_to_use_this_partition")
        inside = run("cpu-batch", user="ml-team", command=["id", "-gn"])
        assert inside.returncode == 0 and inside.stdout.strip() == "ml-team"
        # root is exempt: a check run as root proves nothing about AllowGroups.
        assert run("cpu-batch").returncode == 0


# ----- configurations real Slurm refuses ----------------------------------------------


# Billing weights on GPUs without GPU TRES made slurmctld exit at start ("TRES weight
# 'GRES:gpu' is not a configured TRES type"); the shipped example had one until slinky-pr
# learnt to refuse them. Either outcome is fine; a release Slurm rejects is not.
GRES_WEIGHTS = ("TRESBillingWeights: CPU=1.0,Mem=0.25G", "TRESBillingWeights: GRES/gpu=2.0")


@pytest.mark.slurm
@pytest.mark.parametrize("weights", ["as shipped", "GRES/gpu weight"])
def test_the_example_catalogue_is_refused_or_runs(
    slurm_required: None, tmp_path: Path, weights: str
) -> None:
    text = PROFILES.read_text()
    if weights != "as shipped":
        assert GRES_WEIGHTS[0] in text
        text = text.replace(*GRES_WEIGHTS)
    try:
        result = post_render(UPSTREAM.read_text(), parse_profile(text, "profiles.yaml"))
    except SlinkyError as exc:
        assert weights != "as shipped", exc.format()
        assert "TRESBillingWeights" in exc.format()
        return
    with SlurmCluster(assemble(result.output), tmp_path) as cluster:
        no_bad_nodes(cluster)


@pytest.mark.slurm
def test_why_gres_weights_are_refused(slurm_required: None, tmp_path: Path) -> None:
    """The shipped output with a GRES weight edited in: what slinky-pr now prevents."""
    output = post_render(UPSTREAM.read_text(), example_profile()).output
    weights = "TRESBillingWeights=CPU=1.0,Mem=0.25G"
    assert weights in output
    edited = output.replace(weights, weights + ",GRES/gpu=2.0")
    with (
        pytest.raises(SlurmStartError, match="TRES weight 'GRES:gpu' is not a configured TRES"),
        SlurmCluster(assemble(edited), tmp_path),
    ):
        pass


@pytest.mark.slurm
def test_chart_gpu_tres_without_accounting_is_refused_and_why(
    slurm_required: None, tmp_path: Path
) -> None:
    rendered = render_fixture(DATA / "chart-tres-without-accounting-values.yaml")
    with pytest.raises(SlinkyError, match="accounts GRES as TRES"):
        post_render(rendered, example_profile())
    # Why: the same release with slinky-pr's other edits, the chart's line kept.
    clean = rendered.replace("AccountingStorageTRES=gres/gpu", "")
    output = post_render(clean, example_profile()).output
    edited = output.replace("GresTypes=gpu", "GresTypes=gpu\n    AccountingStorageTRES=gres/gpu")
    with (
        pytest.raises(SlurmStartError, match="slurmdbd is required to run with TRES gres/gpu"),
        SlurmCluster(assemble(edited), tmp_path),
    ):
        pass


def test_replicas_zero_means_no_node() -> None:
    text = UPSTREAM.read_text().replace("  replicas: 10\n", "  replicas: 0\n")
    release = assemble(post_render(text, example_profile()).output)
    assert {n.key: n.replicas for n in release.nodesets} == {"cpu": 0, "gpu": 2}


# ----- slinky slurm-check --------------------------------------------------------------


def slurm_check(*args: str) -> subprocess.CompletedProcess[str]:
    """`slinky slurm-check` in a subprocess (a --chart render loads Go, kept out of pytest)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLINKY_PR_", "HELM_"))}
    code = "from postrender.cli.slinky import slinky_main; slinky_main()"
    return subprocess.run(
        [sys.executable, "-c", code, "slurm-check", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
        check=False,
    )


@pytest.mark.slurm
def test_slurm_check_passes_on_the_example_release() -> None:
    result = CliRunner().invoke(
        slinky_main, ["slurm-check", "--config", str(PROFILES), str(UPSTREAM)]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "OK: 3 partition(s) of profile cluster slinky-cluster match Slurm" in out
    assert "gpu-0  IDLE+DYNAMIC_NORM  gpu:a100:8(S:0)  gpu,p4d.24xlarge,efa" in out
    assert "gpu-partition  --gres=gpu:8  runs      ran" in out
    assert f"--gres=gpu:9  refused   refused: srun: error: {NOT_AVAILABLE}" not in out
    assert "gpu-partition  --gres=gpu:9  refused   refused: srun: error: Unable to allocate " in out
    assert f"resources: {NOT_AVAILABLE}\n" in out


@pytest.mark.slurm
def test_slurm_check_renders_a_chart() -> None:
    if not he.engine_available() and not os.environ.get("CI"):
        pytest.skip("rendering the fixture chart needs helm-python-sdk (the Helm v4 engine)")
    result = slurm_check(
        "--config",
        str(PROFILES),
        "--chart",
        str(CHART),
        "-f",
        str(STATIC_VALUES),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["checked"] == ["static-gpu-partition"]
    assert {
        "partition": "static-gpu-partition",
        "request": "--gres=gpu:8",
        "expected": "runs",
        "result": "ran",
    } in report["jobs"]


def _findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["kind"] == kind]


@pytest.mark.slurm
def test_a_gres_conf_that_backs_no_gpu_is_refused_and_why(tmp_path: Path) -> None:
    rendered = render_fixture(DATA / "gres-conf-autodetect-off-values.yaml")
    stream = tmp_path / "stream.yaml"
    stream.write_text(rendered)
    refused = CliRunner().invoke(slinky_main, ["slurm-check", "-c", str(PROFILES), str(stream)])
    assert refused.exit_code == 5 and "neither autodetects GPUs" in refused.output
    # Why: slinky-pr's output with that gres.conf edited in, as the chart shipped it.
    output = post_render(UPSTREAM.read_text(), example_profile()).output
    assert "AutoDetect=nvidia" in output
    edited = output.replace("AutoDetect=nvidia", "AutoDetect=off")
    with SlurmCluster(assemble(edited), tmp_path / "slurm") as cluster:
        node = cluster.show_nodes()["gpu-0"]
        assert "INVALID_REG" in node["State"] or "DRAIN" in node["State"]
        assert "gres/gpu count reported lower than configured (0 < 8)" in node.get("Reason", "")


@pytest.mark.slurm
def test_allow_accounts_without_accounting_is_refused_and_why(
    slurm_required: None, tmp_path: Path
) -> None:
    text = PROFILES.read_text().replace(
        "          PriorityTier: 20\n", "          PriorityTier: 20\n          AllowAccounts: ml\n"
    )
    with pytest.raises(SlinkyError, match="AllowAccounts needs Slurm accounting"):
        post_render(UPSTREAM.read_text(), parse_profile(text, "profiles.yaml"))
    # Why: the shipped output with AllowAccounts edited into the debug partition line.
    # Without slurmdbd Slurm 26.05 does not enforce it: a job of another account runs.
    output = post_render(UPSTREAM.read_text(), example_profile()).output
    line = "PartitionName=debug Nodes=gpu MaxTime=30 PriorityTier=20"
    assert line in output
    edited = output.replace(line, line + " AllowAccounts=ml")
    with SlurmCluster(assemble(edited), tmp_path) as cluster:
        assert cluster.show_partitions()["debug"]["AllowAccounts"] == "ml"
        job = cluster.submit("debug", extra=["--account=other"])
        assert cluster.wait_job(job, ["COMPLETED"])["Account"] == "other"


def test_slurm_check_needs_a_profile() -> None:
    result = CliRunner().invoke(
        slinky_main, ["slurm-check", str(UPSTREAM)], env={"SLINKY_PR_CONFIG": ""}
    )
    assert result.exit_code == 2 and "no profile" in result.output
