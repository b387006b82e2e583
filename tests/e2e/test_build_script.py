"""tools/e2e/build.sh with nothing changed rebuilds nothing, quickly (docs/e2e.md), and the
binaries are the ones the suite's conventions name, one manager and webhook per operator pin."""

from __future__ import annotations

import subprocess
import time

import pins
from e2e_stack import ROOT, need_binaries

NAMES = [
    "helm4", "helm3", "etcd", "kube-apiserver", "kubectl", "umoci", "crane",
    *(name for v in pins.operator_versions() for name in pins.operator_binaries(v)),
]  # fmt: skip


def test_rebuild_with_nothing_changed_is_a_no_op() -> None:
    need_binaries(*NAMES)
    started = time.monotonic()
    done = subprocess.run(
        [ROOT / "tools" / "e2e" / "build.sh"], capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    up_to_date = [line.split()[2] for line in done.stdout.splitlines() if "up to date" in line]
    assert sorted(up_to_date) == sorted(NAMES)
    assert elapsed < 10, f"{elapsed:.1f} s"
