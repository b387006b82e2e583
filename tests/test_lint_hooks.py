"""The pre-commit hooks this repository ships, run as pre-commit runs them: the hook's
``entry`` and ``args`` from ``.pre-commit-hooks.yaml``, no stdin (git hooks get none)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"


def run_hook(hook_id: str, extra: list[str] | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook: dict[str, Any] = next(h for h in hooks if h["id"] == hook_id)
    command = shlex.split(hook["entry"])
    args = hook.get("args", []) if extra is None else extra  # a user's args replace them
    env = {k: v for k, v in os.environ.items() if k not in ("SLINKY_PR_CONFIG", "HELM_BIN")}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"])
    return subprocess.run(
        [VENV_BIN / command[0], *command[1:], *args],
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_lint_hook_with_shipped_defaults_fails_saying_what_to_configure(tmp_path: Path) -> None:
    done = run_hook("slinky-lint", None, tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "nothing to lint" in done.stderr
    assert "pre-commit: args: [--config, profiles.yaml, --chart, ., -f, values.yaml]" in done.stderr


def test_lint_hook_configured_as_documented_renders_and_lints_the_chart() -> None:
    args = ["--config", str(PROFILES), "--chart", ".", "-f", "values.yaml", "--format", "json"]
    done = run_hook("slinky-lint", args, CHART)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["post_rendered"]
    sources = {f["source"] for f in report["findings"]}
    assert sources and all(s.startswith("slurm/templates/") for s in sources)
