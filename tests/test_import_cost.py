"""What ``slinky-pr`` imports on the post-render path: the reason for the house's plain style.

Helm runs the post-renderer on every ``helm template``/``install``/``upgrade``, and a
typical release post-renders in well under 100 ms, so an import is a visible share of it.
Measured on a developer machine, these imports cost:

- ``jsonschema_rs`` ~28 ms (decimal, email.utils, socket...): the quick schema check
  (``postrender.validate.schemacheck``) says "certainly valid" instead, and jsonschema_rs
  is imported only for a document it is unsure of, to decide and word the message;
- ``yaml`` ~30 ms (PyYAML compiles its patterns at import): ``postrender.yaml.fast_reader``
  and ``fast_writer`` handle the YAML Helm renders, PyYAML the rest;
- ``dataclasses`` ~17 ms: post-render modules use plain classes with ``__slots__``;
- ``typing`` ~7 ms: they write ``TYPE_CHECKING = False`` and import typing's names under
  ``if TYPE_CHECKING:``; mypy and ruff treat any constant of that name as typing's;
- ``pathlib`` ~7 ms and ``importlib.resources`` ~9 ms: paths are plain strings there
  (``os.path``), data files are found beside the package (``postrender.resources``);
- ``celpy`` (cel-python) ~300-600 ms: the CRDs' CEL rules are answered by
  ``postrender.validate.cel_quick``, cel-python only when it is unsure.

Modules off that path (lint, export, the Slurm harness, the commands other than
``slinky-pr``) use dataclasses, typing and pathlib freely. The tests below pin the list on a
typical release, and hold the fallbacks to really load when they are needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
SAMPLE = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.3.0-rc1_gpu-cpu.yaml"

# Imports a typical post-render must not pay for (the list above).
_HEAVY = (
    "jsonschema_rs",
    "yaml",
    "dataclasses",
    "typing",
    "pathlib",
    "importlib.resources",
    "celpy",
)


def _post_render_in_subprocess(release: bytes) -> tuple[int, list[str]]:
    """Exit status of a post-render in a fresh interpreter, and which of _HEAVY it imported."""
    code = (
        "import sys\n"
        "from postrender.cli.slinky_pr import main\n"
        f"status = main(['--config', {str(PROFILES)!r}])\n"
        f"print(status, *[m for m in {_HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLINKY_PR_", "HELM_"))}
    # Without site (-S): an editable install's import hook loads pathlib at start-up, which
    # a user's regular install does not; the same paths, this checkout's sources first.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *(p for p in sys.path if p)])
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], input=release, capture_output=True, env=env, check=False
    )
    status, *loaded = done.stderr.decode().splitlines()[-1].split()
    return int(status), loaded


def test_post_render_of_a_typical_release_imports_nothing_heavy() -> None:
    assert _post_render_in_subprocess(SAMPLE.read_bytes()) == (0, [])


def test_an_invalid_release_still_gets_jsonschema_rs_messages() -> None:
    # The control for the test above: an invalid document does load it.
    broken = SAMPLE.read_bytes().replace(b"\n  replicas: ", b"\n  replicaz: ", 1)
    assert broken != SAMPLE.read_bytes()
    status, loaded = _post_render_in_subprocess(broken)
    assert status != 0 and "jsonschema_rs" in loaded


def test_a_cel_rule_outside_the_quick_subset_loads_cel_python() -> None:
    # The control for celpy: a ScheduledUpdate without scheduledUpdate makes the NodeSet
    # rule read a missing field, an error celquick leaves to cel-python (which refuses it).
    old = b"    scheduledUpdate: {}\n    type: RollingUpdate\n"
    assert old in SAMPLE.read_bytes()
    broken = SAMPLE.read_bytes().replace(old, b"    type: ScheduledUpdate\n", 1)
    status, loaded = _post_render_in_subprocess(broken)
    assert status != 0 and "celpy" in loaded
