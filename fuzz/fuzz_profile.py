"""Coverage-guided fuzzing of the profile loader (atheris / libFuzzer).

    python fuzz/fuzz_profile.py -max_total_time=60

Contract checked for any text: ``parse_profile`` returns a Profile or raises SlinkyError
with the profile exit code. Anything else (or a hang past the timeout) is a crash:
libFuzzer saves the input as ``crash-<sha1>``/``timeout-<sha1>`` in the current directory.
Replay one with ``python fuzz/fuzz_profile.py crash-<sha1>``.
"""

from __future__ import annotations

from pathlib import Path

import atheris
from _harness import ROOT, libfuzzer_args

with atheris.instrument_imports():
    import yaml  # noqa: F401  (instrumented: the pure-Python parser reads profiles)

    from postrender.errors import EXIT_PROFILE, SlinkyError
    from postrender.model.profiles import parse_profile

INLINE_SEEDS = [
    b"clusters:\n  - name: c\n    partitions:\n      - name: p\n        gres: gpu:8\n",
    b"clusters: [{name: a, partitions: []}, {name: b, partitions: [{name: x, nodes: 2}]}]\n",
    b"x: &a [1, 2]\nclusters: [{name: c, partitions: [{name: p, features: *a}]}]\n",
    b"clusters:\n- name: c\n  partitions:\n  - name: p\n"
    b"    options: {MaxTime: 30:00, Default: YES}\n",
]


def seeds() -> list[Path]:
    return [
        ROOT / "testdata" / "examples" / "profiles.yaml",
        *sorted((ROOT / "testdata" / "golden").glob("*/profiles.yaml")),
    ]


def test_one_input(data: bytes) -> None:
    # Bytes as the file would be read (so seeds stay meaningful); the cluster choice
    # varies with the input without consuming any of it.
    text = data.decode("utf-8", errors="replace")
    cluster = [None, "slinky-cluster", "c"][len(data) % 3]
    try:
        parse_profile(text, "fuzz.yaml", cluster)
    except SlinkyError as exc:
        assert exc.exit_code == EXIT_PROFILE, exc.format()
        exc.format()  # formatting must not fail either


def main() -> None:
    atheris.Setup(libfuzzer_args(seeds(), INLINE_SEEDS), test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
