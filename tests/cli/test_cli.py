"""The command-line contract: stdout only on success, exit codes, log file, env config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
RELEASE = ROOT / "testdata" / "examples" / "release.yaml"


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLINKY_PR_", "HELM_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "postrender", *args],
        input=stdin if stdin is not None else RELEASE.read_bytes(),
        capture_output=True,
        env=full_env,
        check=False,
    )


def test_success_writes_the_stream_and_nothing_else() -> None:
    done = run("--config", str(PROFILES))
    assert done.returncode == 0
    assert b"Gres=gpu:a100:8" in done.stdout
    assert done.stderr == b""


def test_config_from_environment() -> None:
    done = run(env={"SLINKY_PR_CONFIG": str(PROFILES)})
    assert done.returncode == 0 and b"GresTypes=gpu" in done.stdout


def test_verbose_lists_changes_and_notes_on_stderr() -> None:
    done = run("--config", str(PROFILES), "-v")
    assert b"/spec/slurmd/resources/limits/nvidia.com~1gpu" in done.stderr
    assert b"note: " in done.stderr
    assert done.stdout == run("--config", str(PROFILES)).stdout


@pytest.mark.parametrize(
    ("args", "stdin", "code", "needle"),
    [
        ([], None, 5, b"no profile was given"),
        (["--config", "/nonexistent.yaml"], None, 4, b"cannot read profile"),
        (["--config", str(PROFILES)], b"kind: [\n", 3, b"invalid YAML at line 2"),
        (["--config", str(PROFILES), "--max-input-bytes", "10"], None, 3, b"over the limit"),
    ],
    ids=["no-profile", "missing-profile", "bad-yaml", "size-cap"],
)
def test_errors_write_nothing_to_stdout(
    args: list[str], stdin: bytes | None, code: int, needle: bytes
) -> None:
    done = run(*args, stdin=stdin)
    assert done.returncode == code
    assert done.stdout == b""
    assert needle in done.stderr


def test_log_file_gets_the_error_owner_only(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "pr.log"
    done = run("--log-file", str(log))
    assert done.returncode == 5
    assert "no profile was given" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600
    assert str(log).encode() in done.stderr


def test_log_defaults_to_state_dir_under_helm(tmp_path: Path) -> None:
    done = run(env={"HELM_PLUGIN_NAME": "slinky-pr", "XDG_STATE_HOME": str(tmp_path)})
    assert done.returncode == 5
    assert "no profile was given" in (tmp_path / "slinky-pr" / "slinky-pr.log").read_text()


def test_internal_error_exits_70_with_traceback_in_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    import io

    import postrender.pipeline
    from postrender.cli.slinky_pr import main

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(postrender.pipeline, "post_render", broken)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(RELEASE.read_bytes())))
    log = tmp_path / "pr.log"
    assert main(["--config", str(PROFILES), "--log-file", str(log)]) == 70
    assert capfdbinary.readouterr().out == b""
    assert "RuntimeError: boom" in log.read_text()


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--max-input-bytes", "0"], {}), ([], {"SLINKY_PR_MAX_INPUT_BYTES": "lots"})],
    ids=["option", "env"],
)
def test_bad_size_cap_is_a_usage_error(args: list[str], env: dict[str, str]) -> None:
    done = run("--config", str(PROFILES), *args, env=env)
    assert done.returncode == 2 and done.stdout == b""


def test_version_and_help() -> None:
    assert run("--version", stdin=b"").stdout.startswith(b"slinky-pr ")
    assert b"--max-input-bytes" in run("--help", stdin=b"").stdout
