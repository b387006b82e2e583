"""``slinky slurm-check``'s checks on a harness cluster: start, compare, probe with jobs.

:func:`local_check` post-renders a release, runs it (postrender.slurm.cluster), compares
Slurm with the profile (postrender.slurm.verify) and probes every partition with jobs
(:func:`probe_jobs`); :func:`slurmctld_refusal` asks slurmctld alone whether it accepts a
line of extraConf.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from postrender.slurm.accounting import Account
from postrender.slurm.assemble import NodeSetConf, SlurmRelease, assemble
from postrender.slurm.cluster import SlurmCluster
from postrender.slurm.errors import AssembleError, SlurmSimError, SlurmStartError

if TYPE_CHECKING:
    from postrender.model.profiles import Profile
    from postrender.slurm.verify import Report


def slurmctld_refusal(extra_conf: str, workdir: Path, timeout: float = 30.0) -> str | None:
    """Start slurmctld with ``extra_conf`` after the operator's lines; why it refused, or None.

    A cluster without nodes (one NodeSet ``n`` with no pod) is enough to learn whether
    slurmctld accepts a partition line: it parses slurm.conf fully before it answers.
    """
    nodeset = NodeSetConf("n", "n", "", "Features=n", (), None, False, "", replicas=0)
    release = SlurmRelease("check", (nodeset,), extra_conf, False, None)
    try:
        with SlurmCluster(release, workdir, startup_timeout=timeout):
            return None
    except SlurmStartError as exc:
        return start_failure(exc)


# Debian's Slurm tries mpi/pmix_v4 without the PMIx library: these log errors come from
# the machine the harness runs on, never from the release under test.
_HARNESS_NOISE = re.compile(r"pmix|MPI: Cannot create context", re.IGNORECASE)
_LOG_STAMP = re.compile(r"^\[[^\]]*\]\s*")


def start_failure(exc: SlurmStartError) -> str:
    """The start error and the fatal/error lines of the daemon's log that explain it."""
    lines = [
        _LOG_STAMP.sub("", line)
        for line in exc.log_tail.splitlines()
        if ("fatal:" in line or "error:" in line) and not _HARNESS_NOISE.search(line)
    ]
    return "\n".join([exc.message, *(f"  {line}" for line in lines)])


_QUEUED = re.compile(r"job (\d+) queued and waiting")


def _refusal(cluster: SlurmCluster, stderr: str) -> str:
    """Why srun gave up: the pending job's Reason when it was queued, else srun's last line.

    ``srun --immediate`` only says "Requested nodes are busy" for a job that waited; the
    reason Slurm recorded (``PartitionTimeLimit``, an account not allowed...) says why.
    """
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    queued = _QUEUED.search(stderr)
    if queued:
        with contextlib.suppress(SlurmSimError, KeyError):
            reason = cluster.show_job(int(queued.group(1))).get("Reason")
            if reason and reason != "None":
                return f"{last} (pending: Reason={reason})"
    return last


def probe_jobs(cluster: SlurmCluster, profile: Profile, names: Sequence[str]) -> Report:
    """Compare Slurm with the profile, then run jobs on every partition of ``names``.

    Each partition whose ``State`` is UP must run a plain job; one with GRES ``gpu:N``
    must run ``--gres=gpu:N`` and refuse ``--gres=gpu:N+1``. Jobs ask one CPU per task
    because harness nodes have this machine's CPUs, not the instance type's, so a
    ``DefCpuPerGPU`` sized for the real node would otherwise not fit. Once a partition
    cannot run jobs at all (no usable node, the plain job refused) its other probes are
    skipped: they would only wait out ``--immediate`` to say the same.
    """
    from postrender.slurm.verify import Finding, bad_states, compare

    partitions = cluster.show_partitions()
    nodes = cluster.show_nodes()
    report = compare(profile, partitions, nodes, names)
    for name in names:
        partition = profile.partitions.get(name)
        if partition is None or name not in partitions:
            continue
        state = str(partition.options.get("State", "UP")).upper()
        usable = [
            n
            for n, record in nodes.items()
            if name in record.get("Partitions", "").split(",")
            and not bad_states(record.get("State", ""))
        ]
        skip = (
            f"not tried: partition State={state}"
            if state != "UP"
            else None
            if usable
            else "not tried: no usable node"
        )
        probes: list[tuple[str | None, bool]] = [(None, True)]
        if partition.gres is not None:
            more = partition.gres.count + 1
            probes += [
                (f"{partition.gres.name}:{partition.gres.count}", True),
                (f"{partition.gres.name}:{more}", False),
            ]
        for gres, should_run in probes:
            row = {
                "partition": name,
                "request": f"--gres={gres}" if gres else "(plain job)",
                "expected": "runs" if should_run else "refused",
            }
            report.jobs.append(row)
            if skip:
                row["result"] = skip
                continue
            result = cluster.run(name, gres=gres, extra=["--cpus-per-task=1"], immediate=2)
            ran = result.returncode == 0
            row["result"] = "ran" if ran else f"refused: {_refusal(cluster, result.stderr)}"
            if ran == should_run:
                continue
            report.findings.append(
                Finding(
                    "job",
                    f"srun -p {name} {row['request']} {row['result']}, expected it to "
                    f"{'run' if should_run else 'be refused'}",
                    partition=name,
                    expected=row["expected"],
                    actual=row["result"],
                )
            )
            if gres is None:
                skip = "not tried: the plain job did not run"
    return report


def carried_partitions(stream_text: str, profile: Profile) -> list[str]:
    """The profile partitions a (post-rendered) release has NodeSets for, in profile order."""
    from postrender.select import build_release
    from postrender.yaml.stream import read_stream

    targeted = {
        p.name
        for t in build_release(read_stream(stream_text), profile).targets
        for p in t.partitions
    }
    return [name for name in profile.partitions if name in targeted]


def local_check(
    text: str, profile: Profile, workdir: Path, startup_timeout: float = 30.0
) -> Report:
    """Post-render ``text``, run it on a local Slurm and report every problem found.

    Only the profile partitions the release carries are checked (a catalogue may
    serve several releases). What the harness cannot start (a slurmctld fatal, nodes
    that never register, an extraConf the operator would panic on) is a finding too.
    """
    from postrender.pipeline import post_render
    from postrender.slurm.verify import Finding, Report

    result = post_render(text, profile)
    names = carried_partitions(result.output, profile)
    try:
        release = assemble(result.output)
    except AssembleError as exc:
        return Report(profile.cluster, names, {}, {}, [Finding("assemble", str(exc))])
    notes = list(release.warnings)
    # The profile's GPU-minutes caps, as the cluster's admin would create them in slurmdbd.
    accounts = [Account(name, gpu_minutes=cap) for name, cap in profile.gpu_minutes.items()]
    try:
        with SlurmCluster(
            release, workdir, startup_timeout=startup_timeout, accounts=accounts
        ) as cluster:
            report = probe_jobs(cluster, profile, names)
    except SlurmStartError as exc:
        report = Report(profile.cluster, names, {}, {}, [Finding("start", start_failure(exc))])
    report.notes += notes
    return report
