"""`slinky render|lint` read `helm template`'s command line: which words are NAME and CHART,
and what the embedded engine (no Helm binary) can and cannot do."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from postrender.cli import slinky_main
from postrender.render import split_template_args

ROOT = Path(__file__).resolve().parent.parent
CHART = str(ROOT / "testdata" / "charts" / "slinky-fixture")
PROFILES = str(ROOT / "testdata" / "examples" / "profiles.yaml")


@pytest.mark.parametrize(
    ("args", "positionals"),
    [
        (["slinky", "c", "-f", "v.yaml", "--version", "1.0"], ["slinky", "c"]),
        (["--version=1.0", "c", "--include-crds"], ["c"]),
        (["-fv.yaml", "-n", "slurm", "c", "--dry-run"], ["c"]),
        (["c", "--", "--odd-name"], ["c", "--odd-name"]),
    ],
)
def test_positionals_are_name_and_chart(args: list[str], positionals: list[str]) -> None:
    assert split_template_args(args)[0] == positionals


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.delenv("HELM_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no helm: the embedded engine renders
    return CliRunner().invoke(slinky_main, list(args))


def test_embedded_engine_renders_name_and_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("helm_python")
    done = run(monkeypatch, "render", "demo", CHART, "-n", "slurm", "--config", PROFILES)
    assert done.exit_code == 0, done.output
    assert "name: demo-slurm-worker-gpu" in done.output


def test_embedded_engine_refuses_flags_only_helm_has(monkeypatch: pytest.MonkeyPatch) -> None:
    done = run(monkeypatch, "render", CHART, "--set-string", "a=b", "--config", PROFILES)
    assert done.exit_code == 3
    assert "--set-string need(s) Helm" in done.output


def test_lint_refuses_helm_flags_without_a_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    done = run(monkeypatch, "lint", "release.yaml", "-f", "values.yaml", "--config", PROFILES)
    assert done.exit_code == 2
    assert "-f: helm template flags need a CHART" in done.output
