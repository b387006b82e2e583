"""What slinky-pr generates, run by a real slurmctld/slurmd (Slurm 26.05, the sid chroot).

Fixtures in testdata/slurm/ are post-rendered streams in the shape slinky-pr produces.
One cluster is started for the good stream and shared by the module; the negative
cases start their own, short-lived ones.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from postrender.slurm.assemble import assemble, operator_slurmd_conf
from postrender.slurm.chroot import BUILD_SCRIPT, PACKAGES, Gpu, chroot_root, make_node_dir
from postrender.slurm.cluster import SlurmCluster
from postrender.slurm.errors import AssembleError, SlurmStartError
from postrender.slurm.scontrol import parse_scontrol_oneliners
from postrender.slurm.verify import bad_states

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "testdata" / "slurm"


def _stream(name: str) -> str:
    return (DATA / name).read_text()


@pytest.fixture(scope="module")
def cluster(
    slurm_required: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlurmCluster]:
    release = assemble(_stream("gpu-cpu.yaml"))
    with SlurmCluster(release, tmp_path_factory.mktemp("slurm-gpu-cpu")) as running:
        yield running


# ----- assembly (no daemons) --------------------------------------------------------


def test_assemble_builds_the_operator_slurm_conf() -> None:
    release = assemble(_stream("gpu-cpu.yaml"))
    body = release.slurm_conf_body().splitlines()
    assert body[0] == "AccountingStorageType=accounting_storage/none"
    assert body[1:4] == [
        "NodeSet=cpu Feature=cpu",
        "NodeSet=gpu Feature=gpu",
        "PartitionName=gpu Nodes=gpu ",
    ]
    assert "GresTypes=gpu" in body
    assert body[-1] == "PartitionName=cpu-partition Nodes=cpu Default=YES MaxTime=1-00:00:00"
    gpu = {n.key: n for n in release.nodesets}["gpu"]
    # the NodeSet key first, then the extraConf features as written (the real operator)
    assert gpu.slurmd_conf == "Features=gpu,p4d.24xlarge,efa Gres=gpu:a100:8"
    assert gpu.gpu_limit == 8
    assert release.gres_conf == "AutoDetect=nvidia\n"


def test_fake_gpus_are_what_the_pod_would_see(tmp_path: Path) -> None:
    """As many GPUs as the slurmd's nvidia.com/gpu limit, with the instance type's model."""
    release = assemble(_stream("gpu-cpu.yaml"))
    cluster = SlurmCluster(release, tmp_path)
    gpu = {n.key: n for n in release.nodesets}["gpu"]
    assert cluster.node_gpus(gpu) == [Gpu("NVIDIA A100-SXM4-40GB", m) for m in range(8)]
    under = {n.key: n for n in assemble(_stream("gpu-undersupplied.yaml")).nodesets}["gpu"]
    assert len(cluster.node_gpus(under)) == 4
    assert SlurmCluster(release, tmp_path, gpu_models={"gpu": "NVIDIA L4"}).node_gpus(gpu)[
        0
    ] == Gpu("NVIDIA L4", 0)


def test_node_dir_looks_like_the_nvidia_driver(tmp_path: Path) -> None:
    make_node_dir(
        tmp_path, [Gpu("NVIDIA H100 80GB HBM3", 0), Gpu("NVIDIA H100 80GB HBM3", 1)], "0-1"
    )
    info = (tmp_path / "driver/nvidia/gpus/0000:11:00.0/information").read_text()
    assert "Model: \t\t NVIDIA H100 80GB HBM3\n" in info
    assert "Device Minor: \t 1\n" in info and "Bus Location: \t 0000:11:00.0\n" in info
    device = (tmp_path / "dev" / "nvidia1").stat()
    assert stat.S_ISCHR(device.st_mode) and os.major(device.st_rdev) == 195
    assert (tmp_path / "drivers/nvidia/0000:10:00.0/local_cpulist").read_text() == "0-1\n"


def test_accounting_object_switches_to_slurmdbd() -> None:
    stream = _stream("tres-without-accounting.yaml") + (
        "---\napiVersion: slinky.slurm.net/v1beta1\nkind: Accounting\n"
        "metadata: {name: slinky-slurm}\nspec: {}\n"
    )
    body = assemble(stream).slurm_conf_body()
    assert body.startswith("AccountingStorageType=accounting_storage/slurmdbd\n")


@pytest.mark.parametrize("bad", ["Gres=gpu:8  Weight=1", " Gres=gpu:8", "Gres=gpu:8 Weight"])
def test_extra_conf_the_operator_panics_on_is_refused(bad: str) -> None:
    with pytest.raises(AssembleError):
        operator_slurmd_conf(bad, "gpu")


def test_scontrol_values_with_spaces_are_kept() -> None:
    line = "NodeName=gpu-0 OS=Linux 6.1 #1 SMP State=IDLE+DRAIN Reason=count lower (4 < 8) [root@t]"
    node = parse_scontrol_oneliners(line, "NodeName")["gpu-0"]
    assert node["OS"] == "Linux 6.1 #1 SMP"
    assert node["Reason"] == "count lower (4 < 8) [root@t]"


# ----- the good stream on a real cluster --------------------------------------------


@pytest.mark.slurm
def test_partitions_exist_with_their_options(cluster: SlurmCluster) -> None:
    parts = cluster.show_partitions()
    assert {"gpu", "gpu-partition", "debug", "cpu-partition"} <= set(parts)
    gpu_part = parts["gpu-partition"]
    assert gpu_part["MaxTime"] == "2-00:00:00"
    assert gpu_part["PriorityTier"] == "10"
    assert gpu_part["AllowGroups"] == "ALL"
    assert gpu_part["Nodes"] == "gpu-0"
    assert parts["debug"]["MaxTime"] == "00:30:00"
    assert parts["debug"]["PriorityTier"] == "20"
    assert parts["cpu-partition"]["Default"] == "YES"
    assert parts["cpu-partition"]["MaxTime"] == "1-00:00:00"
    assert parts["cpu-partition"]["Nodes"] == "cpu-0"
    assert "cpu-partition*" in cluster.sinfo()


@pytest.mark.slurm
def test_gpu_node_reports_gres_and_features(cluster: SlurmCluster) -> None:
    nodes = cluster.show_nodes()
    # slurmd adds the GPUs' socket affinity, from their local_cpulist.
    assert nodes["gpu-0"]["Gres"] == "gpu:a100:8(S:0)"
    assert set(nodes["gpu-0"]["AvailableFeatures"].split(",")) == {"gpu", "p4d.24xlarge", "efa"}
    assert nodes["cpu-0"]["AvailableFeatures"] == "cpu"
    assert nodes["cpu-0"]["Gres"] == "(null)"


@pytest.mark.slurm
def test_no_node_is_drained_or_invalid(cluster: SlurmCluster) -> None:
    for name, node in cluster.show_nodes().items():
        assert not bad_states(node["State"]), (name, node["State"])
        assert "Reason" not in node, (name, node.get("Reason"))


@pytest.mark.slurm
def test_job_gets_all_eight_gpus(cluster: SlurmCluster) -> None:
    result = cluster.run(
        "gpu-partition", gres="gpu:8", command=["sh", "-c", "echo $CUDA_VISIBLE_DEVICES"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0,1,2,3,4,5,6,7"


@pytest.mark.slurm
def test_nine_gpus_are_refused(cluster: SlurmCluster) -> None:
    result = cluster.run("gpu-partition", gres="gpu:9")
    assert result.returncode != 0
    assert "Requested node configuration is not available" in result.stderr


@pytest.mark.slurm
def test_cpu_partition_has_no_gpu(cluster: SlurmCluster) -> None:
    assert cluster.run("cpu-partition").returncode == 0
    assert cluster.run("cpu-partition", gres="gpu:1").returncode != 0


@pytest.mark.slurm
def test_time_over_partition_max_time_is_refused(cluster: SlurmCluster) -> None:
    assert cluster.run("debug", time="30").returncode == 0
    # EnforcePartLimits=NO (the default): such a job is queued and never starts.
    over = cluster.submit("debug", time="31")
    try:
        cluster.wait_job(over, ["PENDING"], reason="PartitionTimeLimit")
    finally:
        cluster.cancel(over)


# ----- streams real Slurm must reject -----------------------------------------------


@pytest.mark.slurm
def test_gpu_tres_without_accounting_stops_slurmctld(tmp_path: Path) -> None:
    release = assemble(_stream("tres-without-accounting.yaml"))
    with (
        pytest.raises(SlurmStartError, match="slurmdbd is required to run with TRES gres/gpu"),
        SlurmCluster(release, tmp_path),
    ):
        pass


@pytest.mark.slurm
def test_gres_without_enough_devices_drains_the_node(tmp_path: Path) -> None:
    release = assemble(_stream("gpu-undersupplied.yaml"))
    with SlurmCluster(release, tmp_path) as small:
        node = small.show_nodes()["gpu-0"]
        assert "DRAIN" in node["State"]
        assert "gres/gpu count reported lower than configured (4 < 8)" in node["Reason"]
        assert small.run("gpu-partition", gres="gpu:8", immediate=2).returncode != 0


# Each of the four parts of the GPU recipe removed from the good stream, with the
# symptom real Slurm shows on the GPU node: ((old, new), node field, expected text).
# Without Gres= in extraConf the dynamic node still registers the GPUs slurmd detects,
# under the driver's model name: untyped requests run, the type users ask for does not.
RECIPE_BREAKS = {
    "no nvidia.com/gpu limit": (("        nvidia.com/gpu: 8\n", ""), "Reason", "(0 < 8)"),
    "no GresTypes": (("    GresTypes=gpu\n", ""), "Gres", "(null)"),
    "no gres.conf ref": (("  - name: slinky-slurm-gres-conf\n", ""), "Reason", "(0 < 8)"),
    "no Gres in extraConf": (
        ("Gres=gpu:a100:8 ", ""),
        "Gres",
        "gpu:nvidia_a100-sxm4-40gb:8(S:0)",
    ),
}


@pytest.mark.slurm
@pytest.mark.parametrize("case", sorted(RECIPE_BREAKS))
def test_each_missing_part_of_the_gpu_recipe_fails_gpu_jobs(case: str, tmp_path: Path) -> None:
    (old, new), key, expected = RECIPE_BREAKS[case]
    good = _stream("gpu-cpu.yaml")
    broken = good.replace(old, new)
    assert broken != good
    with SlurmCluster(assemble(broken), tmp_path) as running:
        assert expected in running.show_nodes()["gpu-0"].get(key, "")
        assert running.run("gpu-partition", gres="gpu:a100:8", immediate=2).returncode != 0


@pytest.mark.slurm
def test_a_gpu_type_the_driver_does_not_report_drains_the_node(tmp_path: Path) -> None:
    """Gres=gpu:a100:8 on GPUs that report another model: autodetection finds none."""
    release = assemble(_stream("gpu-cpu.yaml"))
    with SlurmCluster(release, tmp_path, gpu_models={"gpu": "NVIDIA L4"}) as running:
        node = running.show_nodes()["gpu-0"]
        assert "DRAIN" in node["State"]
        assert "gres/gpu count reported lower than configured (0 < 8)" in node["Reason"]


# ----- the skip/fail gate of the `slurm` marker -------------------------------------


@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("true", "1 error")])
def test_missing_slurm_skips_but_fails_under_ci(ci: str, outcome: str) -> None:
    # An empty cache holds no chroot.
    env = {**os.environ, "SLINKY_SLURM_CACHE": "/nonexistent", "CI": ci}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            f"{__file__}::test_nine_gpus_are_refused",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert outcome in result.stdout, result.stdout
    assert "no Slurm 26.05 chroot at /nonexistent/sid-" in result.stdout


# ----- the chroot: built by the project's script, entered and left cleanly ----------


def test_build_script_and_harness_agree_on_the_chroot(tmp_path: Path) -> None:
    env = {**os.environ, "SLINKY_SLURM_CACHE": str(tmp_path)}
    printed = subprocess.run(
        ["sh", str(BUILD_SCRIPT), "--print"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    os.environ["SLINKY_SLURM_CACHE"] = str(tmp_path)
    try:
        assert printed == str(chroot_root())
    finally:
        del os.environ["SLINKY_SLURM_CACHE"]
    assert printed.startswith(f"{tmp_path}/sid-")


def test_a_changed_package_list_means_another_chroot(tmp_path: Path) -> None:
    """The cache key is the package list: the same list, the same chroot; another, a new one."""
    env = {**os.environ, "SLINKY_SLURM_CACHE": str(tmp_path / "cache")}

    def printed(directory: Path) -> str:
        return subprocess.run(
            ["sh", str(directory / BUILD_SCRIPT.name), "--print"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    for name, extra in (("same", ""), ("more", "procps\n")):
        copy = tmp_path / name
        copy.mkdir()
        (copy / BUILD_SCRIPT.name).write_text(BUILD_SCRIPT.read_text())
        (copy / PACKAGES.name).write_text(PACKAGES.read_text() + extra)
    assert printed(tmp_path / "same") == printed(BUILD_SCRIPT.parent)
    assert printed(tmp_path / "more") != printed(BUILD_SCRIPT.parent)


@pytest.mark.slurm
def test_the_chroot_runs_slurm_26_05(cluster: SlurmCluster) -> None:
    version = subprocess.run(
        [*cluster.client_command("sinfo"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("slurm-wlm 26.05.")
    assert cluster.show_nodes()["gpu-0"]["Version"].startswith("26.05.")


@pytest.mark.slurm
def test_nothing_is_left_after_a_cluster_stops(tmp_path: Path) -> None:
    running = SlurmCluster(assemble(_stream("gpu-cpu.yaml")), tmp_path)
    with running:
        job = running.submit("gpu-partition", command="sleep 300")
        running.wait_job(job, ["RUNNING"])
        comms = {p: Path(f"/proc/{p}/comm").read_text().strip() for p in running.processes()}
        steps = [p for p, comm in comms.items() if comm == "slurmstepd"]
        assert steps
    assert running.processes() == []
    # Killed job steps may linger a moment as zombies until init reaps them.
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in steps) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in steps if Path(f"/proc/{pid}").exists()]
    assert str(running.root) not in Path("/proc/self/mountinfo").read_text()


@pytest.mark.slurm
def test_a_new_namespace_after_a_daemon_exits_is_not_the_runs(tmp_path: Path) -> None:
    # A run finds its processes by mount namespace; the kernel hands a freed namespace's
    # number to the next new one, so another run's process could take it and be killed
    # by this run's stop. The run holds its namespaces open until it has stopped.
    release = assemble(_stream("gpu-cpu.yaml"))
    with SlurmCluster(release, tmp_path) as running:
        daemons = {
            Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0]: p for p in running.processes()
        }
        munged = daemons[b"/usr/sbin/munged"]
        namespace = os.readlink(f"/proc/{munged}/ns/mnt")
        os.kill(munged, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{munged}/ns").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with subprocess.Popen(["unshare", "--mount", "sleep", "30"]) as other:
            try:
                time.sleep(0.2)
                assert os.readlink(f"/proc/{other.pid}/ns/mnt") != namespace
                assert other.pid not in running.processes()
            finally:
                other.kill()
