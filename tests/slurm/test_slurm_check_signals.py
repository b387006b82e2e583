"""`slinky slurm-check` leaves nothing behind when it is told to stop (issue 19.7).

Each terminating signal is sent to a run whose daemons are up. Afterwards no process of
the run is left and its temporary work dir is gone. The run's processes are found by
the harness's own marker, never by name: each one's mount table holds the run's work dir
(bound at /slinky in the chroot), a path no other process mounts.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "testdata" / "examples"


def run_pids(workdir: Path) -> list[int]:
    """Live processes whose mount namespace has the run's work dir mounted."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            mounts = (entry / "mountinfo").read_text()
        except OSError:
            continue
        if workdir.name in mounts:
            pids.append(int(entry.name))
    return pids


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.slurm
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=str)
def test_a_signal_mid_run_stops_every_daemon_and_removes_the_work_dir(
    tmp_path: Path, sig: signal.Signals
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLINKY_PR_", "HELM_"))}
    env["TMPDIR"] = str(tmp_path)
    code = "from postrender.cli.slinky import slinky_main; slinky_main()"
    argv = [sys.executable, "-c", code, "slurm-check"]
    argv += ["-c", str(EXAMPLES / "profiles.yaml"), str(EXAMPLES / "release.yaml")]
    check = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:

        def nodes_started() -> bool:
            dirs = list(tmp_path.glob("slinky-slurm-check-*"))
            return bool(dirs) and len(list((dirs[0] / "log").glob("slurmd-*.log"))) == 2

        wait_for(nodes_started, 60, "the run's slurmd daemons")
        [workdir] = tmp_path.glob("slinky-slurm-check-*")
        started = run_pids(workdir)
        assert len(started) >= 4  # munged, slurmctld, two slurmd (and their children)
        check.send_signal(sig)
        out, err = check.communicate(timeout=60)
    finally:
        if check.poll() is None:
            check.kill()
            check.communicate()
    if sig == signal.SIGINT:
        # KeyboardInterrupt, which click reports as "Aborted!" with exit status 1.
        assert (check.returncode, err.strip().splitlines()[-1]) == (1, "Aborted!"), err
    else:
        assert check.returncode == 128 + sig, out + err
    assert "Traceback" not in err
    # Killed job steps may linger a moment as zombies until init reaps them.
    wait_for(lambda: not [p for p in started if Path(f"/proc/{p}").exists()], 10, "zombies")
    assert run_pids(workdir) == []
    assert not workdir.exists()


HOLD = """
import sys, time
from pathlib import Path
from postrender.slurm.assemble import assemble
from postrender.slurm.cluster import SlurmCluster
release = assemble(Path(sys.argv[1]).read_text())
with SlurmCluster(release, sys.argv[2]) as cluster:
    cluster.submit("gpu-partition", command="sleep 300")
    print("up", flush=True)
    time.sleep(120)
"""


@pytest.mark.slurm
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=str)
def test_a_signal_to_a_program_holding_a_cluster_stops_it(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The library too (a test session, a script): the signal unwinds the `with` block."""
    # A name no other mount table holds (run_pids matches it).
    workdir = tmp_path / f"slurm-hold-{secrets.token_hex(6)}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ROOT / "testdata/slurm/gpu-cpu.yaml"), str(workdir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "up\n", holder.stderr.read() if holder.stderr else ""
        started = run_pids(workdir)
        assert len(started) >= 4
        holder.send_signal(sig)
        holder.communicate(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    assert holder.returncode != 0
    wait_for(lambda: not [p for p in started if Path(f"/proc/{p}").exists()], 10, "zombies")
    assert run_pids(workdir) == []
