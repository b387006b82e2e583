"""The end-to-end stack's pins (versions.env) and where tools/e2e/build.sh puts what it
builds: the operator versions under test, their binaries, their Go modules."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("SLINKY_E2E_CACHE") or Path.home() / ".cache" / "slinky-pr" / "e2e")
BIN = CACHE / "bin"


class ClusterError(Exception):
    """A step of ``up`` or ``down`` failed; the message says which and where the log is."""


def pins() -> dict[str, str]:
    """versions.env as a dict (KEY=VALUE lines, # comments)."""
    out = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def operator_versions() -> list[str]:
    """Every operator pin of versions.env, the default first."""
    p = pins()
    extra = [v for v in p.get("SLURM_OPERATOR_REPLACED_VERSIONS", "").split(",") if v]
    return [p["SLURM_OPERATOR_VERSION"], *extra]


def operator_version() -> str:
    """The operator (and chart) under test: $SLINKY_E2E_OPERATOR, else the default pin."""
    versions = operator_versions()
    version = os.environ.get("SLINKY_E2E_OPERATOR") or versions[0]
    if version not in versions:
        raise ClusterError(f"SLINKY_E2E_OPERATOR={version}: not one of {', '.join(versions)}")
    return version


def operator_binaries(version: str) -> tuple[str, str]:
    """The manager's and webhook server's names in BIN (tools/e2e/build.sh)."""
    if version == operator_versions()[0]:
        return "slurm-operator", "slurm-operator-webhook"
    return f"slurm-operator-{version}", f"slurm-operator-webhook-{version}"


def operator_module(version: str | None = None) -> Path:
    """The slurm-operator module under test (or the given version), in the Go module cache
    (downloaded from the module proxy if absent): its helm/slurm chart, CRDs and webhook
    manifests."""
    p = pins()
    version = version or operator_version()
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"{p['SLURM_OPERATOR_MODULE']}@{version}"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Dir" not in info:
        raise ClusterError(f"go mod download slurm-operator@{version}: {info or done.stderr}")
    return Path(info["Dir"])


def binary(name: str) -> Path:
    path = BIN / name
    if not os.access(path, os.X_OK):
        raise ClusterError(f"{path} is missing: run tools/e2e/build.sh")
    return path
