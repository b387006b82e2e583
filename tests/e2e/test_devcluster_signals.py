"""tools/e2e/devcluster.py stops every process it started when `up` is interrupted by
SIGTERM or Ctrl-C (SIGINT) half-way, by the PIDs it recorded, and says so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import devcluster
import host
import pytest
from e2e_stack import need_binaries

SCRIPT = Path(devcluster.__file__)


def recorded(state: Path) -> list[dict[str, Any]]:
    try:
        procs: list[dict[str, Any]] = json.loads(state.read_text())["procs"]
    except (OSError, ValueError):
        return []
    return procs


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 128 + 15), (signal.SIGINT, 130)])
def test_signal_during_up_stops_what_was_started(
    signum: signal.Signals, code: int, tmp_path: Path
) -> None:
    need_binaries("etcd", "kube-apiserver", "kubectl")
    up = subprocess.Popen(
        [sys.executable, SCRIPT, "up", "--dir", tmp_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(recorded(tmp_path / "state.json")) < 2:  # etcd and kube-apiserver
            assert up.poll() is None and time.monotonic() < deadline, up.stderr
            time.sleep(0.02)
        started = recorded(tmp_path / "state.json")
        up.send_signal(signum)
        out, err = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == code, err
    assert out == ""
    assert "Traceback" not in err
    for proc in started:
        assert host.start_time(proc["pid"]) != proc["start"], proc["name"]
    assert recorded(tmp_path / "state.json") == []
