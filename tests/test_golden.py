"""Golden tooling: check catches real differences, update fixes them, masks hide only noise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from postrender.golden import cases as golden

ROOT = Path(__file__).parent.parent
GOLDEN = ROOT / "testdata" / "golden"
UPSTREAM = ROOT / "testdata" / "upstream" / "rendered"


def make_case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    case.mkdir()
    shutil.copy(UPSTREAM / "slurm-1.3.0-rc1_gpu-cpu.yaml", case / "input.yaml")
    shutil.copy(ROOT / "testdata" / "examples" / "profiles.yaml", case / "profiles.yaml")
    (case / golden.CASE_FILE).write_text("input: input.yaml\nprofiles: profiles.yaml\n")
    return case


def test_check_fails_on_a_real_difference_and_passes_after_update(tmp_path: Path) -> None:
    case_dir = make_case(tmp_path)
    case = golden.Case.load(case_dir)
    assert not golden.check(case).ok  # no expectation yet
    assert golden.update(case) is True
    assert golden.check(case).ok
    profiles = case_dir / "profiles.yaml"
    profiles.write_text(profiles.read_text().replace("PriorityTier: 10", "PriorityTier: 11"))
    verdict = golden.check(case)
    assert not verdict.ok
    assert "=== Controller/slinky-slurm" in verdict.diff
    assert "-    PartitionName=gpu-partition" in verdict.diff and "PriorityTier=11" in verdict.diff
    assert golden.update(case) is True
    assert golden.update(case) is False
    assert golden.check(case).ok


def test_a_case_that_starts_failing_is_reported(tmp_path: Path) -> None:
    case_dir = make_case(tmp_path)
    case = golden.Case.load(case_dir)
    golden.update(case)
    (case_dir / "profiles.yaml").write_text("clusters: []\n")
    verdict = golden.check(case)
    assert not verdict.ok and "it now fails" in verdict.diff


def test_masking_hides_random_secrets_and_nothing_else(tmp_path: Path) -> None:
    text = (UPSTREAM / "slurm-1.3.0-rc1_gpu-cpu.yaml").read_text()
    other_render = text.replace("jwt.key: JEV6", "jwt.key: XXXX")
    masks = list(golden.DEFAULT_MASKS)
    assert golden.normalize(text, masks) == golden.normalize(other_render, masks)
    assert "slurm.key: <masked>" in golden.normalize(text, masks)
    changed_image = text.replace("slurmrestd:26.05", "slurmrestd:26.06")
    assert golden.normalize(text, masks) != golden.normalize(changed_image, masks)


def test_helm3_and_helm4_inputs_give_the_same_expectation() -> None:
    for version in ("1.0.1", "1.3.0-rc1"):
        helm3 = (GOLDEN / f"chart-{version}-helm3" / "expected.yaml").read_text()
        helm4 = (GOLDEN / f"chart-{version}-helm4" / "expected.yaml").read_text()
        assert helm3 == helm4


def test_deterministic_across_runs() -> None:
    case = golden.Case.load(GOLDEN / "chart-1.3.0-rc1-helm3")
    assert golden.outcome(case) == golden.outcome(case)


def test_cli_check_and_update(tmp_path: Path) -> None:
    case_dir = make_case(tmp_path)
    slinky = [sys.executable, "-c", "from postrender.cli.slinky import slinky_main; slinky_main()"]
    check = subprocess.run(
        [*slinky, "golden", "check", str(tmp_path)], capture_output=True, text=True
    )
    assert check.returncode == 1 and "0 passed, 1 failed" in check.stdout
    update = subprocess.run(
        [*slinky, "golden", "update", str(tmp_path)], capture_output=True, text=True
    )
    assert update.returncode == 0 and "updated" in update.stdout
    check = subprocess.run(
        [*slinky, "golden", "check", str(tmp_path)], capture_output=True, text=True
    )
    assert check.returncode == 0 and "1 passed, 0 failed" in check.stdout
    assert (case_dir / golden.EXPECTED).exists()


def test_pytest_plugin_collects_cases_and_updates(tmp_path: Path) -> None:
    make_case(tmp_path)
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    first = subprocess.run(pytest_cmd, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 1 and "golden case" in first.stdout
    updated = subprocess.run(
        [*pytest_cmd, "--update-golden"], capture_output=True, text=True, cwd=tmp_path
    )
    assert updated.returncode == 0, updated.stdout
    again = subprocess.run(pytest_cmd, capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0 and "1 passed" in again.stdout
