"""Run a post-rendered Slinky release against real Slurm daemons on loopback.

Schemas cannot tell whether slurmctld accepts a partition line or whether a node's
``Gres=`` is backed by devices; only Slurm can. This module rebuilds, from a
post-rendered Helm stream, what the Slinky operator would hand to Slurm
(:func:`assemble`), then starts munged, slurmctld and one dynamic slurmd per NodeSet
on 127.0.0.x with fake GPU device files (:class:`SlurmCluster`).

Everything runs as root under a private work dir: its own munge key and socket,
state, spool, logs and ports. Every wait is bounded and every process is stopped on
exit, also after a failed start.

Slurm 22.05 (Debian 12) specifics handled here:

* dynamic nodes (``slurmd -Z``) need ``MaxNodeCount`` and ``select/cons_tres``;
* a dynamic slurmd must listen on ``SlurmdPort`` (``Port=`` is refused in
  ``--conf``), so each slurmd gets its own loopback address instead of its own port:
  it runs in a private UTS namespace whose hostname is that address, and
  ``CommunicationParameters=NoInAddrAny`` makes it bind there;
* slurmctld records a dynamic node's address from the registering connection, which
  always comes from 127.0.0.1, so the harness sets ``NodeAddr`` once the node exists;
* slurmd always loads a cgroup plugin (there is no ``CgroupPlugin=disabled`` yet):
  ``autodetect`` with ``IgnoreSystemd=yes`` and nothing constrained;
* ``AutoDetect=nvidia`` does not exist (24.11+) and NVML is not built in Debian:
  gres.conf autodetection is replaced by ``File=`` lines on fake device nodes, as
  many per node as its slurmd's ``nvidia.com/gpu`` limit (what the pod would see);
* repeated keys in ``--conf`` are not merged (the last wins), so the operator's merge
  of ``Features=`` must happen before slurmd sees the line;
* with ``accounting_storage/slurmdbd`` slurmctld exits at start unless slurmdbd answers,
  so releases with an Accounting object are refused (:data:`ACCOUNTING_UNSUPPORTED`).

``slinky slurm-check`` (:func:`check_command`) is this harness for users: post-render,
run, compare with the profile (postrender.verify) and probe jobs (:func:`probe_jobs`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import click
import yaml

from postrender.cli import _guard, _render_options
from postrender.errors import EXIT_INPUT
from postrender.quantity import whole_quantity
from postrender.slurmconf import ConfError, Gres, operator_conf

if TYPE_CHECKING:
    from postrender.profiles import Profile
    from postrender.verify import Report

NODESET_API = "slinky.slurm.net/v1beta1"
GPU_RESOURCE = "nvidia.com/gpu"

#: Binaries the harness runs; all come from Debian's slurmctld, slurmd, slurm-client
#: and munge packages.
REQUIRED_BINARIES = ("munged", "slurmctld", "slurmd", "slurmstepd", "scontrol", "sinfo", "srun")

_CLONE_NEWUTS = 0x04000000
# Marks every process the harness starts, so stragglers that left their process group
# (slurmstepd calls setsid) can be found and stopped by pid.
_MARKER_VAR = "SLURMSIM_RUN_ID"
_AUTODETECT = re.compile(r"^\s*AutoDetect\s*=\s*(\S+)\s*$", re.IGNORECASE)
# Keys may hold ':' and '/' (AllocNode:Sid=, NtasksPerN:B:S:C=, Socks/Node= in jobs).
_SCONTROL_KEY = re.compile(r"(?:(?<=\s)|^)([A-Za-z][A-Za-z0-9_:/]*)=")


#: Why a release with an Accounting object cannot run here. Checked on 22.05: with
#: ``accounting_storage/slurmdbd`` and no slurmdbd answering, slurmctld exits at start
#: whatever the rest of the configuration ("fatal: You are running with a database but
#: for some reason we have no TRES from it"), and Debian's slurmdbd needs MariaDB.
ACCOUNTING_UNSUPPORTED = (
    "the release has an Accounting object: slurmctld then needs a running slurmdbd "
    "(it exits at start without one), which this harness does not provide"
)


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

    def render_gres_conf(
        self, device_dir: Path, device_counts: Mapping[str, int] | None = None
    ) -> tuple[str | None, dict[str, int]]:
        """gres.conf with GPU autodetection replaced by fake devices under ``device_dir``.

        Returns the text (None when the release ships no gres.conf) and, per node name,
        how many device files it needs. Each NodeSet with a GPU ``Gres=`` gets as many
        devices as its slurmd ``nvidia.com/gpu`` limit, since that is all autodetection
        would find in the pod (none without a limit, which is one of the ways the GPU
        recipe fails); the ``Gres=`` entries give the types. ``device_counts`` (by
        NodeSet key) overrides the count.
        """
        if self.gres_conf is None:
            return None, {}
        overrides = device_counts or {}
        out: list[str] = []
        autodetect = False
        for line in self.gres_conf.splitlines():
            match = _AUTODETECT.match(line)
            if match and match.group(1).lower() != "off":
                autodetect = True
                out.append("AutoDetect=off")
            else:
                out.append(line)
        needed: dict[str, int] = {}
        if not autodetect:
            return "\n".join(out) + "\n", needed
        for nodeset in self.nodesets:
            items = nodeset.gpu_items()
            if not items and nodeset.key not in overrides:
                continue
            counts = _device_split(items, nodeset.gpu_limit, overrides.get(nodeset.key))
            first = 0
            node_dir = device_dir / nodeset.node_name
            for item, count in counts:
                if count <= 0:
                    continue
                last = first + count - 1
                files = (
                    f"{node_dir}/nvidia[{first}-{last}]"
                    if count > 1
                    else f"{node_dir}/nvidia{first}"
                )
                type_part = f" Type={item.type}" if item.type else ""
                out.append(f"NodeName={nodeset.node_name} Name=gpu{type_part} File={files}")
                first = last + 1
            needed[nodeset.node_name] = first
        return "\n".join(out) + "\n", needed


def _device_split(
    items: Sequence[Gres], limit: int | None, override: int | None
) -> list[tuple[Gres, int]]:
    """How many fake devices back each GPU GRES entry of one node.

    The pod sees as many GPUs as its ``nvidia.com/gpu`` limit (none without one);
    they fill the node's GPU entries in order, any surplus going to the last.
    """
    total = override if override is not None else (limit or 0)
    if not items:
        return [(Gres("gpu", None, total), total)]
    split: list[tuple[Gres, int]] = []
    for index, item in enumerate(items):
        count = total if index == len(items) - 1 else min(item.count, total)
        split.append((item, count))
        total -= count
    return split


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


def _nodeset_key(doc: Mapping[str, Any]) -> str:
    """The NodeSet's Slurm name: pod hostname prefix without dashes, else the object name."""
    spec = doc.get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec")) or {}
    hostname = str(pod.get("hostname") or "").strip()
    if hostname:
        return hostname.split()[0].strip("-")
    # Upstream (1.0.1 to HEAD) falls back to metadata.name itself, not a suffix.
    return str((doc.get("metadata") or {}).get("name") or "")


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
        key = _nodeset_key(doc)
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
    missing = [b for b in REQUIRED_BINARIES if _which(b) is None]
    if missing:
        return (
            f"Slurm/munge binaries not found: {', '.join(missing)} "
            "(apt-get install slurmctld slurmd slurm-client munge)"
        )
    if os.geteuid() != 0:
        return "the Slurm harness must run as root (slurmd launches jobs, namespaces)"
    try:
        _libc()
    except OSError as exc:
        return f"cannot load libc for namespaces: {exc}"
    return None


def _which(name: str) -> str | None:
    """Find a binary on PATH or in the sbin dirs Debian installs daemons to."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin:/usr/local/sbin"
    return shutil.which(name, path=path)


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    """libc, loaded once in the parent so the forked child only makes calls."""
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _in_uts(hostname: str, user: tuple[int, int] | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` giving the child a private UTS namespace named ``hostname``.

    With ``NoInAddrAny`` a Slurm process binds to the address its hostname resolves
    to; a numeric hostname resolves without /etc/hosts, so nothing system-wide changes.
    ``user`` (uid, gid) drops root afterwards: the namespace needs root, and Popen's own
    ``user=`` would switch before ``preexec_fn`` runs.
    """
    libc = _libc()
    raw = hostname.encode()

    def setup() -> None:
        if libc.unshare(_CLONE_NEWUTS) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare(CLONE_NEWUTS): {os.strerror(err)}")
        if libc.sethostname(raw, len(raw)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"sethostname: {os.strerror(err)}")
        if user is not None:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])

    return setup


def _free_port(addresses: Sequence[str]) -> int:
    """A TCP port that is free on every one of ``addresses`` right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = int(probe.getsockname()[1])
        if all(_port_free(addr, port) for addr in addresses):
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


def parse_scontrol_oneliners(text: str, name_key: str) -> dict[str, dict[str, str]]:
    """Parse ``scontrol show <entity> -o`` output into {name: {key: value}}.

    Values may hold spaces (``OS=Linux 6.1 #1 SMP``, ``Reason=... (4 < 8)``): a key is
    a word directly followed by ``=`` at the start or after whitespace.
    """
    result: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        matches = list(_SCONTROL_KEY.finditer(line))
        record: dict[str, str] = {}
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            record[match.group(1)] = line[match.end() : end].strip()
        if name_key in record:
            result[record[name_key]] = record
    return result


@dataclass
class _Proc:
    """A daemon the cluster started."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    output: Path


class SlurmCluster:
    """munged + slurmctld + one dynamic slurmd per NodeSet, on loopback, for one release.

    Use as a context manager; it always stops what it started. ``device_counts``
    overrides, per NodeSet key, how many fake GPU device files back the node.
    ``unscheduled`` names NodeSets whose pods never run (a Karpenter pool that never
    scaled up, a toleration that matches no taint): they get no slurmd, as with
    ``replicas: 0``.
    """

    def __init__(
        self,
        release: SlurmRelease,
        workdir: Path | str,
        *,
        startup_timeout: float = 30.0,
        command_timeout: float = 30.0,
        device_counts: Mapping[str, int] | None = None,
        unscheduled: Iterable[str] = (),
        debug: str = "info",
    ) -> None:
        """Prepare (but do not start) a cluster under ``workdir``."""
        self.release = release
        self.workdir = Path(workdir).resolve()
        self.startup_timeout = startup_timeout
        self.command_timeout = command_timeout
        self.device_counts = dict(device_counts or {})
        self.debug = debug
        self.run_id = secrets.token_hex(8)
        # One slurmd (node <key>-0) per NodeSet that has pods at all.
        skipped = set(unscheduled)
        self.running = tuple(n for n in release.nodesets if n.replicas > 0 and n.key not in skipped)
        self.conf_dir = self.workdir / "etc"
        self.slurm_conf = self.conf_dir / "slurm.conf"
        self.log_dir = self.workdir / "log"
        self.munge_socket = self.workdir / "munge" / "munge.socket"
        self.node_addrs = {n.node_name: f"127.0.0.{2 + i}" for i, n in enumerate(self.running)}
        self._procs: list[_Proc] = []
        self.ctld_port = 0
        self.slurmd_port = 0

    def __enter__(self) -> SlurmCluster:
        """Start the cluster; stop everything again if the start fails."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the cluster."""
        self.stop()

    # ----- start -------------------------------------------------------------

    def start(self) -> None:
        """Write the configuration, start the daemons and wait for every node."""
        reason = unavailable_reason()
        if reason:
            raise SlurmUnavailable(reason)
        if self.release.has_accounting:
            raise SlurmUnavailable(ACCOUNTING_UNSUPPORTED)
        if len(self.release.nodesets) > 250:
            raise SlurmStartError("too many NodeSets for 127.0.0.x addressing")
        try:
            self._write_files()
            self._start_munged()
            self._start_slurmctld()
            self._start_slurmds()
        except BaseException:
            self.stop()
            raise

    def _write_files(self) -> None:
        """Lay out the work dir: configs, munge key, spools, fake GPU devices."""
        for sub in ("etc", "state", "log", "run", "spool", "dev"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        munge_dir = self.munge_socket.parent
        munge_dir.mkdir(parents=True, exist_ok=True)
        # munged refuses keys readable by others and warns unless clients can reach the socket.
        munge_dir.chmod(0o755)
        key = munge_dir / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        for nodeset in self.running:
            (self.workdir / "spool" / nodeset.node_name).mkdir(exist_ok=True)

        self.ctld_port = _free_port(["127.0.0.1"])
        self.slurmd_port = _free_port(list(self.node_addrs.values()) or ["127.0.0.2"])
        self.slurm_conf.write_text(self.release.render_slurm_conf(self._general_settings()))

        gres_text, needed = self.release.render_gres_conf(self.workdir / "dev", self.device_counts)
        if gres_text is not None:
            (self.conf_dir / "gres.conf").write_text(gres_text)
        for node, count in needed.items():
            _make_devices(self.workdir / "dev" / node, count)
        # 22.05 slurmd always loads a cgroup plugin; keep it from touching anything.
        (self.conf_dir / "cgroup.conf").write_text(
            "CgroupPlugin=autodetect\nIgnoreSystemd=yes\nConstrainCores=no\n"
            "ConstrainDevices=no\nConstrainRAMSpace=no\nConstrainSwapSpace=no\n"
        )

    def _general_settings(self) -> list[tuple[str, str]]:
        """What the operator writes before NodeSets, pointed at this work dir and loopback."""
        w = self.workdir
        settings = [
            ("ClusterName", self.release.cluster_name),
            # "localhost" is replaced by the short hostname, so slurmctld knows it is the
            # controller wherever it runs; clients use the address in parentheses.
            ("SlurmctldHost", "localhost(127.0.0.1)"),
            ("SlurmctldPort", str(self.ctld_port)),
            ("SlurmUser", "root"),
            ("SlurmdUser", "root"),
            ("SlurmdPort", str(self.slurmd_port)),
            ("StateSaveLocation", str(w / "state")),
            ("SlurmdSpoolDir", str(w / "spool" / "%n")),
            ("SlurmctldPidFile", str(w / "run" / "slurmctld.pid")),
            ("SlurmdPidFile", str(w / "run" / "slurmd-%n.pid")),
            ("SlurmctldLogFile", str(w / "log" / "slurmctld.log")),
            ("SlurmdLogFile", str(w / "log" / "slurmd-%n.log")),
            ("SlurmctldDebug", self.debug),
            ("SlurmdDebug", self.debug),
            # Dynamic nodes need a non-zero node table size and cons_tres.
            ("MaxNodeCount", "64"),
            ("SelectType", "select/cons_tres"),
            ("SelectTypeParameters", "CR_Core"),
            ("AuthType", "auth/munge"),
            ("CredType", "cred/munge"),
            ("AuthInfo", f"socket={self.munge_socket}"),
            # Bind every daemon and client to its own (loopback) hostname address.
            ("CommunicationParameters", "NoInAddrAny,NoCtldInAddrAny"),
            # No cgroups in containers: process groups track job steps.
            ("ProctrackType", "proctrack/pgid"),
            ("TaskPlugin", "task/none"),
            ("JobAcctGatherType", "jobacct_gather/none"),
            ("MpiDefault", "none"),
            ("MailProg", _which("true") or "/bin/true"),
        ]
        return settings

    def _env(self) -> dict[str, str]:
        """Environment for daemons and clients: this cluster's config, no inherited SLURM_*."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "SQUEUE_", "SINFO_"))
        }
        env["SLURM_CONF"] = str(self.slurm_conf)
        env[_MARKER_VAR] = self.run_id
        return env

    def _spawn(self, name: str, argv: list[str], hostname: str | None, log: Path) -> _Proc:
        """Start a daemon in its own session (and UTS namespace), output to a file."""
        output = self.log_dir / f"{name}.out"
        with output.open("wb") as sink:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=_in_uts(hostname) if hostname else None,
            )
        proc = _Proc(name, popen, log, output)
        self._procs.append(proc)
        return proc

    def _start_munged(self) -> None:
        """munged with this work dir's key and socket (no system munge needed)."""
        mdir = self.munge_socket.parent
        proc = self._spawn(
            "munged",
            [
                _which("munged") or "munged",
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={mdir / 'munge.key'}",
                f"--log-file={mdir / 'munged.log'}",
                f"--pid-file={mdir / 'munged.pid'}",
                f"--seed-file={mdir / 'munged.seed'}",
            ],
            None,
            mdir / "munged.log",
        )
        self._wait(lambda: self.munge_socket.exists(), proc, "munged socket", 10.0)

    def _start_slurmctld(self) -> None:
        """slurmctld in the foreground; raise with its log when it exits at start."""
        proc = self._spawn(
            "slurmctld",
            [_which("slurmctld") or "slurmctld", "-D", "-i", "-f", str(self.slurm_conf)],
            "localhost",
            self.log_dir / "slurmctld.log",
        )

        def up() -> bool:
            result = self._client(["scontrol", "ping"], timeout=5.0, check_timeout=False)
            return result.returncode == 0 and "UP" in result.stdout

        self._wait(up, proc, "slurmctld to answer", self.startup_timeout)

    def _start_slurmds(self) -> None:
        """One dynamic slurmd per NodeSet, each on its own loopback address."""
        deadline = time.monotonic() + self.startup_timeout
        pending: dict[str, _Proc] = {}
        for nodeset in self.running:
            node = nodeset.node_name
            pending[node] = self._spawn(
                f"slurmd-{node}",
                [
                    _which("slurmd") or "slurmd",
                    "-D",
                    "-Z",
                    "-N",
                    node,
                    "-f",
                    str(self.slurm_conf),
                    "--conf",
                    nodeset.slurmd_conf,
                ],
                self.node_addrs[node],
                self.log_dir / f"slurmd-{node}.log",
            )
        while pending:
            nodes = self.show_nodes()
            for node in list(pending):
                if node in nodes:
                    # slurmctld took the address of the registering connection (always
                    # 127.0.0.1); point it at the address this slurmd listens on.
                    self.scontrol(
                        "update",
                        f"NodeName={node}",
                        f"NodeAddr={self.node_addrs[node]}",
                        f"NodeHostname={node}",
                    )
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
        """Stop every daemon (process groups, then any marked straggler); idempotent."""
        if not self._procs:
            return
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
        for pid in _marked_pids(self.run_id):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
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
        binary = _which(argv[0]) or argv[0]
        ids = None
        if user is not None:
            entry = pwd.getpwnam(user)
            ids = (entry.pw_uid, entry.pw_gid)
        popen = subprocess.Popen(
            [binary, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            # The job starts in the client's directory: one any user can enter.
            cwd=self.workdir if user is None else "/",
            start_new_session=True,
            preexec_fn=_in_uts("localhost", ids),
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
        argv = ["sbatch", "--parsable", f"--output={self.workdir / 'log' / 'job-%j.out'}"]
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

        ``env SLURM_CONF=...`` rather than a changed environment, so the prefix can be
        handed to other tools (``slinky verify --scontrol``) and run without a shell.
        """
        return [_which("env") or "env", f"SLURM_CONF={self.slurm_conf}", _which(name) or name]

    def log(self, name: str = "slurmctld") -> str:
        """The full log of a daemon (``slurmctld``, ``munged`` or ``slurmd-<node>``)."""
        if name == "munged":
            return _tail(self.munge_socket.parent / "munged.log", 10**6)
        return _tail(self.log_dir / f"{name}.log", 10**6)


def _job_options(partition: str | None, gres: str | None, limit: str | None) -> list[str]:
    """``--partition``, ``--gres`` and ``--time`` for srun/sbatch, those that are set."""
    options = {"partition": partition, "gres": gres, "time": limit}
    return [f"--{name}={value}" for name, value in options.items() if value]


def _make_devices(directory: Path, count: int) -> None:
    """Create ``nvidia0..N-1`` as character devices (null's numbers), else plain files.

    slurmd only logs when a ``File=`` is not a device; character nodes keep logs clean
    where mknod is allowed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = directory / f"nvidia{index}"
        if path.exists():
            continue
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except OSError:
            path.touch()


def _signal_group(popen: subprocess.Popen[Any], sig: int) -> None:
    """Signal the process group the harness created for ``popen`` (pgid == pid)."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


def _marked_pids(run_id: str) -> Iterator[int]:
    """Live processes carrying this run's marker in their environment."""
    needle = f"{_MARKER_VAR}={run_id}".encode()
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
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
    from postrender.verify import Finding, bad_states, compare

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
    from postrender.release import build_release
    from postrender.stream import read_stream

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
    from postrender.engine import post_render
    from postrender.verify import Finding, Report

    result = post_render(text, profile)
    names = carried_partitions(result.output, profile)
    try:
        release = assemble(result.output)
    except AssembleError as exc:
        return Report(profile.cluster, names, {}, {}, [Finding("assemble", str(exc))])
    notes = list(release.warnings)
    try:
        with SlurmCluster(release, workdir, startup_timeout=startup_timeout) as cluster:
            report = probe_jobs(cluster, profile, names)
    except SlurmStartError as exc:
        report = Report(profile.cluster, names, {}, {}, [Finding("start", start_failure(exc))])
    report.notes += notes
    return report


@click.command("slurm-check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("stream_file", required=False, metavar="[STREAM]")
@click.option("--chart", metavar="CHART", help="Render CHART (helm template) instead of STREAM.")
@_render_options
@click.option(
    "--config", "-c", metavar="FILE", help="Partition profiles (default: $SLINKY_PR_CONFIG)."
)
@click.option("--cluster", metavar="NAME", help="Cluster of the profile file to use.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the harness's configs and logs here (default: a temporary dir).",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for slurmctld and for each node.",
)
@_guard
def check_command(
    stream_file: str | None,
    chart: str | None,
    values: tuple[str, ...],
    set_values: tuple[str, ...],
    release: str,
    namespace: str | None,
    config: str | None,
    cluster: str | None,
    fmt: str,
    workdir: str | None,
    timeout: float,
) -> None:
    """Try the profiles on a real local Slurm; exit 1 on any problem.

    Post-renders STREAM (helm template output, - for stdin) or --chart with -f/--set,
    builds slurm.conf and gres.conf as the Slinky operator would, starts munged,
    slurmctld and one slurmd per NodeSet on 127.0.0.x (needs root and Debian's
    slurmctld, slurmd, slurm-client and munge), prints the partitions and nodes,
    runs a job per partition and a GRES job per GPU partition, then stops them.
    """
    import tempfile

    from postrender.render import render_chart
    from postrender.run import load_profile_option
    from postrender.stream import decode
    from postrender.verify import emit

    profile = load_profile_option(config, cluster)
    if profile is None:
        raise click.UsageError("no profile: pass --config FILE or set SLINKY_PR_CONFIG")
    if chart and stream_file:
        raise click.UsageError("give STREAM or --chart, not both")
    if chart:
        text = render_chart(chart, list(values), list(set_values), release, namespace)
    else:
        with click.open_file(stream_file or "-", "rb") as handle:
            text = decode(handle.read())
    try:
        if workdir:
            report = local_check(text, profile, Path(workdir), timeout)
        else:
            with tempfile.TemporaryDirectory(prefix="slinky-slurm-check-") as tmp:
                report = local_check(text, profile, Path(tmp), timeout)
    except SlurmUnavailable as exc:
        click.echo(f"cannot run the local Slurm check: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    emit(report, fmt)
