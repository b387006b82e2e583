"""One Helm CLI installation for the tests (Helm 3 or 4): its own config, data, cache and
plugin directories, nothing of the caller's Helm or slinky-pr settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
#: A profile whose gres is not a count: slinky-pr must refuse it (line 5).
BROKEN_PROFILE = """\
clusters:
  - name: c
    partitions:
      - name: gpu-partition
        gres: gpu:eight
"""
# Settings of the caller's that would change what the CLI under test does.
_CLEARED = ("SLINKY_PR_CONFIG", "HELM_BIN", "HELM_NAMESPACE", "VIRTUAL_ENV", "NO_COLOR")


class HelmCli:
    """``helm(*args)`` runs the binary under ``home``. PATH holds the test virtualenv's
    commands (slinky-pr, slinky) with ``slinky_on_path``, else only the system directories.
    Plugins live in ``$HELM_DATA_HOME/plugins``: Helm 4.3 installs local plugins there
    whatever HELM_PLUGINS says and loads them from HELM_PLUGINS, so the two are equal."""

    def __init__(
        self,
        binary: Path,
        home: Path,
        *,
        slinky_on_path: bool = True,
        kubeconfig: Path | None = None,
    ) -> None:
        self.binary = binary
        self.plugins = home / "data" / "plugins"
        path = [str(VENV_BIN)] if slinky_on_path else []
        self.env = {
            **os.environ,
            "PATH": os.pathsep.join([*path, "/usr/bin", "/bin"]),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_PLUGINS": str(self.plugins),
        }
        if kubeconfig is not None:
            self.env["KUBECONFIG"] = str(kubeconfig)
        for name in _CLEARED:
            self.env.pop(name, None)

    def __call__(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, *map(str, args)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, f"helm {args}: {done.stderr}"
        return done
