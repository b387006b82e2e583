"""Run a post-rendered Slinky release against real Slurm 26.05 daemons on loopback.

Schemas cannot tell whether slurmctld accepts a partition line or whether a node's
``Gres=`` is backed by devices; only Slurm can. This module rebuilds, from a
post-rendered Helm stream, what the Slinky operator would hand to Slurm
(:func:`assemble`), then starts munged, slurmctld (and, with an Accounting object,
MariaDB and slurmdbd) and one dynamic slurmd per NodeSet on 127.0.0.1
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

``slinky slurm-check`` (:func:`check_command`) is this harness for users: post-render,
run, compare with the profile (postrender.slurm.verify) and probe jobs (:func:`probe_jobs`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from postrender.model.nodeset import nodeset_key
from postrender.model.slurmconf import ConfError, Gres, operator_conf
from postrender.slurm import chroot as slurmroot
from postrender.slurm.chroot import MOUNT_POINT, Gpu, View
from postrender.slurm.scontrol import parse_scontrol_oneliners
from postrender.validate.quantity import whole_quantity

if TYPE_CHECKING:
    from postrender.model.profiles import Profile
    from postrender.slurm.verify import Report

NODESET_API = "slinky.slurm.net/v1beta1"
GPU_RESOURCE = "nvidia.com/gpu"

# Marks every process the harness starts, so stragglers that left their process group
# (slurmstepd calls setsid) can be found and stopped by pid.
_MARKER_VAR = "SLURMSIM_RUN_ID"
# Binaries inside the chroot.
_SBIN = "/usr/sbin"
_BIN = "/usr/bin"
# A throwaway database: small InnoDB files, no flushing to disk (seconds off each start).
_SMALL_MARIADB = (
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-doublewrite=0",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-flush-method=nosync",
)
#: The model a GPU gets when neither the node's instance type nor its GRES type names one.
DEFAULT_GPU_MODEL = "NVIDIA A100-SXM4-40GB"


class SlurmSimError(Exception):
    """Base error of the Slurm harness."""


class AssembleError(SlurmSimError):
    """The stream cannot be turned into a Slurm configuration the way the operator would."""


class SlurmUnavailable(SlurmSimError):
    """This machine cannot run the harness (missing binaries, not root, no namespaces)."""


class SlurmStartError(SlurmSimError):
    """A daemon exited or did not become ready while the cluster was starting."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        """Keep the daemon's last log lines next to the message."""
        super().__init__(f"{message}\n--- log tail ---\n{log_tail}" if log_tail else message)
        self.message = message
        self.log_tail = log_tail


class SlurmCommandTimeout(SlurmSimError):
    """A Slurm client command did not finish within its time bound."""


@dataclass(frozen=True)
class NodeSetConf:
    """What the operator derives from one NodeSet."""

    key: str
    name: str
    extra_conf: str
    slurmd_conf: str
    gres: tuple[Gres, ...]
    gpu_limit: int | None
    partition_enabled: bool
    partition_config: str
    # spec.replicas: 0 means no pod, hence no slurmd and no Slurm node (a Karpenter pool
    # that never scaled up looks the same to Slurm).
    replicas: int = 1

    @property
    def node_name(self) -> str:
        """Name of the harness's single node (the first pod's hostname)."""
        return f"{self.key}-0"

    def gpu_items(self) -> tuple[Gres, ...]:
        """The ``gpu`` entries of ``Gres=``."""
        return tuple(item for item in self.gres if item.name == "gpu")


@dataclass(frozen=True)
class SlurmRelease:
    """The Slurm configuration a post-rendered release turns into under the operator."""

    cluster_name: str
    nodesets: tuple[NodeSetConf, ...]
    controller_extra_conf: str
    has_accounting: bool
    gres_conf: str | None
    config_files: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def slurm_conf_body(self) -> str:
        """slurm.conf after the general settings: accounting, NodeSets, partitions, extraConf."""
        lines: list[str] = []
        if self.has_accounting:
            lines.append("AccountingStorageType=accounting_storage/slurmdbd")
        else:
            lines.append("AccountingStorageType=accounting_storage/none")
        # The operator sorts NodeSets by object name before writing their lines.
        for nodeset in sorted(self.nodesets, key=lambda n: n.name):
            lines.append(f"NodeSet={nodeset.key} Feature={nodeset.key}")
            if nodeset.partition_enabled:
                lines.append(
                    f"PartitionName={nodeset.key} Nodes={nodeset.key} {nodeset.partition_config}"
                )
        if self.controller_extra_conf:
            lines.append(self.controller_extra_conf)
        return "\n".join(lines) + "\n"

    def render_slurm_conf(self, general: Sequence[tuple[str, str]]) -> str:
        """Full slurm.conf: ``general`` settings first, then :meth:`slurm_conf_body`."""
        head = "".join(f"{key}={value}\n" for key, value in general)
        return head + self.slurm_conf_body()


def operator_slurmd_conf(extra_conf: str, key: str) -> str:
    """The ``slurmd --conf`` line the operator builds from a NodeSet's ``extraConf``.

    Keys are title-cased and repeated keys comma-merged in order; ``Feature``/``Features``
    are folded into one ``Features=`` that starts with the NodeSet key, the others after
    it as written (operators 1.0.1 and 1.1.0 neither sort nor de-duplicate them; held
    equal to the real operator by tests/e2e/test_operator_stack.py). Tokens are sorted as
    the operator does. Spacing the 1.0.1-1.2.1 operators panic on (double, leading or
    trailing spaces, tabs, newlines, no ``=``) raises :class:`AssembleError`.
    """
    if extra_conf != " ".join(extra_conf.split()):
        raise AssembleError(
            f"NodeSet {key}: extraConf {extra_conf!r} has a newline, tab, double, leading or "
            "trailing space (operators 1.0.1-1.2.1 panic on it)"
        )
    tokens = []
    for token in extra_conf.split(" ") if extra_conf else []:
        name, sep, value = token.partition("=")
        if not sep or not name or any(c.isspace() for c in token):
            raise AssembleError(
                f"NodeSet {key}: extraConf token {token!r} is not Key=Value "
                "(operators 1.0.1-1.2.1 panic on it)"
            )
        tokens.append((name, value))
    merged = operator_conf(tokens)
    merged["Features"] = [key, *merged.get("Features", [])]
    return " ".join(sorted(f"{k}={','.join(v)}" for k, v in merged.items()))


def _gpu_limit(spec: Mapping[str, Any]) -> int | None:
    """The slurmd container's ``nvidia.com/gpu`` limit, if any."""
    resources = ((spec.get("slurmd") or {}).get("resources")) or {}
    limits = resources.get("limits") or {}
    value = limits.get(GPU_RESOURCE)
    if value is None:
        return None
    whole = whole_quantity(value)
    if whole is None:
        raise AssembleError(f"{GPU_RESOURCE} limit {value!r} is not an integer")
    return whole


def _replicas(spec: Mapping[str, Any], key: str) -> int:
    """``spec.replicas`` (the CRD defaults it to 1)."""
    value = spec.get("replicas", 1)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AssembleError(f"NodeSet {key}: replicas {value!r} is not a count")
    return value


def assemble(stream_text: str) -> SlurmRelease:
    """Build, from a post-rendered Helm stream, the Slurm configuration the operator would.

    Reads the Controller (``extraConf``, ``configFileRefs``), every NodeSet, the
    ConfigMaps the Controller references and whether an Accounting object exists.
    """
    docs = [d for d in yaml.safe_load_all(stream_text) if d is not None]
    controllers = [d for d in docs if _is(d, "Controller")]
    if len(controllers) != 1:
        raise AssembleError(f"expected one Controller, found {len(controllers)}")
    controller = controllers[0]
    cspec = controller.get("spec") or {}
    cname = str((controller.get("metadata") or {}).get("name") or "slurm")
    warnings: list[str] = []

    nodesets: list[NodeSetConf] = []
    for doc in docs:
        if not _is(doc, "NodeSet"):
            continue
        spec = doc.get("spec") or {}
        ref = (spec.get("controllerRef") or {}).get("name")
        if ref and ref != cname:
            continue
        key = nodeset_key(doc)
        extra = spec.get("extraConf") or ""
        if not isinstance(extra, str):
            raise AssembleError(f"NodeSet {key}: extraConf is not a string")
        slurmd_conf = operator_slurmd_conf(extra, key)
        gres: tuple[Gres, ...] = ()
        for token in slurmd_conf.split(" "):
            name, _, value = token.partition("=")
            if name == "Gres":
                try:
                    gres = tuple(Gres.parse(part) for part in value.split(","))
                except ConfError as exc:
                    raise AssembleError(f"NodeSet {key}: {exc}") from exc
        limit = _gpu_limit(spec)
        gpus = sum(item.count for item in gres if item.name == "gpu")
        if gpus and limit is None:
            warnings.append(
                f"NodeSet {key}: Gres asks {gpus} GPU(s) but slurmd has no {GPU_RESOURCE} "
                "limit, so its pod sees no GPU"
            )
        partition = spec.get("partition") or {}
        nodesets.append(
            NodeSetConf(
                key=key,
                name=str((doc.get("metadata") or {}).get("name") or key),
                extra_conf=extra,
                slurmd_conf=slurmd_conf,
                gres=gres,
                gpu_limit=limit,
                partition_enabled=bool(partition.get("enabled")),
                partition_config=str(partition.get("config") or ""),
                replicas=_replicas(spec, key),
            )
        )
    keys = [n.key for n in nodesets]
    if len(set(keys)) != len(keys):
        raise AssembleError(f"two NodeSets share a Slurm name: {sorted(keys)}")

    files: dict[str, str] = {}
    configmaps = {
        str((d.get("metadata") or {}).get("name")): d for d in docs if _is(d, "ConfigMap", "v1")
    }
    for ref in cspec.get("configFileRefs") or []:
        ref_name = str((ref or {}).get("name") or "")
        configmap = configmaps.get(ref_name)
        if configmap is None:
            warnings.append(f"configFileRefs names ConfigMap {ref_name!r}, not in the stream")
            continue
        for fname, text in (configmap.get("data") or {}).items():
            if fname in files:
                raise AssembleError(f"{fname} comes from two ConfigMaps")
            files[str(fname)] = str(text)

    extra_conf = cspec.get("extraConf") or ""
    if not isinstance(extra_conf, str):
        raise AssembleError("Controller extraConf is not a string")
    return SlurmRelease(
        cluster_name=_cluster_name(cname),
        nodesets=tuple(nodesets),
        controller_extra_conf=extra_conf.rstrip("\n"),
        has_accounting=any(_is(d, "Accounting") for d in docs),
        gres_conf=files.get("gres.conf"),
        config_files=files,
        warnings=tuple(warnings),
    )


def _is(doc: Any, kind: str, api: str = NODESET_API) -> bool:
    """Whether ``doc`` is a mapping of that kind (and API version)."""
    return isinstance(doc, dict) and doc.get("kind") == kind and doc.get("apiVersion") == api


def _cluster_name(name: str) -> str:
    """A ClusterName slurmctld accepts (lower case, no dashes or dots)."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return cleaned[:40] or "slurm"


def unavailable_reason() -> str | None:
    """Why the harness cannot run here, or None when it can."""
    return slurmroot.unavailable_reason()


_GPU_MODELS: dict[str, dict[str, str]] | None = None


def gpu_model(nodeset: NodeSetConf) -> str:
    """The model string the NVIDIA driver would report on this NodeSet's nodes.

    From the instance type among the node's features (slinky-pr adds it), else the GPU
    type of ``Gres=`` (a Karpenter gpu-name), else :data:`DEFAULT_GPU_MODEL`.
    """
    global _GPU_MODELS
    if _GPU_MODELS is None:
        _GPU_MODELS = json.loads((slurmroot.DATA / "gpu-models.json").read_text())
    from postrender.model.catalogue import lookup

    features = _conf_value(nodeset.slurmd_conf, "Features").split(",")
    for feature in features:
        if model := _GPU_MODELS["by_instance_type"].get(feature):
            return model
        instance = lookup(feature) if "." in feature else None
        if instance is not None and (name := instance.gpu_name) in _GPU_MODELS["by_gpu_name"]:
            return _GPU_MODELS["by_gpu_name"][str(name)]
    for item in nodeset.gpu_items():
        if item.type and item.type in _GPU_MODELS["by_gpu_name"]:
            return _GPU_MODELS["by_gpu_name"][item.type]
    return DEFAULT_GPU_MODEL


def _conf_value(line: str, key: str) -> str:
    """The value of ``key`` in a ``Key=Value ...`` line ('' when absent)."""
    for token in line.split(" "):
        name, _, value = token.partition("=")
        if name == key:
            return value
    return ""


def _free_port(addresses: Sequence[str], taken: Iterable[int] = ()) -> int:
    """A TCP port that is free on every one of ``addresses`` right now, not in ``taken``."""
    avoid = set(taken)
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = int(probe.getsockname()[1])
        if port not in avoid and all(_port_free(addr, port) for addr in addresses):
            return port
    raise SlurmStartError(f"no common free port on {', '.join(addresses)}")


def _port_free(address: str, port: int) -> bool:
    """Whether ``address:port`` can be bound."""
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 25) -> str:
    """Last lines of a log file ('' when absent)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


#: Signals that end a run; SIGINT already raises KeyboardInterrupt.
_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived. A KeyboardInterrupt, so it ends a pytest session too
    (pytest turns SystemExit in a test into a failure and goes on)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _exit_on_signal(signum: int, frame: object) -> None:
    """Turn a terminating signal into an exception, so every ``with`` block cleans up."""
    raise Terminated(signum)


@contextlib.contextmanager
def signals_unwind() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated` instead of killing us.

    The default action would end Python on the spot and leave root daemons running and
    the work dir behind; raising lets :meth:`SlurmCluster.stop` and temporary dirs
    clean up. Handlers the application set itself are kept; nested uses are no-ops; off
    the main thread (where Python cannot set handlers) nothing changes.
    """
    previous: dict[signal.Signals, Any] = {}
    try:
        for signum in _TERMINATING:
            if signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _exit_on_signal)
    except ValueError:
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (they stay pending) while cleaning up."""
    held = {signal.SIGINT, *_TERMINATING}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@dataclass
class _Proc:
    """A daemon the cluster started."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    output: Path


@dataclass(frozen=True)
class Account:
    """A Slurm account the harness creates in slurmdbd, with the users in it and its cap."""

    name: str
    users: tuple[str, ...] = ("root",)
    # sacctmgr GrpTRESMins=gres/gpu=<n>: GPU-minutes all the account's jobs may use.
    gpu_minutes: int | None = None


class SlurmCluster:
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
        self.release = release
        self.workdir = Path(workdir).resolve()
        self.startup_timeout = startup_timeout
        self.command_timeout = command_timeout
        self.device_counts = dict(device_counts or {})
        self.gpu_models = dict(gpu_models or {})
        self.accounts = tuple(accounts)
        self.debug = debug
        self.run_id = secrets.token_hex(8)
        self.root = slurmroot.chroot_root()
        # One slurmd (node <key>-0) per NodeSet that has pods at all.
        skipped = set(unscheduled)
        self.running = tuple(n for n in release.nodesets if n.replicas > 0 and n.key not in skipped)
        # Host-side paths; the daemons see the work dir at MOUNT_POINT.
        self.conf_dir = self.workdir / "etc"
        self.slurm_conf = self.conf_dir / "slurm.conf"
        self.log_dir = self.workdir / "log"
        self.node_ports: dict[str, int] = {}
        self.users: dict[str, tuple[int, int]] = {}
        self._procs: list[_Proc] = []
        self._namespaces: set[str] = set()
        self._unwind: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        self.ctld_port = 0
        self.dbd_port = 0
        self.db_port = 0

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
        reason = unavailable_reason()
        if reason:
            raise SlurmUnavailable(reason)
        try:
            self._write_files()
            self._start_munged()
            if self.release.has_accounting:
                self._start_accounting()
            self._start_slurmctld()
            if self.release.has_accounting:
                self._add_accounts()
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
        for sub in ("etc", "state", "log", "run", "spool", "munge", "os", "nodes"):
            (self.workdir / sub).mkdir(exist_ok=True)
        munge_dir = self.workdir / "munge"
        munge_dir.chmod(0o755)
        key = munge_dir / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        self._write_os_files()
        cpulist = f"0-{max(0, (os.cpu_count() or 1) - 1)}"
        for nodeset in self.running:
            (self.workdir / "spool" / nodeset.node_name).mkdir(exist_ok=True)
            slurmroot.make_node_dir(
                self.workdir / "nodes" / nodeset.node_name, self.node_gpus(nodeset), cpulist
            )

        self.ctld_port = _free_port(["127.0.0.1"])
        for nodeset in self.running:
            self.node_ports[nodeset.node_name] = _free_port(
                ["127.0.0.1"], [self.ctld_port, *self.node_ports.values()]
            )
        self.slurm_conf.write_text(self.release.render_slurm_conf(self._general_settings()))
        for name, text in self.release.config_files.items():
            # gres.conf and any other file the Controller mounts, verbatim, beside slurm.conf.
            (self.conf_dir / name).write_text(text)
        (self.conf_dir / "cgroup.conf").write_text("CgroupPlugin=disabled\n")
        if self.release.has_accounting:
            self._write_dbd_conf()

    def _write_os_files(self) -> None:
        """The run's /etc/hosts, passwd and group (bound over the chroot's).

        Every group an ``AllowGroups`` names exists, with one member user of the same
        name, so a partition's groups can be tried from inside and outside.
        """
        names = [n.node_name for n in self.running]
        (self.workdir / "os" / "hosts").write_text(f"127.0.0.1 {' '.join(['localhost', *names])}\n")
        passwd = (self.root / "etc" / "passwd").read_text()
        group = (self.root / "etc" / "group").read_text()
        for line in passwd.splitlines():
            fields = line.split(":")
            if len(fields) > 3:
                self.users[fields[0]] = (int(fields[2]), int(fields[3]))
        existing = {line.split(":")[0] for line in group.splitlines()}
        wanted = sorted(set(_allow_groups(self.release.slurm_conf_body())) - existing)
        for index, name in enumerate(wanted):
            ident = 3000 + index
            passwd += f"{name}:x:{ident}:{ident}::/:/bin/sh\n"
            group += f"{name}:x:{ident}:{name}\n"
            self.users[name] = (ident, ident)
        (self.workdir / "os" / "passwd").write_text(passwd)
        (self.workdir / "os" / "group").write_text(group)

    def _inside(self, *parts: str) -> str:
        """A path of the work dir as the daemons see it."""
        return "/".join([MOUNT_POINT, *parts])

    def _general_settings(self) -> list[tuple[str, str]]:
        """What the operator writes before NodeSets, pointed at this work dir and loopback."""
        w = self._inside
        settings = [
            ("ClusterName", self.release.cluster_name),
            # "localhost" is replaced by the short hostname, so slurmctld knows it is the
            # controller wherever it runs; clients use the address in parentheses.
            ("SlurmctldHost", "localhost(127.0.0.1)"),
            ("SlurmctldPort", str(self.ctld_port)),
            ("SlurmUser", "root"),
            ("SlurmdUser", "root"),
            ("StateSaveLocation", w("state")),
            ("SlurmdSpoolDir", w("spool", "%n")),
            ("SlurmctldPidFile", w("run", "slurmctld.pid")),
            ("SlurmdPidFile", w("run", "slurmd-%n.pid")),
            ("SlurmctldLogFile", w("log", "slurmctld.log")),
            ("SlurmdLogFile", w("log", "slurmd-%n.log")),
            ("SlurmctldDebug", self.debug),
            ("SlurmdDebug", self.debug),
            # Dynamic nodes need a node table size and cons_tres.
            ("MaxNodeCount", str(max(64, 2 * len(self.running)))),
            ("SelectType", "select/cons_tres"),
            ("SelectTypeParameters", "CR_Core"),
            ("AuthType", "auth/munge"),
            ("CredType", "cred/munge"),
            ("AuthInfo", f"socket={w('munge', 'munge.socket')}"),
            # Bind every daemon and client to its own (loopback) hostname address.
            ("CommunicationParameters", "NoInAddrAny,NoCtldInAddrAny"),
            # No cgroups in a chroot: process groups track job steps.
            ("ProctrackType", "proctrack/pgid"),
            ("TaskPlugin", "task/none"),
            ("JobAcctGatherType", "jobacct_gather/none"),
            ("MpiDefault", "none"),
            ("MailProg", "/bin/true"),
        ]
        if self.release.has_accounting:
            settings += [
                ("AccountingStorageHost", "127.0.0.1"),
                ("AccountingStoragePort", str(self.dbd_port)),
                # The munge socket for slurmdbd traffic (the default one otherwise).
                ("AccountingStoragePass", w("munge", "munge.socket")),
            ]
        return settings

    def _write_dbd_conf(self) -> None:
        """slurmdbd.conf beside slurm.conf (slurmdbd refuses it unless only root reads it)."""
        taken = [self.ctld_port, *self.node_ports.values()]
        self.db_port = _free_port(["127.0.0.1"], taken)
        self.dbd_port = _free_port(["127.0.0.1"], [*taken, self.db_port])
        w = self._inside
        conf = self.conf_dir / "slurmdbd.conf"
        conf.write_text(
            "AuthType=auth/munge\n"
            f"AuthInfo=socket={w('munge', 'munge.socket')}\n"
            "DbdHost=localhost\nDbdAddr=127.0.0.1\n"
            f"DbdPort={self.dbd_port}\nSlurmUser=root\n"
            "StorageType=accounting_storage/mysql\n"
            # "localhost" would mean the socket path the client library was built with.
            f"StorageHost=127.0.0.1\nStoragePort={self.db_port}\nStorageUser=root\n"
            f"LogFile={w('log', 'slurmdbd.log')}\nPidFile={w('run', 'slurmdbd.pid')}\n"
            f"DebugLevel={self.debug}\n"
        )
        conf.chmod(0o600)
        # Rewrite slurm.conf now that the port is known.
        self.slurm_conf.write_text(self.release.render_slurm_conf(self._general_settings()))

    def _env(self) -> dict[str, str]:
        """Environment for daemons and clients: this cluster's config and the run marker."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/",
            "LANG": "C.UTF-8",
            "SLURM_CONF": self._inside("etc", "slurm.conf"),
            _MARKER_VAR: self.run_id,
        }

    def _view(self, hostname: str | None, node: str | None = None, user: str | None = None) -> View:
        node_dir = self.workdir / "nodes" / node if node else None
        ids = self.users[user] if user is not None else None
        return View(self.root, self.workdir, hostname, node_dir, ids)

    def _spawn(self, name: str, argv: list[str], view: View, log: Path) -> _Proc:
        """Start a daemon in its own session, inside the chroot, output to a file."""
        output = self.log_dir / f"{name}.out"
        with output.open("wb") as sink:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,
                preexec_fn=slurmroot.entering(view),
            )
        proc = _Proc(name, popen, log, output)
        self._procs.append(proc)
        # Popen returned, so the child entered its namespace and exec'd.
        with contextlib.suppress(OSError):
            self._namespaces.add(os.readlink(f"/proc/{popen.pid}/ns/mnt"))
        return proc

    def processes(self) -> list[int]:
        """PIDs of every live process this cluster started, daemons and their children."""
        return list(marked_pids(self.run_id, self._namespaces))

    def _start_munged(self) -> None:
        """munged with this work dir's key and socket (no system munge needed)."""
        m = self._inside("munge")
        proc = self._spawn(
            "munged",
            [
                f"{_SBIN}/munged",
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

    def _start_accounting(self) -> None:
        """MariaDB (a fresh data dir, loopback only) and slurmdbd on it."""
        datadir = self.workdir / "mysql"
        datadir.mkdir(exist_ok=True)
        install = self._client(
            [
                f"{_BIN}/mariadb-install-db",
                "--no-defaults",
                f"--datadir={self._inside('mysql')}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *_SMALL_MARIADB,
            ],
            timeout=max(60.0, self.startup_timeout),
        )
        if install.returncode != 0:
            raise SlurmStartError("mariadb-install-db failed", install.stdout + install.stderr)
        db = self._spawn(
            "mariadbd",
            [
                f"{_SBIN}/mariadbd",
                "--no-defaults",
                f"--datadir={self._inside('mysql')}",
                "--user=root",
                f"--port={self.db_port}",
                "--bind-address=127.0.0.1",
                f"--socket={self._inside('run', 'mysqld.sock')}",
                f"--pid-file={self._inside('run', 'mysqld.pid')}",
                f"--log-error={self._inside('log', 'mariadbd.log')}",
                "--skip-name-resolve",
                *_SMALL_MARIADB,
                # slurmdbd's queries fail over the TLS MariaDB 11.8 enables by default
                # ("Number of columns in result set exceeds maximum ... (=0)").
                "--skip-ssl",
            ],
            self._view(None),
            self.log_dir / "mariadbd.log",
        )
        self._wait(lambda: not _port_free("127.0.0.1", self.db_port), db, "MariaDB", 60.0)
        dbd = self._spawn(
            "slurmdbd",
            [f"{_SBIN}/slurmdbd", "-D"],
            self._view("localhost"),
            self.log_dir / "slurmdbd.log",
        )
        self._wait(
            lambda: not _port_free("127.0.0.1", self.dbd_port),
            dbd,
            "slurmdbd",
            max(60.0, self.startup_timeout),
        )
        self.sacctmgr("add", "cluster", self.release.cluster_name)

    def sacctmgr(self, *args: str) -> str:
        """Run ``sacctmgr -i`` (no confirmation) and return its output; raise when it fails."""
        result = self._client(["sacctmgr", "-i", *args])
        if result.returncode != 0:
            raise SlurmSimError(f"sacctmgr {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def sacct(self, *args: str) -> list[list[str]]:
        """``sacct --parsable2 --noheader`` rows (every user's jobs), split on ``|``."""
        result = self._client(["sacct", "--parsable2", "--noheader", "--allusers", *args])
        if result.returncode != 0:
            raise SlurmSimError(f"sacct {' '.join(args)}: {result.stderr.strip()}")
        return [line.split("|") for line in result.stdout.splitlines() if line]

    def _add_accounts(self) -> None:
        """The ``accounts`` in slurmdbd: the account, its users, its GPU-minutes cap."""
        for account in self.accounts:
            self.sacctmgr("add", "account", account.name)
            for user in account.users:
                self.sacctmgr("add", "user", user, f"account={account.name}")
            if account.gpu_minutes is not None:
                self.sacctmgr(
                    "modify",
                    "account",
                    account.name,
                    "set",
                    f"GrpTRESMins=gres/gpu={account.gpu_minutes}",
                )

    def _start_slurmctld(self) -> None:
        """slurmctld in the foreground; raise with its log when it exits at start."""
        proc = self._spawn(
            "slurmctld",
            [f"{_SBIN}/slurmctld", "-D", "-i"],
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
        pending: dict[str, _Proc] = {}
        for nodeset in self.running:
            node = nodeset.node_name
            pending[node] = self._spawn(
                f"slurmd-{node}",
                [
                    f"{_SBIN}/slurmd",
                    "-D",
                    "-Z",
                    "-N",
                    node,
                    "--conf",
                    f"{nodeset.slurmd_conf} Port={self.node_ports[node]}",
                ],
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

    def _proc(self, name: str) -> _Proc:
        """The started daemon called ``name``."""
        for proc in self._procs:
            if proc.name == name:
                return proc
        raise KeyError(name)

    def _log_tail(self, proc: _Proc) -> str:
        """The daemon's log tail, falling back to its captured output."""
        return _tail(proc.log) or _tail(proc.output)

    def _check_alive(self, proc: _Proc, what: str) -> None:
        """Raise with the daemon's log when it has exited."""
        code = proc.popen.poll()
        if code is not None:
            raise SlurmStartError(f"{what} exited with status {code}", self._log_tail(proc))

    def _wait(self, ready: Callable[[], bool], proc: _Proc, what: str, timeout: float) -> None:
        """Poll ``ready()`` until true; fail when ``proc`` exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(proc, proc.name)
            if ready():
                return
            if time.monotonic() > deadline:
                raise SlurmStartError(f"timed out waiting for {what}", self._log_tail(proc))
            time.sleep(0.1)

    # ----- stop --------------------------------------------------------------

    def stop(self) -> None:
        """Stop every daemon (process groups, then any straggler); idempotent.

        A terminating signal arriving meanwhile waits until everything is stopped.
        """
        if not self._procs:
            return
        with _signals_deferred():
            self._stop()

    def _stop(self) -> None:
        if any(p.name == "slurmctld" and p.popen.poll() is None for p in self._procs):
            with contextlib.suppress(SlurmSimError, OSError):
                self._client(["scancel", f"--user={os.geteuid()}"], timeout=5.0)
        for proc in reversed(self._procs):
            _signal_group(proc.popen, signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        for proc in reversed(self._procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self._procs:
            if proc.popen.poll() is None:
                _signal_group(proc.popen, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5.0)
        # Job steps left their process group; wait until the last of them is gone too.
        deadline = time.monotonic() + 5.0
        while (pids := self.processes()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        self._procs.clear()

    # ----- clients -----------------------------------------------------------

    def _client(
        self,
        argv: Sequence[str],
        timeout: float | None = None,
        check_timeout: bool = True,
        user: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client against this cluster with a time bound (as ``user`` if given)."""
        limit = self.command_timeout if timeout is None else timeout
        binary = argv[0] if argv[0].startswith("/") else f"{_BIN}/{argv[0]}"
        popen = subprocess.Popen(
            [binary, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            start_new_session=True,
            preexec_fn=slurmroot.entering(self._view("localhost", user=user)),
        )
        try:
            out, err = popen.communicate(timeout=limit)
        except subprocess.TimeoutExpired as exc:
            _signal_group(popen, signal.SIGKILL)
            out, err = popen.communicate()
            if check_timeout:
                raise SlurmCommandTimeout(
                    f"{' '.join(argv)} did not finish in {limit:g}s: {err.strip()}"
                ) from exc
            return subprocess.CompletedProcess(list(argv), 124, out, err)
        return subprocess.CompletedProcess(list(argv), popen.returncode, out, err)

    def scontrol(self, *args: str) -> str:
        """Run ``scontrol`` and return its output; raise when it fails."""
        result = self._client(["scontrol", *args])
        if result.returncode != 0:
            raise SlurmSimError(f"scontrol {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def sinfo(self, *args: str, user: str | None = None) -> str:
        """``sinfo`` output (extra arguments are passed through), as ``user`` if given."""
        result = self._client(["sinfo", *args], user=user)
        if result.returncode != 0:
            raise SlurmSimError(f"sinfo: {result.stderr.strip()}")
        return result.stdout

    def show_partitions(self) -> dict[str, dict[str, str]]:
        """``scontrol --all show partition -o`` as {partition: {key: value}}.

        ``--all``: without it scontrol leaves out ``Hidden=YES`` partitions.
        """
        text = self.scontrol("--all", "show", "partition", "-o")
        return parse_scontrol_oneliners(text, "PartitionName")

    def show_nodes(self) -> dict[str, dict[str, str]]:
        """``scontrol show node -o`` as {node: {key: value}} (empty when no node exists)."""
        result = self._client(["scontrol", "show", "node", "-o"])
        if result.returncode != 0:
            if "No nodes" in result.stdout + result.stderr:
                return {}
            raise SlurmSimError(f"scontrol show node: {result.stderr.strip()}")
        return parse_scontrol_oneliners(result.stdout, "NodeName")

    def run(
        self,
        partition: str | None,
        gres: str | None = None,
        time: str | None = None,
        extra: Sequence[str] = (),
        command: Sequence[str] = ("true",),
        immediate: int = 5,
        user: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``srun`` (e.g. ``-p gpu-partition --gres=gpu:8 true``) and return its result.

        ``--immediate`` makes a job Slurm would leave pending (over a partition limit,
        no fitting node) fail after ``immediate`` seconds instead of waiting. ``user``
        runs it as that account, for limits root is exempt from (``AllowGroups``); it
        must be able to read the work dir (slurm.conf, the munge socket).
        """
        argv = ["srun", f"--immediate={immediate}", *_job_options(partition, gres, time)]
        argv += [*extra, *command]
        return self._client(argv, timeout=max(self.command_timeout, immediate + 10.0), user=user)

    def submit(
        self,
        partition: str | None,
        gres: str | None = None,
        time: str | None = None,
        extra: Sequence[str] = (),
        command: str = "true",
    ) -> int:
        """Queue a batch job (``sbatch --wrap``) and return its id; raise when refused."""
        argv = ["sbatch", "--parsable", f"--output={self._inside('log', 'job-%j.out')}"]
        argv += [*_job_options(partition, gres, time), *extra, "--wrap", command]
        result = self._client(argv)
        if result.returncode != 0:
            raise SlurmSimError(f"{' '.join(argv)}: {result.stderr.strip()}")
        return int(result.stdout.strip().split(";")[0])

    def show_job(self, job_id: int) -> dict[str, str]:
        """``scontrol show job -o <id>`` as {key: value}."""
        records = parse_scontrol_oneliners(self.scontrol("show", "job", "-o", str(job_id)), "JobId")
        return records[str(job_id)]

    def wait_job(
        self,
        job_id: int,
        states: Sequence[str],
        reason: str | None = None,
        timeout: float = 20.0,
    ) -> dict[str, str]:
        """Poll a job until its ``JobState`` is one of ``states`` (and its ``Reason`` is
        ``reason``, when given: slurmctld sets a pending job's final reason only at its
        next scheduling pass); return its record."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.show_job(job_id)
            if job.get("JobState") in states and reason in (None, job.get("Reason")):
                return job
            if time.monotonic() > deadline:
                raise SlurmCommandTimeout(
                    f"job {job_id} still {job.get('JobState')} ({job.get('Reason')}) "
                    f"after {timeout:g}s, waiting for {'/'.join(states)} {reason or ''}"
                )
            time.sleep(0.2)

    def hold(self, partition: str, extra: Sequence[str] = ()) -> int:
        """Allocate (``salloc --no-shell``) and keep resources until cancelled; return the id.

        An interactive allocation is granted on the spot, where a batch job waits for the
        next scheduling pass (seconds): the quick way to make a node busy.
        """
        argv = ["salloc", "--no-shell", f"--partition={partition}", *extra]
        result = self._client(argv)
        granted = re.search(r"Granted job allocation (\d+)", result.stderr)
        if result.returncode != 0 or not granted:
            raise SlurmSimError(f"{' '.join(argv)}: {result.stderr.strip()}")
        return int(granted.group(1))

    def cancel(self, *job_ids: int) -> None:
        """``scancel`` the jobs (already finished ones are fine)."""
        self._client(["scancel", *map(str, job_ids)])

    def client_command(self, name: str = "scontrol") -> list[str]:
        """An argv prefix that runs a Slurm client against this cluster from anywhere.

        It enters the chroot as the harness's own clients do (``python -m
        postrender.slurm.chroot``), so the prefix can be handed to other tools (``slinky
        verify --scontrol``) and run without a shell.
        """
        return [
            sys.executable,
            "-m",
            "postrender.slurm.chroot",
            str(self.root),
            str(self.workdir),
            name,
        ]

    def log(self, name: str = "slurmctld") -> str:
        """The full log of a daemon (``slurmctld``, ``munged`` or ``slurmd-<node>``)."""
        if name == "munged":
            return _tail(self.workdir / "munge" / "munged.log", 10**6)
        return _tail(self.log_dir / f"{name}.log", 10**6)


def _allow_groups(conf: str) -> list[str]:
    """Group names the ``AllowGroups=`` of a slurm.conf name (``ALL`` is none)."""
    names = []
    for match in re.finditer(r"(?i)(?:^|\s)AllowGroups=(\S+)", conf):
        names += [g for g in match.group(1).split(",") if g and g.upper() != "ALL"]
    return names


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


def _job_options(partition: str | None, gres: str | None, limit: str | None) -> list[str]:
    """``--partition``, ``--gres`` and ``--time`` for srun/sbatch, those that are set."""
    options = {"partition": partition, "gres": gres, "time": limit}
    return [f"--{name}={value}" for name, value in options.items() if value]


def _signal_group(popen: subprocess.Popen[Any], sig: int) -> None:
    """Signal the process group the harness created for ``popen`` (pgid == pid)."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


def marked_pids(run_id: str, namespaces: Iterable[str] = ()) -> Iterator[int]:
    """Live processes of a harness run: in one of its mount namespaces, or marked.

    Every daemon runs in a mount namespace of its own and its children (slurmstepd, job
    steps) inherit it; slurmstepd rewrites its environment for its process title, so the
    marker variable alone would miss it.
    """
    needle = f"{_MARKER_VAR}={run_id}".encode()
    owned = set(namespaces)
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "ns" / "mnt") in owned:
                yield int(entry.name)
                continue
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            yield int(entry.name)


# ----- `slinky slurm-check` ----------------------------------------------------------


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
