"""The files a harness run writes under its work dir: slurm.conf's general settings,
slurmdbd.conf, the run's hosts/passwd/group, and the model of each node's fake GPUs.

The daemons see the work dir at :data:`postrender.slurm.chroot.MOUNT_POINT`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from postrender.slurm.assemble import NodeSetConf
from postrender.slurm.chroot import DATA, MOUNT_POINT

#: The model a GPU gets when neither the node's instance type nor its GRES type names one.
DEFAULT_GPU_MODEL = "NVIDIA A100-SXM4-40GB"

_GPU_MODELS: dict[str, dict[str, str]] | None = None


def inside(*parts: str) -> str:
    """A path of the work dir as the daemons see it."""
    return "/".join([MOUNT_POINT, *parts])


def gpu_model(nodeset: NodeSetConf) -> str:
    """The model string the NVIDIA driver would report on this NodeSet's nodes.

    From the instance type among the node's features (slinky-pr adds it), else the GPU
    type of ``Gres=`` (a Karpenter gpu-name), else :data:`DEFAULT_GPU_MODEL`.
    """
    global _GPU_MODELS
    if _GPU_MODELS is None:
        _GPU_MODELS = json.loads((DATA / "gpu-models.json").read_text())
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


def general_settings(
    cluster_name: str,
    *,
    ctld_port: int,
    node_count: int,
    debug: str,
    dbd_port: int | None,
) -> list[tuple[str, str]]:
    """What the operator writes before NodeSets, pointed at the work dir and loopback.

    ``dbd_port`` is slurmdbd's port for a release with accounting, None without.
    """
    w = inside
    settings = [
        ("ClusterName", cluster_name),
        # "localhost" is replaced by the short hostname, so slurmctld knows it is the
        # controller wherever it runs; clients use the address in parentheses.
        ("SlurmctldHost", "localhost(127.0.0.1)"),
        ("SlurmctldPort", str(ctld_port)),
        ("SlurmUser", "root"),
        ("SlurmdUser", "root"),
        ("StateSaveLocation", w("state")),
        ("SlurmdSpoolDir", w("spool", "%n")),
        ("SlurmctldPidFile", w("run", "slurmctld.pid")),
        ("SlurmdPidFile", w("run", "slurmd-%n.pid")),
        ("SlurmctldLogFile", w("log", "slurmctld.log")),
        ("SlurmdLogFile", w("log", "slurmd-%n.log")),
        ("SlurmctldDebug", debug),
        ("SlurmdDebug", debug),
        # Dynamic nodes need a node table size and cons_tres.
        ("MaxNodeCount", str(max(64, 2 * node_count))),
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
    if dbd_port is not None:
        settings += [
            ("AccountingStorageHost", "127.0.0.1"),
            ("AccountingStoragePort", str(dbd_port)),
            # The munge socket for slurmdbd traffic (the default one otherwise).
            ("AccountingStoragePass", w("munge", "munge.socket")),
        ]
    return settings


def dbd_conf(*, dbd_port: int, db_port: int, debug: str) -> str:
    """slurmdbd.conf for MariaDB on ``db_port`` and slurmdbd on ``dbd_port``."""
    w = inside
    return (
        "AuthType=auth/munge\n"
        f"AuthInfo=socket={w('munge', 'munge.socket')}\n"
        "DbdHost=localhost\nDbdAddr=127.0.0.1\n"
        f"DbdPort={dbd_port}\nSlurmUser=root\n"
        "StorageType=accounting_storage/mysql\n"
        # "localhost" would mean the socket path the client library was built with.
        f"StorageHost=127.0.0.1\nStoragePort={db_port}\nStorageUser=root\n"
        f"LogFile={w('log', 'slurmdbd.log')}\nPidFile={w('run', 'slurmdbd.pid')}\n"
        f"DebugLevel={debug}\n"
    )


def write_os_files(
    os_dir: Path, chroot: Path, node_names: Sequence[str], slurm_conf: str
) -> dict[str, tuple[int, int]]:
    """The run's /etc/hosts, passwd and group (bound over the chroot's); returns the users.

    Every group an ``AllowGroups`` of ``slurm_conf`` names exists, with one member user of
    the same name, so a partition's groups can be tried from inside and outside.
    """
    (os_dir / "hosts").write_text(f"127.0.0.1 {' '.join(['localhost', *node_names])}\n")
    passwd = (chroot / "etc" / "passwd").read_text()
    group = (chroot / "etc" / "group").read_text()
    users: dict[str, tuple[int, int]] = {}
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) > 3:
            users[fields[0]] = (int(fields[2]), int(fields[3]))
    existing = {line.split(":")[0] for line in group.splitlines()}
    wanted = sorted(set(_allow_groups(slurm_conf)) - existing)
    for index, name in enumerate(wanted):
        ident = 3000 + index
        passwd += f"{name}:x:{ident}:{ident}::/:/bin/sh\n"
        group += f"{name}:x:{ident}:{name}\n"
        users[name] = (ident, ident)
    (os_dir / "passwd").write_text(passwd)
    (os_dir / "group").write_text(group)
    return users


def _allow_groups(conf: str) -> list[str]:
    """Group names the ``AllowGroups=`` of a slurm.conf name (``ALL`` is none)."""
    names = []
    for match in re.finditer(r"(?i)(?:^|\s)AllowGroups=(\S+)", conf):
        names += [g for g in match.group(1).split(",") if g and g.upper() != "ALL"]
    return names
