"""`python -m build` makes an sdist and a wheel that install and run without a network:
the schemas and the instance catalogue travel inside. The version is written once, in
``postrender/__init__.py``; the plugin.yaml files, which Helm reads, must repeat it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from postrender import __version__

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
RELEASE = ROOT / "testdata" / "examples" / "release.yaml"
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "bench", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis", ".slurm-run",
)  # fmt: skip
OFFLINE = ["--no-index", "--no-deps", "--disable-pip-version-check", "--quiet"]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> str:
    done = subprocess.run(
        [*map(str, args)], cwd=cwd, env=env, input=stdin, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel of a copy of the repository, built with this environment's setuptools."""
    work = tmp_path_factory.mktemp("build")
    shutil.copytree(ROOT, work / "src", ignore=NOT_SOURCE)
    run(sys.executable, "-m", "build", "--no-isolation", "-o", work / "dist", ".", cwd=work / "src")
    return work / "dist"


@pytest.mark.parametrize("artifact", ["*.whl", "*.tar.gz"])
def test_built_package_installs_offline_and_post_renders(
    dist: Path, artifact: str, tmp_path: Path
) -> None:
    (package,) = dist.glob(artifact)
    target = tmp_path / "site"
    run(
        sys.executable, "-m", "pip", "install", *OFFLINE, "--no-build-isolation",
        "--target", target, package, cwd=tmp_path,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target)}  # before the editable install of the source
    where = run(
        sys.executable, "-c", "import postrender; print(postrender.__file__)", cwd=tmp_path, env=env
    )
    assert Path(where.strip()).is_relative_to(target)
    installed = run(
        sys.executable,
        "-m",
        "postrender",
        "--config",
        PROFILES,
        cwd=tmp_path,
        env=env,
        stdin=RELEASE.read_text(),
    )
    source = run(
        sys.executable,
        "-m",
        "postrender",
        "--config",
        PROFILES,
        cwd=ROOT,
        stdin=RELEASE.read_text(),
    )
    assert installed == source and "Gres=gpu:a100:8" in installed
    # the catalogue: an unknown instance type is named with its nearest real ones
    circulating = ROOT / "testdata" / "lint" / "circulating" / "profiles.yaml"
    lint = subprocess.run(
        [sys.executable, "-c", "from postrender.cli import slinky_main; slinky_main()", "lint",
         "--config", circulating, "--format", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert "did you mean p4d.24xlarge" in lint.stdout, lint.stderr


def test_the_version_is_written_once(dist: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert not re.search(r'^version\s*=\s*"', pyproject, re.M)  # a literal, not the attr
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        assert f"\nVersion: {__version__}\n" in archive.read(metadata).decode()
    for plugin in (ROOT / "plugin.yaml", ROOT / "plugins" / "slinky-pr" / "plugin.yaml"):
        assert yaml.safe_load(plugin.read_text())["version"] == __version__, plugin
