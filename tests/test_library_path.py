"""``SLINKY_PR_LIBRARY_PATH=1`` (postrender/switches.py): every fast path steps aside for the
library it is held to, and the post-renderer's bytes and messages stay the same.

The fast paths are booby-trapped while the switch is on, so a call that does not step
aside fails the test; every golden case that reads a rendered stream is run both ways.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest

from postrender import switches
from postrender.errors import SlinkyError
from postrender.golden import cases as golden
from postrender.model import profile_schema
from postrender.model.profiles import load_profile
from postrender.pipeline import post_render
from postrender.validate import cel_quick, schemas
from postrender.yaml import fast_reader, stream

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "testdata" / "golden"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
SAMPLE = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.3.0-rc1_gpu-cpu.yaml"
STREAM_CASES = sorted(
    d.name for d in GOLDEN.iterdir() if (d / golden.CASE_FILE).is_file() and "input:" in
    (d / golden.CASE_FILE).read_text()
)  # fmt: skip


def _trap(*_: Any, **__: Any) -> NoReturn:
    raise AssertionError("a fast path ran under SLINKY_PR_LIBRARY_PATH")


def _outcome(case: golden.Case) -> tuple[str, str]:
    """(output, error text) of the case's stream through the post-renderer, not normalized."""
    source = case.path("input")
    profiles = case.path("profiles")
    assert source is not None
    try:
        profile = load_profile(str(profiles), case.spec.get("cluster")) if profiles else None
        return post_render(source.read_text(), profile).output, ""
    except SlinkyError as exc:
        return "", str(exc)


def test_there_are_stream_cases() -> None:
    assert len(STREAM_CASES) >= 20, STREAM_CASES


@pytest.mark.parametrize("name", STREAM_CASES)
def test_library_path_gives_the_same_bytes_and_messages(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = golden.Case.load(GOLDEN / name)
    fast = _outcome(case)
    with monkeypatch.context() as patch:
        patch.setattr(switches, "LIBRARY_PATH", True)
        for module, attribute in FAST_PATHS:
            patch.setattr(module, attribute, _trap)
        library = _outcome(case)
    assert library == fast
    assert any(fast)


FAST_PATHS = [
    (fast_reader, "load"), (stream.WRITER, "document"), (cel_quick, "evaluate_tree"),
    (schemas, "quick_check"), (profile_schema, "quick_check"),
]  # fmt: skip


@pytest.mark.parametrize(("module", "attribute"), FAST_PATHS)
def test_each_trap_would_fire_without_the_switch(
    module: Any, attribute: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: with one fast path trapped but the switch off, the run hits the trap.
    monkeypatch.setattr(module, attribute, _trap)
    with pytest.raises(AssertionError, match="fast path"):
        post_render(SAMPLE.read_text(), load_profile(str(PROFILES)))


def _run(env_value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SLINKY_PR_LIBRARY_PATH"}
    if env_value is not None:
        env["SLINKY_PR_LIBRARY_PATH"] = env_value
    script = (
        "import sys\n"
        "from postrender.cli.slinky_pr import entry\n"
        "try:\n    entry()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        "print('\\nIMPORTED', 'yaml' in sys.modules, 'jsonschema_rs' in sys.modules, "
        "file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, "--config", str(PROFILES)],
        input=SAMPLE.read_text(), capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def test_the_switch_is_read_from_the_environment() -> None:
    plain, library, off = _run(None), _run("1"), _run("0")
    assert plain.returncode == library.returncode == off.returncode == 0, library.stderr
    assert library.stdout == plain.stdout == off.stdout
    # The libraries really ran: PyYAML and jsonschema_rs were loaded only under the switch.
    assert "IMPORTED True True" in library.stderr
    assert "IMPORTED False False" in plain.stderr
    assert "IMPORTED False False" in off.stderr
