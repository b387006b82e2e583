"""Run a post-rendered Slinky release against real Slurm 26.05 daemons on loopback.

Schemas cannot tell whether slurmctld accepts a partition line or whether a node's
``Gres=`` is backed by devices; only Slurm can. This module takes what the Slinky operator
would hand to Slurm (postrender.slurm.assemble) and starts munged, slurmctld (and, with an
Accounting object, MariaDB and slurmdbd) and one dynamic slurmd per NodeSet on 127.0.0.1
(:class:`SlurmCluster`), all inside the Debian sid chroot of postrender.slurm.chroot, which
carries the Slurm release of the chart's images.

The release's gres.conf is used verbatim (``AutoDetect=nvidia``): each node is given
as many fake NVIDIA GPUs as its slurmd's ``nvidia.com/gpu`` limit (what its pod would
see), with the model string the driver reports for the node's instance type or GRES type
(``postrender/data/gpu-models.json``), and slurmd detects them as on a real node.

Everything runs as root under a private work dir: its own munge key and socket, state,
spool, logs, database and ports. Every wait is bounded and every process is stopped by
PID on exit, also after a failed start.

Slurm specifics handled here:

* every node is on 127.0.0.1, each slurmd on its own port (``Port=`` appended to its
  ``--conf``): slurmctld takes a dynamic node's address from the connection it registers
  on, which comes from 127.0.0.1 whatever address the slurmd listens on, and a
  node registers more than once. Node names resolve to 127.0.0.1 in the run's
  /etc/hosts and ``CommunicationParameters=NoInAddrAny`` keeps the daemons off other
  interfaces;
* no cgroups in a chroot: ``CgroupPlugin=disabled``, process groups track job steps;
* repeated keys in ``--conf`` are not merged (the last wins), so the operator's merge
  of ``Features=`` must happen before slurmd sees the line.

A release built from the operator's own slurm.conf and pod args (postrender.slurm.operator)
runs them instead, with only the keys that bind them to the pods rebound.

``slinky slurm-check`` runs it for users (postrender.slurm.probes); the client commands
live in postrender.slurm.clients.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from postrender.slurm import chroot as slurmroot
from postrender.slurm.accounting import Account, AccountingDaemons
from postrender.slurm.assemble import NodeSetConf, SlurmRelease
from postrender.slurm.chroot import Gpu
from postrender.slurm.daemons import SBIN, Proc
from postrender.slurm.errors import SlurmStartError, SlurmUnavailable
from postrender.slurm.operator import REBOUND, bind_slurm_conf, slurmd_argv
from postrender.slurm.processes import free_port, signals_unwind
from postrender.slurm.workdir import dbd_conf, general_settings, gpu_model, inside, write_os_files


class SlurmCluster(AccountingDaemons):
    """munged + slurmctld (+ MariaDB and slurmdbd) + one dynamic slurmd per NodeSet.

    Everything runs inside the Slurm 26.05 chroot, on loopback, for one release. Use as a
    context manager; it always stops what it started. ``device_counts`` overrides, per
    NodeSet key, how many fake GPUs the node has; ``gpu_models`` the model string they
    report. ``unscheduled`` names NodeSets whose pods never run (a Karpenter pool that
    never scaled up, a toleration that matches no taint): they get no slurmd, as with
    ``replicas: 0``. ``accounts`` are created in slurmdbd (a release with an Accounting
    object) before the nodes start.
    """

    def __init__(
        self,
        release: SlurmRelease,
        workdir: Path | str,
        *,
        startup_timeout: float = 30.0,
        command_timeout: float = 30.0,
        device_counts: Mapping[str, int] | None = None,
        gpu_models: Mapping[str, str] | None = None,
        unscheduled: Iterable[str] = (),
        accounts: Sequence[Account] = (),
        debug: str = "info",
    ) -> None:
        """Prepare (but do not start) a cluster under ``workdir``."""
        super().__init__(workdir, command_timeout, startup_timeout)
        self.release = release
        self.device_counts = dict(device_counts or {})
        self.gpu_models = dict(gpu_models or {})
        self.accounts = tuple(accounts)
        self.debug = debug
        # One slurmd (its first pod's node) per NodeSet that has pods at all.
        skipped = set(unscheduled)
        self.running = tuple(n for n in release.nodesets if n.replicas > 0 and n.key not in skipped)
        # Host-side paths; the daemons see the work dir at MOUNT_POINT.
        self.conf_dir = self.workdir / "etc"
        self.slurm_conf = self.conf_dir / "slurm.conf"
        self.node_ports: dict[str, int] = {}
        self._unwind: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        self.ctld_port = 0

    def __enter__(self) -> SlurmCluster:
        """Start the cluster; stop everything again if the start fails or a signal comes."""
        self._unwind = signals_unwind()
        self._unwind.__enter__()
        try:
            self.start()
        except BaseException:
            self._unwind.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the cluster."""
        try:
            self.stop()
        finally:
            self._unwind.__exit__(None, None, None)

    # ----- start -------------------------------------------------------------

    def start(self) -> None:
        """Write the configuration, start the daemons and wait for every node."""
        reason = slurmroot.unavailable_reason()
        if reason:
            raise SlurmUnavailable(reason)
        try:
            self._write_files()
            self._start_munged()
            if self.release.has_accounting:
                self._start_accounting(self.release.cluster_name)
            self._start_slurmctld()
            if self.release.has_accounting:
                self._add_accounts(self.accounts)
            self._start_slurmds()
        except BaseException:
            self.stop()
            raise

    def node_gpus(self, nodeset: NodeSetConf) -> list[Gpu]:
        """The fake GPUs of a NodeSet's node: as many as its slurmd's GPU limit."""
        count = self.device_counts.get(nodeset.key, nodeset.gpu_limit or 0)
        model = self.gpu_models.get(nodeset.key) or gpu_model(nodeset)
        return [Gpu(model, minor) for minor in range(count)]

    def _write_files(self) -> None:
        """Lay out the work dir: configs, munge key, spools, users, nodes' GPUs."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Jobs may run as other users: they must reach slurm.conf and the munge socket.
        self.workdir.chmod(0o755)
        for sub in ("etc", "state", "log", "run", "run-slurmctld", "spool", "munge", "os", "nodes"):
            (self.workdir / sub).mkdir(exist_ok=True)
        munge_dir = self.workdir / "munge"
        munge_dir.chmod(0o755)
        key = munge_dir / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        self.users = write_os_files(
            self.workdir / "os",
            self.root,
            [n.node_name for n in self.running],
            self.release.slurm_conf or self.release.slurm_conf_body(),
        )
        cpulist = f"0-{max(0, (os.cpu_count() or 1) - 1)}"
        for nodeset in self.running:
            (self.workdir / "spool" / nodeset.node_name).mkdir(exist_ok=True)
            slurmroot.make_node_dir(
                self.workdir / "nodes" / nodeset.node_name, self.node_gpus(nodeset), cpulist
            )

        self.ctld_port = free_port(["127.0.0.1"])
        for nodeset in self.running:
            self.node_ports[nodeset.node_name] = free_port(
                ["127.0.0.1"], [self.ctld_port, *self.node_ports.values()]
            )
        self.slurm_conf.write_text(self._slurm_conf_text())
        if self.release.slurm_conf is not None:
            # auth/slurm's key, where the pod mounts its Secret (/etc/slurm in the view).
            key = self.conf_dir / "slurm.key"
            key.write_bytes(secrets.token_bytes(64))
            key.chmod(0o600)
        for name, text in self.release.config_files.items():
            # gres.conf and any other file the Controller mounts, verbatim, beside slurm.conf.
            (self.conf_dir / name).write_text(text)
        (self.conf_dir / "cgroup.conf").write_text("CgroupPlugin=disabled\n")
        if self.release.has_accounting:
            self._write_dbd_conf()

    def _slurm_conf_text(self) -> str:
        """The release's slurm.conf: the operator's, bound to this run, or rendered."""
        general = dict(self._general_settings())
        if self.release.slurm_conf is None:
            return self.release.render_slurm_conf(list(general.items()))
        values = {key: general.get(key) for key in REBOUND}
        values["SlurmSchedLogFile"] = general["SlurmctldLogFile"]
        return bind_slurm_conf(self.release.slurm_conf, values)

    def _general_settings(self) -> list[tuple[str, str]]:
        """slurm.conf's general settings for this run's ports."""
        return general_settings(
            self.release.cluster_name,
            ctld_port=self.ctld_port,
            node_count=len(self.running),
            debug=self.debug,
            dbd_port=self.dbd_port if self.release.has_accounting else None,
        )

    def _write_dbd_conf(self) -> None:
        """slurmdbd.conf beside slurm.conf (slurmdbd refuses it unless only root reads it)."""
        taken = [self.ctld_port, *self.node_ports.values()]
        self.db_port = free_port(["127.0.0.1"], taken)
        self.dbd_port = free_port(["127.0.0.1"], [*taken, self.db_port])
        conf = self.conf_dir / "slurmdbd.conf"
        conf.write_text(dbd_conf(dbd_port=self.dbd_port, db_port=self.db_port, debug=self.debug))
        conf.chmod(0o600)
        # Rewrite slurm.conf now that the port is known.
        self.slurm_conf.write_text(self._slurm_conf_text())

    def _start_munged(self) -> None:
        """munged with this work dir's key and socket (no system munge needed)."""
        m = inside("munge")
        proc = self._spawn(
            "munged",
            [
                f"{SBIN}/munged",
                "--foreground",
                "--force",
                f"--socket={m}/munge.socket",
                f"--key-file={m}/munge.key",
                f"--log-file={m}/munged.log",
                f"--pid-file={m}/munged.pid",
                f"--seed-file={m}/munged.seed",
            ],
            self._view(None),
            self.workdir / "munge" / "munged.log",
        )
        socket_path = self.workdir / "munge" / "munge.socket"
        self._wait(socket_path.exists, proc, "munged socket", 10.0)

    def _start_slurmctld(self) -> None:
        """slurmctld in the foreground; raise with its log when it exits at start."""
        proc = self._spawn(
            "slurmctld",
            [f"{SBIN}/slurmctld", "-D", "-i"],
            self._view("localhost"),
            self.log_dir / "slurmctld.log",
        )

        def up() -> bool:
            result = self._client(["scontrol", "ping"], timeout=5.0, check_timeout=False)
            return result.returncode == 0 and "UP" in result.stdout

        self._wait(up, proc, "slurmctld to answer", self.startup_timeout)

    def _start_slurmds(self) -> None:
        """One dynamic slurmd per NodeSet, each on its own port."""
        deadline = time.monotonic() + self.startup_timeout
        pending: dict[str, Proc] = {}
        for nodeset in self.running:
            node = nodeset.node_name
            port = self.node_ports[node]
            if nodeset.slurmd_args:
                # The pod's own args; its hostname (the node name) comes from the view.
                args = slurmd_argv(nodeset.slurmd_args, f"127.0.0.1:{self.ctld_port}", port)
            else:
                args = ["-Z", "-N", node, "--conf", f"{nodeset.slurmd_conf} Port={port}"]
            pending[node] = self._spawn(
                f"slurmd-{node}",
                [f"{SBIN}/slurmd", "-D", *args],
                self._view(node, node),
                self.log_dir / f"slurmd-{node}.log",
            )
        while pending:
            nodes = self.show_nodes()
            for node in list(pending):
                if node in nodes:
                    del pending[node]
            for node, proc in pending.items():
                self._check_alive(proc, f"slurmd for {node}")
            self._check_alive(self._proc("slurmctld"), "slurmctld")
            if pending and time.monotonic() > deadline:
                names = ", ".join(sorted(pending))
                tails = "\n".join(self._log_tail(p) for p in pending.values())
                raise SlurmStartError(f"nodes did not register in time: {names}", tails)
            if pending:
                time.sleep(0.2)
