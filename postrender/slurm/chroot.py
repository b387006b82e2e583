"""The Debian sid chroot the real-Slurm harness runs Slurm 26.05 in, and how a process enters it.

``postrender/data/slurm-chroot.sh`` builds the chroot (debootstrap, Slurm 26.05, munge,
MariaDB) into a cache keyed by ``slurm-chroot.packages``; :func:`chroot_root` finds it by
the same key. Every daemon and client of a harness run enters it through :func:`entering`:
a private mount and UTS namespace in which the run's work dir is bound at ``/slinky`` (its
config dir also at /etc/slurm), the run's ``hosts``, ``passwd`` and ``group`` over the
chroot's, ``proc`` mounted and, for a node, its fake GPUs presented the way the NVIDIA
driver presents them (``/proc/driver/nvidia/gpus/<bus>/information``, ``/dev/nvidia<minor>``,
``/sys/bus/pci/drivers/nvidia/<bus>/local_cpulist``), and ``/run`` and ``/var/spool`` empty
and private. The mounts exist only in that
process's namespace, so they are gone when its last process is, whatever ends it; the
shared chroot is never written to.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
PACKAGES = DATA / "slurm-chroot.packages"
BUILD_SCRIPT = DATA / "slurm-chroot.sh"
#: Where the run's work dir appears inside the chroot.
MOUNT_POINT = "/slinky"
#: Files of the chroot's /etc each run replaces with its own (they live in <workdir>/os).
OVERLAID_ETC = ("hosts", "passwd", "group")
#: Dirs of the chroot each process gets empty and private (a tmpfs of its own).
PRIVATE_DIRS = ("/run", "/var/spool")

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
# Character device numbers of the NVIDIA driver (/dev/nvidia<minor>) and of /dev basics.
_NVIDIA_MAJOR = 195
_DEV_NODES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}


def cache_dir() -> Path:
    """The chroot cache, outside any repository so fresh clones reuse it."""
    configured = os.environ.get("SLINKY_SLURM_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "slinky-pr" / "slurm"


def chroot_root() -> Path:
    """Where the build script puts the chroot for the current package list."""
    key = hashlib.sha256(PACKAGES.read_bytes()).hexdigest()[:16]
    return cache_dir() / f"sid-{key}"


def unavailable_reason() -> str | None:
    """Why the harness cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the Slurm harness must run as root (chroot, namespaces, slurmd launches jobs)"
    root = chroot_root()
    if not (root / "usr" / "sbin" / "slurmctld").exists():
        return f"no Slurm 26.05 chroot at {root} (build it: sudo sh {BUILD_SCRIPT})"
    try:
        _libc()
    except OSError as exc:
        return f"cannot load libc for namespaces: {exc}"
    return None


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    """libc, loaded once in the parent so the forked child only makes calls."""
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


@dataclass(frozen=True)
class Gpu:
    """One fake NVIDIA GPU: the model string the driver reports, its minor and PCI bus."""

    model: str
    minor: int

    @property
    def bus(self) -> str:
        return f"0000:{0x10 + self.minor:02x}:00.0"


def make_node_dir(directory: Path, gpus: Sequence[Gpu], cpulist: str) -> None:
    """Lay out what a node's NVIDIA driver would show, to be bound into the chroot.

    ``driver/`` goes over ``/proc/driver``, ``dev/`` over ``/dev`` and ``drivers/`` over
    ``/sys/bus/pci/drivers``. Without ``local_cpulist`` a GPU has no core affinity and
    slurmctld refuses every ``--gres`` job.
    """
    dev = directory / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    nodes = {name: (major, minor) for name, (major, minor) in _DEV_NODES.items()}
    nodes.update({f"nvidia{g.minor}": (_NVIDIA_MAJOR, g.minor) for g in gpus})
    for name, (major, minor) in nodes.items():
        path = dev / name
        if not path.exists():
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
    (directory / "driver").mkdir(exist_ok=True)
    (directory / "drivers").mkdir(exist_ok=True)
    for gpu in gpus:
        info = directory / "driver" / "nvidia" / "gpus" / gpu.bus
        info.mkdir(parents=True, exist_ok=True)
        (info / "information").write_text(
            f"Model: \t\t {gpu.model}\nIRQ:   \t\t {100 + gpu.minor}\n"
            f"GPU UUID: \t GPU-00000000-0000-0000-0000-{gpu.minor:012x}\n"
            f"Bus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\n"
            f"Bus Location: \t {gpu.bus}\nDevice Minor: \t {gpu.minor}\nGPU Excluded:\t No\n"
        )
        pci = directory / "drivers" / "nvidia" / gpu.bus
        pci.mkdir(parents=True, exist_ok=True)
        (pci / "local_cpulist").write_text(cpulist + "\n")


@dataclass(frozen=True)
class View:
    """What one process of a run sees: the chroot, the run's work dir, maybe a node's GPUs."""

    root: Path
    workdir: Path
    hostname: str | None = None
    node_dir: Path | None = None
    user: tuple[int, int] | None = None


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enter(view: View) -> None:
    """Namespaces, mounts, chroot and user of ``view``, for the calling process."""
    libc = _libc()
    flags = _CLONE_NEWNS | (_CLONE_NEWUTS if view.hostname else 0)
    _check(libc.unshare(flags), "unshare")
    # Nothing mounted from here on may reach the host's mount table.
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")

    root = str(view.root)

    def bind(source: str, target: str, extra: int = 0) -> None:
        _check(
            libc.mount(source.encode(), f"{root}{target}".encode(), None, _MS_BIND | extra, None),
            f"bind {source} on {target}",
        )

    bind(str(view.workdir), MOUNT_POINT)
    # The run's config dir where a pod mounts its own: a configless slurmd (no slurm.conf
    # yet) finds the auth/slurm key there.
    bind(f"{view.workdir}/etc", "/etc/slurm")
    for name in OVERLAID_ETC:
        bind(f"{view.workdir}/os/{name}", f"/etc/{name}")
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    _check(libc.mount(b"proc", f"{root}/proc".encode(), b"proc", flags, None), "mount proc")
    # What daemons write at their default paths (a configless slurmd's /run/slurm/conf,
    # slurmctld's /run/slurmctld, spool dirs) stays in this view, as in its own pod.
    for private in PRIVATE_DIRS:
        _check(
            libc.mount(b"tmpfs", f"{root}{private}".encode(), b"tmpfs", _MS_NOSUID, b"mode=0755"),
            f"mount tmpfs on {private}",
        )
    # Except slurmctld's socket dir, shared by the run: auth/slurm clients get their
    # tokens from its sack.socket (where a login pod would ask its sackd).
    os.mkdir(f"{root}/run/slurmctld")
    bind(f"{view.workdir}/run-slurmctld", "/run/slurmctld")
    bind("/sys", "/sys")
    if view.node_dir is not None:
        bind(f"{view.node_dir}/driver", "/proc/driver")
        bind(f"{view.node_dir}/dev", "/dev")
        bind(f"{view.node_dir}/drivers", "/sys/bus/pci/drivers")
    if view.hostname:
        raw = view.hostname.encode()
        _check(libc.sethostname(raw, len(raw)), "sethostname")
    os.chroot(root)
    os.chdir("/")
    if view.user is not None:
        os.setgroups([])
        os.setgid(view.user[1])
        os.setuid(view.user[0])


def entering(view: View) -> Callable[[], None]:
    """A ``preexec_fn`` that puts the child into ``view`` before it runs the program."""
    _libc()

    def setup() -> None:
        _enter(view)

    return setup


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m postrender.slurm.chroot ROOT WORKDIR CMD...``: run a client in a run's view.

    What :meth:`SlurmCluster.client_command` hands to tools that take an argv prefix.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3:
        sys.exit("usage: python -m postrender.slurm.chroot ROOT WORKDIR COMMAND [ARG...]")
    root, workdir, command = Path(args[0]), Path(args[1]), args[2:]
    _enter(View(root, workdir, hostname="localhost"))
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "SLURM_CONF": f"{MOUNT_POINT}/etc/slurm.conf",
    }
    os.execve(command[0] if "/" in command[0] else f"/usr/bin/{command[0]}", command, env)


if __name__ == "__main__":
    main()
